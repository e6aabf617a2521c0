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
 *
 * The directory may be in /tmp (/tmp/portmap-<uid>), where another local
 * user can plant a directory, a symlink or a FIFO before us. So it is
 * used only when it is a directory of our euid that nobody else may
 * enter (made 0700 when missing), opened without following a symlink;
 * every file in it is opened relative to that descriptor, without
 * following symlinks and without blocking (a FIFO must not stall the
 * engine), and refused unless it is a regular file of ours; the
 * temporary file is made anew (O_EXCL). A refusal is PM_JOURNAL_UNSAFE,
 * its reason kept for the caller's log: journal.c has no client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "core/journal.h"
#include "sys/util.h"

#define MAX_ENTRIES 4096
#define OPEN_FLAGS (O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)

/* per thread: readers run on callers' threads, writers on the engine's */
static _Thread_local char refusal[256];

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

const char *pm_journal_refusal(void)
{
    return refusal[0] ? refusal : NULL;
}

static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int refuse(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(refusal, sizeof(refusal), fmt, ap);
    va_end(ap);
    return PM_JOURNAL_UNSAFE;
}

/* What is wrong with st for a file or directory of ours (type: S_IFREG
 * or S_IFDIR), NULL when nothing. */
static const char *flaw(const struct stat *st, mode_t type)
{
    if (S_ISLNK(st->st_mode))
        return "is a symbolic link";
    if ((st->st_mode & S_IFMT) != type)
        return type == S_IFDIR ? "is not a directory" : "is not a regular file";
    if (st->st_uid != geteuid())
        return "belongs to another user";
    if (type == S_IFDIR && (st->st_mode & 077))
        return "is open to group or others (chmod 700 it)";
    return NULL;
}

/* After an open of name (in dirfd) failed: a refusal when something that
 * is not ours stands there, else PM_JOURNAL_ERR with errno kept. */
static int open_failed(int dirfd, const char *name, mode_t type, const char *shown)
{
    int err = errno;
    struct stat st;
    const char *why;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (why = flaw(&st, type)))
        return refuse("%s %s", shown, why);
    errno = err;
    return PM_JOURNAL_ERR;
}

/* The state directory's descriptor, the directory made 0700 if missing;
 * or PM_JOURNAL_ERR or PM_JOURNAL_UNSAFE. Symlinks above the last
 * component are followed: they are the caller's path (/tmp, the
 * runtime directory, PORTMAP_STATE_DIR), and what matters is that the
 * directory itself is ours and closed to others. */
static int open_dir(const char *dir)
{
    char path[PATH_MAX];
    const char *parent = ".", *base = path, *why;
    size_t n = strlen(dir);
    struct stat st;
    int pfd, fd, made;
    char *slash;

    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof(path)) {
        errno = EINVAL;
        return PM_JOURNAL_ERR;
    }
    memcpy(path, dir, n);
    path[n] = '\0';
    if ((slash = strrchr(path, '/'))) {
        *slash = '\0';
        parent = slash == path ? "/" : path;
        base = slash[1] ? slash + 1 : ".";
    }
    pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return PM_JOURNAL_ERR;
    made = mkdirat(pfd, base, 0700) == 0;
    if (!made && errno != EEXIST) {
        close(pfd);
        return PM_JOURNAL_ERR;
    }
    fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int rc = open_failed(pfd, base, S_IFDIR, dir);
        close(pfd);
        return rc;
    }
    close(pfd);
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PM_JOURNAL_ERR;
    }
    /* ours, just made: its mode is 0700 whatever the umask took */
    if (made && st.st_uid == geteuid() && S_ISDIR(st.st_mode) && fchmod(fd, 0700) == 0)
        st.st_mode = (st.st_mode & ~07777) | 0700;
    if ((why = flaw(&st, S_IFDIR))) {
        close(fd);
        return refuse("%s %s", dir, why);
    }
    return fd;
}

/* name in the state directory dfd opened with flags (never following a
 * symlink, never blocking), refused unless a regular file of ours. */
static int open_in(int dfd, const char *dir, const char *name, int flags)
{
    char shown[PATH_MAX + 32];
    struct stat st;
    const char *why;
    int fd = openat(dfd, name, flags | OPEN_FLAGS, 0600);

    snprintf(shown, sizeof(shown), "%s/%s", dir, name);
    if (fd < 0)
        return open_failed(dfd, name, S_IFREG, shown);
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PM_JOURNAL_ERR;
    }
    if ((why = flaw(&st, S_IFREG))) {
        close(fd);
        return refuse("%s %s", shown, why);
    }
    /* ours: 0600 whatever the umask took, or the next open fails */
    if ((flags & O_CREAT) && (st.st_mode & 0777) != 0600)
        (void)fchmod(fd, 0600);
    return fd;
}

