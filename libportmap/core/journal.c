/*
 * The journal: one line per mapping this host holds, shared by every
 * process of the host. It lets `portmap-cli release` delete a PCP mapping
 * made by another process (PCP needs the nonce that created it) and lets a
 * later client find mappings whose owner died.
 *
 * Writers take an exclusive flock on "<dir>/journal.lock", read the file,
 * write "<dir>/journal.tmp" and rename() it over "<dir>/journal", so a
 * reader never sees a half-written file. The file is 0600: a nonce lets
 * its holder delete the mapping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/journal.h"
#include "sys/util.h"

#define MAX_ENTRIES 4096

char *pm_journal_default_dir(void)
{
    const char *env = getenv("PORTMAP_STATE_DIR");
    char buf[512];

    if (env && *env)
        return strdup(env);
    if (geteuid() == 0)
        return strdup("/run/portmap");
    env = getenv("XDG_RUNTIME_DIR");
    if (env && *env) {
        snprintf(buf, sizeof(buf), "%s/portmap", env);
        return strdup(buf);
    }
    snprintf(buf, sizeof(buf), "/tmp/portmap-%u", (unsigned)geteuid());
    return strdup(buf);
}

static int lock_dir(const char *dir)
{
    char path[600];
    int fd;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    snprintf(path, sizeof(path), "%s/journal.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    /* Holders keep the lock for one load and store; a second is plenty,
     * and a stuck holder must not stall the engine. */
    for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
        if (errno != EWOULDBLOCK || i >= 200) {
            close(fd);
            return -1;
        }
        usleep(5000);
    }
    return fd;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_decode(const char *in, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(in + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* An address with its zone as an interface index, which pm_addr_parse
 * reads back: the gateway of an IPv6 network is often fe80::1 on every
 * link. */
static void addr_text(const pm_addr *a, char *buf, size_t len)
{
    char t[INET6_ADDRSTRLEN];

    pm_addr_fmt(a, t, sizeof(t));
    if (a->scope)
        snprintf(buf, len, "%s%%%u", t, (unsigned)a->scope);
    else
        snprintf(buf, len, "%s", t);
}

static int parse_line(const char *line, pm_journal_entry *e)
{
    char gw[64], local[64], nonce[2 * PM_JOURNAL_NONCE_LEN + 1], allow[40] = "-", pinhole[8] = "-";
    unsigned method, proto, iport, eport;
    int n = sscanf(line, "v1 %u %u %u %u %63s %63s %24s %ld %llu %" SCNd64 " %39s %7s", &method,
                   &proto, &iport, &eport, gw, local, nonce, &e->pid, &e->start_time,
                   &e->expires_unix, allow, pinhole);

    /* fields came later: the remote restriction (11), the UPnP pinhole
     * id (12); older lines have fewer */
    if (n < 10)
        return -1;
    e->has_pinhole = strcmp(pinhole, "-") != 0;
    if (e->has_pinhole) {
        char *end;
        unsigned long id = strtoul(pinhole, &end, 10);
        if (*end || id > 65535)
            return -1;
        e->pinhole_id = (uint16_t)id;
    }
    if (pm_allow_parse(strcmp(allow, "-") ? allow : NULL, &e->allow_addr, &e->allow_prefix) != 0)
        return -1;
    if (method >= PORTMAP_METHOD_COUNT || iport > 65535 || eport > 65535 ||
        (proto != PORTMAP_TCP && proto != PORTMAP_UDP))
        return -1;
    e->method = (portmap_method)method;
    e->proto = (portmap_transport)proto;
    e->internal_port = (uint16_t)iport;
    e->external_port = (uint16_t)eport;
    if (pm_addr_parse(gw, &e->gateway) != 0 || pm_addr_parse(local, &e->local) != 0 ||
        e->gateway.family != e->local.family)
        return -1;
    return strlen(nonce) == 2 * PM_JOURNAL_NONCE_LEN ? hex_decode(nonce, e->nonce, PM_JOURNAL_NONCE_LEN) : -1;
}

static void format_line(FILE *f, const pm_journal_entry *e)
{
    char gw[PM_ADDR_TEXT], local[PM_ADDR_TEXT], nonce[2 * PM_JOURNAL_NONCE_LEN + 1];
    char allow[PORTMAP_ADDRSTRLEN + 4], pinhole[8] = "-";
    addr_text(&e->gateway, gw, sizeof(gw));
    addr_text(&e->local, local, sizeof(local));
    hex_encode(e->nonce, PM_JOURNAL_NONCE_LEN, nonce);
    pm_allow_str(e->allow_addr, e->allow_prefix, allow, sizeof(allow));
    if (e->has_pinhole)
        snprintf(pinhole, sizeof(pinhole), "%u", e->pinhole_id);
    fprintf(f, "v1 %u %u %u %u %s %s %s %ld %llu %" PRId64 " %s %s\n", (unsigned)e->method,
            (unsigned)e->proto, e->internal_port, e->external_port, gw, local, nonce, e->pid,
            e->start_time, e->expires_unix, allow[0] ? allow : "-", pinhole);
}

static size_t load(const char *dir, pm_journal_entry *out, size_t max)
{
    char path[600], line[512];
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/journal", dir);
    f = fopen(path, "re");
    if (!f)
        return 0;
    while (n < max && fgets(line, sizeof(line), f))
        if (parse_line(line, &out[n]) == 0)
            n++;
    fclose(f);
    return n;
}

static int store(const char *dir, const pm_journal_entry *e, size_t n)
{
    char path[600], tmp[600];
    int fd;
    FILE *f;

    snprintf(path, sizeof(path), "%s/journal", dir);
    snprintf(tmp, sizeof(tmp), "%s/journal.tmp", dir);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        format_line(f, &e[i]);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        return -1;
    }
    fclose(f);
    return rename(tmp, path);
}

static int same_key(const pm_journal_entry *e, portmap_transport proto, uint16_t port,
                    const pm_addr *local)
{
    return e->proto == proto && e->internal_port == port && pm_addr_eq(&e->local, local);
}

/* The start time of a process, so a recycled pid is not taken for ours. */
static unsigned long long proc_start_time(long pid)
{
    char path[64], buf[1024];
    unsigned long long start = 0;
    FILE *f;
    char *p;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f)) {
        fclose(f);
        return 0;
    }
    fclose(f);
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    /* field 22 (starttime) is the 20th after the ") " */
    p += 2;
    for (int i = 0; i < 19 && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (p)
        sscanf(p, "%llu", &start);
    return start;
}