static int lock_dir(int dfd, const char *dir)
{
    int fd = open_in(dfd, dir, "journal.lock", O_RDWR | O_CREAT);

    if (fd < 0)
        return fd;
    /* Holders keep the lock for one load and store (tens of us on
     * tmpfs): retried after 100 us, doubling up to 5 ms, for a second in
     * all; a stuck holder must not stall the engine. */
    for (useconds_t slept = 0, step = 100; flock(fd, LOCK_EX | LOCK_NB) < 0; slept += step) {
        if (errno != EWOULDBLOCK || slept >= 1000000) {
            close(fd);
            return PM_JOURNAL_ERR;
        }
        usleep(step);
        step = step < 5000 ? step * 2 : 5000;
    }
    return fd;
}

/* The state directory opened and locked: 0, or the error. */
static int open_locked(const char *dir, int *dfd, int *lock)
{
    refusal[0] = '\0';
    *dfd = open_dir(dir);
    if (*dfd < 0)
        return *dfd;
    *lock = lock_dir(*dfd, dir);
    if (*lock < 0) {
        close(*dfd);
        return *lock;
    }
    return 0;
}

static void close_locked(int dfd, int lock)
{
    close(lock);
    close(dfd);
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
    char by[64] = "-";
    unsigned method, proto, iport, eport;
    int n = sscanf(line, "v1 %u %u %u %u %63s %63s %24s %ld %llu %" SCNd64 " %39s %7s %63s",
                   &method, &proto, &iport, &eport, gw, local, nonce, &e->pid, &e->start_time,
                   &e->expires_unix, allow, pinhole, by);

    /* fields came later: the remote restriction (11), the UPnP pinhole
     * id (12), our address for another host's mapping (13); older lines
     * have fewer */
    if (n < 10)
        return -1;
    memset(&e->by, 0, sizeof(e->by));
    if (strcmp(by, "-") != 0 && pm_addr_parse(by, &e->by) != 0)
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
        e->gateway.family != e->local.family || (e->by.family && e->by.family != e->local.family))
        return -1;
    return strlen(nonce) == 2 * PM_JOURNAL_NONCE_LEN ? hex_decode(nonce, e->nonce, PM_JOURNAL_NONCE_LEN) : -1;
}

static void format_line(FILE *f, const pm_journal_entry *e)
{
    char gw[PM_ADDR_TEXT], local[PM_ADDR_TEXT], nonce[2 * PM_JOURNAL_NONCE_LEN + 1];
    char allow[PORTMAP_ADDRSTRLEN + 4], pinhole[8] = "-", by[PM_ADDR_TEXT] = "-";
    addr_text(&e->gateway, gw, sizeof(gw));
    if (e->by.family)
        addr_text(&e->by, by, sizeof(by));
    addr_text(&e->local, local, sizeof(local));
    hex_encode(e->nonce, PM_JOURNAL_NONCE_LEN, nonce);
    pm_allow_str(e->allow_addr, e->allow_prefix, allow, sizeof(allow));
    if (e->has_pinhole)
        snprintf(pinhole, sizeof(pinhole), "%u", e->pinhole_id);
    fprintf(f, "v1 %u %u %u %u %s %s %s %ld %llu %" PRId64 " %s %s %s\n", (unsigned)e->method,
            (unsigned)e->proto, e->internal_port, e->external_port, gw, local, nonce, e->pid,
            e->start_time, e->expires_unix, allow[0] ? allow : "-", pinhole, by);
}

/* The shortest line format_line writes is about 90 bytes: a buffer of
 * one entry per this many bytes of file holds them all at once. */
#define MIN_LINE 64

/* Room for at least want entries in *all (*cap of them): 0, or -1. */
static int reserve(pm_journal_entry **all, size_t *cap, size_t want)
{
    pm_journal_entry *p;
    size_t n = *cap ? *cap : 16;

    if (want <= *cap)
        return 0;
    while (n < want)
        n *= 2;
    p = realloc(*all, n * sizeof(*p));
    if (!p)
        return -1;
    *all = p;
    *cap = n;
    return 0;
}

/* The entries into *all (malloc'ed, sized from the file, with room for
 * extra more), *n of them: 0, or the error (a journal that cannot be
 * read is not to be overwritten). No file: none. Nothing is zeroed: an
 * edit of a journal of 10 entries costs 10 entries, not MAX_ENTRIES. */
static int load(int dfd, const char *dir, size_t extra, pm_journal_entry **all, size_t *n,
                size_t *cap)
{
    char line[512];
    int fd = open_in(dfd, dir, "journal", O_RDONLY);
    struct stat st;
    FILE *f;

    *n = 0;
    *all = NULL;
    *cap = 0;
    if (fd < 0 && !(fd == PM_JOURNAL_ERR && errno == ENOENT))
        return fd;
    if (fd < 0 || fstat(fd, &st) != 0)
        st.st_size = 0;
    if (reserve(all, cap, PM_MIN((size_t)st.st_size / MIN_LINE + 1, MAX_ENTRIES) + extra) != 0) {
        if (fd >= 0)
            close(fd);
        return PM_JOURNAL_ERR;
    }
    if (fd < 0)
        return 0;
    f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return PM_JOURNAL_ERR;
    }
    while (*n < MAX_ENTRIES && fgets(line, sizeof(line), f)) {
        if (*n + extra >= *cap && reserve(all, cap, *n + extra + 1) != 0) {
            fclose(f);
            return PM_JOURNAL_ERR;
        }
        memset(&(*all)[*n], 0, sizeof(**all)); /* the fields a line may leave out */
        if (parse_line(line, &(*all)[*n]) == 0)
            (*n)++;
    }
    fclose(f);
    return 0;
}

/* Whether the state directory is on tmpfs (/run, /dev/shm, most
 * $XDG_RUNTIME_DIRs): its files do not outlive the machine's power, so
 * fsync() buys nothing there and costs a system call per write. */
static int on_tmpfs(int dfd)
{
    struct statfs sf;

    return fstatfs(dfd, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

static unsigned long stores; /* see pm_journal_stores() */

unsigned long pm_journal_stores(void)
{
    return __atomic_load_n(&stores, __ATOMIC_RELAXED);
}

static int store(int dfd, const char *dir, const pm_journal_entry *e, size_t n)
{
    static const char tmp[] = "journal.tmp";
    int fd;
    FILE *f;

    /* one left by a writer that died; the flock keeps out live ones. A
     * new file (O_EXCL) is written, never one found there. */
    if (unlinkat(dfd, tmp, 0) != 0 && errno != ENOENT) {
        char shown[PATH_MAX + 32];
        snprintf(shown, sizeof(shown), "%s/%s", dir, tmp);
        return open_failed(dfd, tmp, S_IFREG, shown);
    }
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | OPEN_FLAGS, 0600);
    if (fd < 0)
        return PM_JOURNAL_ERR;
    (void)fchmod(fd, 0600); /* the umask's leftover must not lock us out */
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlinkat(dfd, tmp, 0);
        return PM_JOURNAL_ERR;
    }
    for (size_t i = 0; i < n; i++)
        format_line(f, &e[i]);
    if (fflush(f) != 0 || (!on_tmpfs(dfd) && fsync(fileno(f)) != 0)) {
        fclose(f);
        unlinkat(dfd, tmp, 0);
        return PM_JOURNAL_ERR;
    }
    fclose(f);
    if (renameat(dfd, tmp, dfd, "journal") != 0) {
        unlinkat(dfd, tmp, 0);
        return PM_JOURNAL_ERR;
    }
    __atomic_add_fetch(&stores, 1, __ATOMIC_RELAXED);
    return 0;
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

/* The index of the entry of e's key in all[0..n), or n. */
static size_t find_key(const pm_journal_entry *all, size_t n, const pm_journal_entry *e)
{
    size_t i = 0;

    while (i < n && !same_key(&all[i], e->proto, e->internal_port, &e->local))
        i++;
    return i;
}

/* op done on all[0..*n): a put replaces the entry of its key or adds
 * one (all has room), a remove drops it keeping the order. */
static void apply_one(pm_journal_entry *all, size_t *n, const pm_journal_op *op,
                      long *pid_seen, unsigned long long *start_seen)
{
    size_t i = find_key(all, *n, &op->e);

    if (!op->put) {
        if (i < *n)
            memmove(&all[i], &all[i + 1], (*n - i - 1) * sizeof(*all));
        *n -= i < *n;
        return;
    }
    if (op->e.pid != *pid_seen) { /* a batch is one process's: read /proc once */
        *pid_seen = op->e.pid;
        *start_seen = proc_start_time(op->e.pid);
    }
    all[i] = op->e;
    all[i].start_time = *start_seen;
    *n += i == *n;
}

/* The journal is shared state: each call locks, loads, edits, stores. A
 * batch of edits (pm_journal_apply) is one load and one store. */
int pm_journal_apply(const char *dir, const pm_journal_op *ops, size_t n_ops)
{
    pm_journal_entry *all = NULL;
    unsigned long long start = 0;
    size_t n, cap, puts = 0;
    long pid = -1;
    int dfd, lock, rc;

    if (!n_ops)
        return 0;
    if ((rc = open_locked(dir, &dfd, &lock)) != 0)
        return rc;
    for (size_t i = 0; i < n_ops; i++)
        puts += ops[i].put != 0;
    rc = load(dfd, dir, puts, &all, &n, &cap);
    if (rc == 0) {
        for (size_t i = 0; i < n_ops; i++)
            apply_one(all, &n, &ops[i], &pid, &start);
        rc = store(dfd, dir, all, n);
    }
    close_locked(dfd, lock);
    free(all);
    return rc;
}

int pm_journal_put(const char *dir, const pm_journal_entry *e)
{
    pm_journal_op op = { .put = 1, .e = *e };

    return pm_journal_apply(dir, &op, 1);
}

int pm_journal_remove(const char *dir, portmap_transport proto, uint16_t internal_port,
                      const pm_addr *local)
{
    pm_journal_op op = { .put = 0 };

    op.e.proto = proto;
    op.e.internal_port = internal_port;
    op.e.local = *local;
    return pm_journal_apply(dir, &op, 1);
}

int pm_journal_detach_pid(const char *dir, long pid)
{
    pm_journal_entry *all = NULL;
    int dfd, lock, rc;
    size_t n, cap;

    if ((rc = open_locked(dir, &dfd, &lock)) != 0)
        return rc;
    rc = load(dfd, dir, 0, &all, &n, &cap);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (all[i].pid == pid)
                all[i].pid = 0;
        rc = store(dfd, dir, all, n);
    }
    close_locked(dfd, lock);
    free(all);
    return rc;
}