/* The journal is shared state: each call locks, loads, edits, stores. */
static int edit(const char *dir, const pm_journal_entry *put, portmap_transport proto,
                uint16_t port, const pm_addr *local, long detach_pid)
{
    pm_journal_entry *all = calloc(MAX_ENTRIES + 1, sizeof(*all));
    int lock, rc = -1;
    size_t n, w = 0;

    if (!all)
        return -1;
    lock = lock_dir(dir);
    if (lock < 0)
        goto out;
    n = load(dir, all, MAX_ENTRIES);
    for (size_t i = 0; i < n; i++) {
        if (put && same_key(&all[i], put->proto, put->internal_port, &put->local))
            continue;
        if (!put && !detach_pid && same_key(&all[i], proto, port, local))
            continue;
        if (detach_pid && all[i].pid == detach_pid)
            all[i].pid = 0;
        all[w++] = all[i];
    }
    if (put) {
        all[w] = *put;
        all[w].start_time = proc_start_time(put->pid);
        w++;
    }
    rc = store(dir, all, w);
    close(lock);
out:
    free(all);
    return rc;
}

int pm_journal_put(const char *dir, const pm_journal_entry *e)
{
    return edit(dir, e, 0, 0, NULL, 0);
}

int pm_journal_remove(const char *dir, portmap_transport proto, uint16_t internal_port,
                      const pm_addr *local)
{
    return edit(dir, NULL, proto, internal_port, local, 0);
}

int pm_journal_detach_pid(const char *dir, long pid)
{
    return edit(dir, NULL, 0, 0, NULL, pid);
}

/* The first entry of our address local, and of proto and port unless
 * any_port, into out (may be NULL). 0 when found. */
static int find_entry(const char *dir, portmap_transport proto, uint16_t port, int any_port,
                      const pm_addr *local, pm_journal_entry *out)
{
    pm_journal_entry *all = calloc(MAX_ENTRIES, sizeof(*all));
    int lock, rc = -1;
    size_t n;

    if (!all)
        return -1;
    lock = lock_dir(dir);
    if (lock >= 0) {
        n = load(dir, all, MAX_ENTRIES);
        for (size_t i = 0; i < n && rc != 0; i++) {
            if (any_port ? pm_addr_eq(&all[i].local, local)
                         : same_key(&all[i], proto, port, local)) {
                if (out)
                    *out = all[i];
                rc = 0;
            }
        }
        close(lock);
    }
    free(all);
    return rc;
}

int pm_journal_find(const char *dir, portmap_transport proto, uint16_t internal_port,
                    const pm_addr *local, pm_journal_entry *out)
{
    return find_entry(dir, proto, internal_port, 0, local, out);
}

/* The pid holding e is gone, or is another process with a recycled pid. */
static int owner_dead(const pm_journal_entry *e)
{
    unsigned long long st = proc_start_time(e->pid);
    return e->pid > 0 && (st == 0 || st != e->start_time);
}

size_t pm_journal_claim_orphans(const char *dir, const pm_addr *gateway, const pm_addr *local,
                                portmap_method method, long pid, pm_journal_entry *out, size_t max)
{
    pm_journal_entry *all = calloc(MAX_ENTRIES, sizeof(*all));
    int64_t now = (int64_t)time(NULL);
    unsigned long long my_start = proc_start_time(pid);
    size_t n, w = 0, got = 0;
    int lock, changed = 0;

    if (!all)
        return 0;
    lock = lock_dir(dir);
    if (lock < 0)
        goto out;
    n = load(dir, all, MAX_ENTRIES);
    for (size_t i = 0; i < n; i++) {
        pm_journal_entry *e = &all[i];
        /* a lease nobody holds that has run out is gone from the router */
        if (e->pid == 0 && e->expires_unix > 0 && e->expires_unix < now) {
            changed = 1;
            continue;
        }
        if (got < max && owner_dead(e) && pm_addr_eq(&e->gateway, gateway) &&
            pm_addr_eq(&e->local, local) &&
            e->method == method) {
            out[got++] = *e;
            e->pid = pid;
            e->start_time = my_start;
            changed = 1;
        }
        all[w++] = *e;
    }
    if (changed && store(dir, all, w) != 0)
        got = 0; /* not taken over: leave them to the next client */
    close(lock);
out:
    free(all);
    return got;
}

int pm_journal_held(const char *dir, portmap_transport proto, uint16_t internal_port,
                    const pm_addr *local)
{
    pm_journal_entry e;

    if (pm_journal_find(dir, proto, internal_port, local, &e) != 0 || e.pid <= 0)
        return 0;
    /* a recycled pid has another start time */
    return proc_start_time(e.pid) != 0 && proc_start_time(e.pid) == e.start_time;
}

int pm_journal_has_local(const char *dir, const pm_addr *local)
{
    return find_entry(dir, 0, 0, 1, local, NULL) == 0;
}