/* The first entry of our address local, and of proto and port unless
 * any_port, into out (may be NULL). 0 when found. */
static int find_entry(const char *dir, portmap_transport proto, uint16_t port, int any_port,
                      const pm_addr *local, pm_journal_entry *out)
{
    pm_journal_entry *all;
    size_t n;
    int rc = pm_journal_list(dir, &all, &n);

    if (rc == 0) {
        rc = PM_JOURNAL_ERR;
        for (size_t i = 0; i < n && rc != 0; i++) {
            if (any_port ? pm_addr_eq(pm_journal_owner(&all[i]), local)
                         : same_key(&all[i], proto, port, local)) {
                if (out)
                    *out = all[i];
                rc = 0;
            }
        }
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

unsigned pm_journal_orphan_methods(const char *dir, const pm_addr *gateway, const pm_addr *local)
{
    pm_journal_entry *all;
    unsigned methods = 0;
    size_t n;

    if (pm_journal_list(dir, &all, &n) == 0)
        for (size_t i = 0; i < n; i++)
            if (owner_dead(&all[i]) && pm_addr_eq(&all[i].gateway, gateway) &&
                pm_addr_eq(pm_journal_owner(&all[i]), local))
                methods |= PORTMAP_HAVE(all[i].method);
    free(all);
    return methods;
}

size_t pm_journal_claim_orphans(const char *dir, const pm_addr *gateway, const pm_addr *local,
                                unsigned methods, long pid, pm_journal_entry *out, size_t max)
{
    pm_journal_entry *all = NULL;
    int64_t now = (int64_t)time(NULL);
    unsigned long long my_start = proc_start_time(pid);
    size_t n, cap, w = 0, got = 0;
    int dfd, lock, changed = 0;

    if (open_locked(dir, &dfd, &lock) != 0)
        return 0;
    if (load(dfd, dir, 0, &all, &n, &cap) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        pm_journal_entry *e = &all[i];
        /* a lease nobody holds that has run out is gone from the router */
        if (e->pid == 0 && e->expires_unix > 0 && e->expires_unix < now) {
            changed = 1;
            continue;
        }
        if (got < max && owner_dead(e) && pm_addr_eq(&e->gateway, gateway) &&
            pm_addr_eq(pm_journal_owner(e), local) && (methods & PORTMAP_HAVE(e->method))) {
            out[got++] = *e;
            e->pid = pid;
            e->start_time = my_start;
            changed = 1;
        }
        all[w++] = *e;
    }
    if (changed && store(dfd, dir, all, w) != 0)
        got = 0; /* not taken over: leave them to the next client */
out:
    close_locked(dfd, lock);
    free(all);
    return got;
}

int pm_journal_entry_held(const pm_journal_entry *e)
{
    /* a recycled pid has another start time */
    unsigned long long start = e->pid > 0 ? proc_start_time(e->pid) : 0;

    return start != 0 && start == e->start_time;
}

int pm_journal_held(const char *dir, portmap_transport proto, uint16_t internal_port,
                    const pm_addr *local)
{
    pm_journal_entry e;

    return pm_journal_find(dir, proto, internal_port, local, &e) == 0 && pm_journal_entry_held(&e);
}

int pm_journal_list(const char *dir, pm_journal_entry **out, size_t *n)
{
    int dfd, lock, rc;
    size_t cap;

    *out = NULL;
    *n = 0;
    if ((rc = open_locked(dir, &dfd, &lock)) != 0)
        return rc;
    rc = load(dfd, dir, 0, out, n, &cap);
    close_locked(dfd, lock);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int pm_journal_has_local(const char *dir, const pm_addr *local)
{
    return find_entry(dir, 0, 0, 1, local, NULL) == 0;
}
