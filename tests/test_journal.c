/*
 * Suite: the journal (core/journal.c, through core/journal.h): the file
 * every process of the host shares to find the mappings it holds and
 * those whose owner died. Each test has its own state directory; owners
 * that live and die are child processes of the test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "core/journal.h"

/* the claims' methods: PCP's orphans */
#define PCP_ONLY PORTMAP_HAVE(PORTMAP_METHOD_PCP)

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/pm-journal-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static pm_addr addr(const char *text)
{
    pm_addr a;

    ck_assert_int_eq(pm_addr_parse(text, &a), 0);
    return a;
}

/* A PCP mapping of UDP port at 10.77.0.2 through 10.77.0.1, held by pid */
static pm_journal_entry entry4(uint16_t port, long pid)
{
    pm_journal_entry e = { .method = PORTMAP_METHOD_PCP, .proto = PORTMAP_UDP,
                           .internal_port = port, .external_port = port, .pid = pid };

    e.gateway = addr("10.77.0.1");
    e.local = addr("10.77.0.2");
    for (int i = 0; i < PM_JOURNAL_NONCE_LEN; i++)
        e.nonce[i] = (uint8_t)(port + i);
    return e;
}

static void write_journal(const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/journal", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static long pid_of(uint16_t port, const pm_addr *local)
{
    pm_journal_entry e;

    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, port, local, &e), 0);
    return e.pid;
}

/* Another process that lives until end_owner(): the journal tells a live
 * owner from a dead one by /proc, so a real process is needed. */
typedef struct owner {
    pid_t pid;
    int fd;
} owner;

static owner start_owner(void)
{
    owner o;
    int p[2];
    char ch;

    ck_assert_int_eq(pipe(p), 0);
    o.pid = fork();
    ck_assert_int_ge(o.pid, 0);
    if (o.pid == 0) {
        close(p[1]);
        (void)!read(p[0], &ch, 1); /* until the parent closes its end */
        _exit(0);
    }
    close(p[0]);
    o.fd = p[1];
    return o;
}

static void end_owner(owner *o)
{
    int status;

    close(o->fd);
    ck_assert_int_eq(waitpid(o->pid, &status, 0), o->pid);
}

/* Every field comes back as it was put; the start time is the owner's. */
START_TEST(put_and_find_round_trip)
{
    pm_journal_entry e = entry4(27015, getpid()), out;

    e.method = PORTMAP_METHOD_UPNP;
    e.proto = PORTMAP_TCP;
    e.external_port = 41000;
    e.expires_unix = 4102444800LL; /* 2100: past 32 bits */
    ck_assert_int_eq(pm_allow_parse("198.51.100.0/24", &e.allow_addr, &e.allow_prefix), 0);
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    memset(&out, 0xa5, sizeof(out));
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_TCP, 27015, &e.local, &out), 0);
    ck_assert_int_eq(out.method, PORTMAP_METHOD_UPNP);
    ck_assert_int_eq(out.proto, PORTMAP_TCP);
    ck_assert_uint_eq(out.internal_port, 27015);
    ck_assert_uint_eq(out.external_port, 41000);
    ck_assert(pm_addr_eq(&out.gateway, &e.gateway));
    ck_assert(pm_addr_eq(&out.local, &e.local));
    ck_assert_mem_eq(out.nonce, e.nonce, PM_JOURNAL_NONCE_LEN);
    ck_assert_int_eq(out.pid, getpid());
    ck_assert_uint_ne(out.start_time, 0);
    ck_assert_int_eq(out.expires_unix, 4102444800LL);
    ck_assert_uint_eq(out.allow_addr, e.allow_addr);
    ck_assert_uint_eq(out.allow_prefix, 24);
    ck_assert_int_eq(out.has_pinhole, 0);
    /* the key is proto, port and our address: UDP was never put */
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_UDP, 27015, &e.local, &out), 0);
}
END_TEST

/* A second put of a key replaces the first; remove takes out that key
 * alone, and removing what is not there is no error. */
START_TEST(put_replaces_and_remove_forgets)
{
    pm_journal_entry a = entry4(27015, 0), b = entry4(27016, 0), out;
    pm_addr other = addr("10.77.0.3");

    ck_assert_int_eq(pm_journal_put(dir, &a), 0);
    ck_assert_int_eq(pm_journal_put(dir, &b), 0);
    a.external_port = 30000;
    ck_assert_int_eq(pm_journal_put(dir, &a), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27015, &a.local, &out), 0);
    ck_assert_uint_eq(out.external_port, 30000);
    /* the same port from another address of ours is another mapping */
    b.local = other;
    ck_assert_int_eq(pm_journal_put(dir, &b), 0);
    ck_assert_int_eq(pm_journal_remove(dir, PORTMAP_UDP, 27016, &a.local), 0);
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_UDP, 27016, &a.local, &out), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27016, &other, &out), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27015, &a.local, &out), 0);
    ck_assert_int_eq(pm_journal_remove(dir, PORTMAP_UDP, 27016, &a.local), 0);
    ck_assert_int_eq(pm_journal_remove(dir, PORTMAP_TCP, 27015, &a.local), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27015, &a.local, &out), 0);
}
END_TEST

/* IPv6 entries: the gateway's zone and the pinhole's id come back, and
 * lines written before them (11 fields) still read. */
START_TEST(ipv6_entries_keep_zone_and_pinhole)
{
    pm_journal_entry e = { .method = PORTMAP_METHOD_UPNP, .proto = PORTMAP_TCP,
                           .internal_port = 27015, .external_port = 27015, .pid = 0,
                           .has_pinhole = 1, .pinhole_id = 7 }, out;
    pm_addr other;

    e.gateway = addr("fe80::1%1");
    e.local = addr("2001:db8:77:1::2");
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_TCP, 27015, &e.local, &out), 0);
    ck_assert(pm_addr_eq(&out.gateway, &e.gateway));
    ck_assert_uint_eq(out.gateway.scope, 1);
    ck_assert_int_eq(out.has_pinhole, 1);
    ck_assert_uint_eq(out.pinhole_id, 7);
    ck_assert_int_eq(pm_journal_has_local(dir, &e.local), 1);
    other = addr("2001:db8:77:1::3");
    ck_assert_int_eq(pm_journal_has_local(dir, &other), 0);
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_TCP, 27015, &other, &out), 0);
    /* an older line: no pinhole field */
    write_journal("v1 1 17 27016 27016 10.77.0.1 10.77.0.2 000102030405060708090a0b 0 0 0 -\n");
    other = addr("10.77.0.2");
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 27016, &other, &out), 0);
    ck_assert_int_eq(out.has_pinhole, 0);
    ck_assert_int_eq(out.gateway.family, AF_INET);
}
END_TEST

/* list: every entry, both families, in the order written (what
 * portmap_router_pinholes() reads); held: per entry. */
START_TEST(list_returns_every_entry)
{
    pm_journal_entry a = entry4(27015, getpid()), b = entry4(27016, 0), *all = NULL;
    size_t n = 0;

    b.local = addr("2001:db8:77:1::2");
    b.gateway = addr("fe80::1%1");
    b.expires_unix = (int64_t)time(NULL) + 3600; /* a detached entry lives until then */
    ck_assert_int_eq(pm_journal_list(dir, &all, &n), 0); /* no file yet: none */
    ck_assert_uint_eq(n, 0);
    free(all);
    ck_assert_int_eq(pm_journal_put(dir, &a), 0);
    ck_assert_int_eq(pm_journal_put(dir, &b), 0);
    ck_assert_int_eq(pm_journal_list(dir, &all, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(all[0].internal_port, 27015);
    ck_assert_int_eq(all[1].local.family, AF_INET6);
    ck_assert_int_eq(pm_journal_entry_held(&all[0]), 1);
    ck_assert_int_eq(pm_journal_entry_held(&all[1]), 0); /* detached */
    free(all);
    ck_assert_int_ne(pm_journal_list("/proc/no-such-dir/x", &all, &n), 0);
    ck_assert_ptr_null(all);
}
END_TEST

/* The oldest lines (10 fields) have no restriction: anyone. */
START_TEST(oldest_lines_read_as_unrestricted)
{
    pm_journal_entry out;
    pm_addr local = addr("10.77.0.2");

    write_journal("v1 2 6 8080 9090 10.77.0.1 10.77.0.2 0102030405060708090a0b0c 0 0 0\n");
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_TCP, 8080, &local, &out), 0);
    ck_assert_int_eq(out.method, PORTMAP_METHOD_NATPMP);
    ck_assert_uint_eq(out.external_port, 9090);
    ck_assert_uint_eq(out.allow_prefix, 0);
    ck_assert_uint_eq(out.nonce[11], 0x0c);
}
END_TEST

/* A line that does not parse is passed over: the lines around it still
 * count, and the next write makes a file that reads whole. */
START_TEST(malformed_lines_are_skipped)
{
    pm_journal_entry later = entry4(27017, 0), out;
    pm_addr local = addr("10.77.0.2"), v6 = addr("2001:db8::2");

    /* between two good lines: garbage, a short nonce, method 9, a
     * gateway of the other family, an allow with host bits, a pinhole
     * id past 16 bits, an empty line */
    write_journal("v1 1 17 27015 27015 10.77.0.1 10.77.0.2 000102030405060708090a0b 0 0 0 -\n"
                  "garbage\n"
                  "v1 1 17 27020 27020 10.77.0.1 10.77.0.2 0001 0 0 0 -\n"
                  "v1 9 17 27021 27021 10.77.0.1 10.77.0.2 000102030405060708090a0b 0 0 0 -\n"
                  "v1 1 17 27022 27022 2001:db8::1 10.77.0.2 000102030405060708090a0b 0 0 0 -\n"
                  "v1 1 17 27023 27023 10.77.0.1 10.77.0.2 000102030405060708090a0b 0 0 0 "
                  "11.77.0.5/24\n"
                  "v1 3 6 27024 27024 fe80::1%1 2001:db8::2 000102030405060708090a0b 0 0 0 - "
                  "70000\n"
                  "\n"
                  "v1 1 17 27016 27016 10.77.0.1 10.77.0.2 000102030405060708090a0b 0 0 0 -\n");
    ck_assert_int_eq(pid_of(27015, &local), 0);
    ck_assert_int_eq(pid_of(27016, &local), 0);
    for (uint16_t p = 27020; p <= 27023; p++)
        ck_assert_msg(pm_journal_find(dir, PORTMAP_UDP, p, &local, &out) != 0, "port %u read", p);
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_TCP, 27024, &v6, &out), 0);
    ck_assert_int_eq(pm_journal_put(dir, &later), 0);
    ck_assert_int_eq(pid_of(27015, &local), 0);
    ck_assert_int_eq(pid_of(27016, &local), 0);
    ck_assert_int_eq(pid_of(27017, &local), 0);
}
END_TEST

/* A directory that cannot be made is an error to return, not a crash. */
START_TEST(unusable_directory_fails_softly)
{
    pm_journal_entry e = entry4(27015, getpid()), out;
    char bad[128];

    write_journal("");
    snprintf(bad, sizeof(bad), "%s/journal/sub", dir); /* under a regular file */
    ck_assert_int_ne(pm_journal_put(bad, &e), 0);
    ck_assert_int_ne(pm_journal_remove(bad, PORTMAP_UDP, 27015, &e.local), 0);
    ck_assert_int_ne(pm_journal_find(bad, PORTMAP_UDP, 27015, &e.local, &out), 0);
    ck_assert_int_ne(pm_journal_detach_pid(bad, getpid()), 0);
    ck_assert_int_eq(pm_journal_has_local(bad, &e.local), 0);
    ck_assert_int_eq(pm_journal_held(bad, PORTMAP_UDP, 27015, &e.local), 0);
    ck_assert_uint_eq(pm_journal_claim_orphans(bad, &e.gateway, &e.local, PCP_ONLY,
                                               getpid(), &out, 1), 0);
}
END_TEST

/* A nonce lets its holder delete the mapping: nobody else reads it. */
START_TEST(file_is_0600_and_dir_0700)
{
    pm_journal_entry e = entry4(27015, getpid());
    char sub[128], path[160];
    struct stat st;
    mode_t old = umask(0); /* the library's own modes, not the umask's */

    snprintf(sub, sizeof(sub), "%s/state", dir);
    ck_assert_int_eq(pm_journal_put(sub, &e), 0);
    umask(old);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/journal", sub);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    snprintf(path, sizeof(path), "%s/journal.lock", sub);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    snprintf(path, sizeof(path), "%s/journal.tmp", sub);
    ck_assert_int_ne(stat(path, &st), 0); /* renamed over the journal */
}
END_TEST

/* A process that leaves its mappings to expire marks them as nobody's:
 * its own, and no other's. */
START_TEST(detach_pid_marks_only_that_pid)
{
    pm_journal_entry a = entry4(27015, getpid()), b = entry4(27016, getpid() + 1);
    pm_addr local = addr("10.77.0.2");

    ck_assert_int_eq(pm_journal_put(dir, &a), 0);
    ck_assert_int_eq(pm_journal_put(dir, &b), 0);
    ck_assert_int_eq(pm_journal_detach_pid(dir, getpid()), 0);
    ck_assert_int_eq(pid_of(27015, &local), 0);
    ck_assert_int_eq(pid_of(27016, &local), getpid() + 1);
    ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, 27015, &local), 0);
}
END_TEST

/* held: a live process with the start time it had when it wrote */
START_TEST(held_needs_a_live_owner)
{
    owner o = start_owner();
    pm_journal_entry mine = entry4(27015, getpid()), theirs = entry4(27016, o.pid),
                     detached = entry4(27017, 0);
    pm_addr local = addr("10.77.0.2");
    char line[200];

    ck_assert_int_eq(pm_journal_put(dir, &mine), 0);
    ck_assert_int_eq(pm_journal_put(dir, &theirs), 0);
    ck_assert_int_eq(pm_journal_put(dir, &detached), 0);
    ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, 27015, &local), 1);
    ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, 27016, &local), 1);
    ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, 27017, &local), 0);
    ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, 27018, &local), 0); /* not there */
    end_owner(&o);
    ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, 27016, &local), 0);
    /* our pid with another start time: a process before us had the pid */
    snprintf(line, sizeof(line),
             "v1 1 17 27019 27019 10.77.0.1 10.77.0.2 000102030405060708090a0b %ld 1 0 -\n",
             (long)getpid());
    write_journal(line);
    ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, 27019, &local), 0);
}
END_TEST

START_TEST(has_local_sees_any_port_of_that_address)
{
    pm_journal_entry e = entry4(27015, 0);
    pm_addr other = addr("10.77.0.3"), v6 = addr("::ffff:10.77.0.2");

    ck_assert_int_eq(pm_journal_has_local(dir, &e.local), 0); /* no file yet */
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    ck_assert_int_eq(pm_journal_has_local(dir, &e.local), 1);
    ck_assert_int_eq(pm_journal_has_local(dir, &other), 0);
    ck_assert_int_eq(pm_journal_has_local(dir, &v6), 0); /* not the same address */
    ck_assert_int_eq(pm_journal_remove(dir, PORTMAP_UDP, 27015, &e.local), 0);
    ck_assert_int_eq(pm_journal_has_local(dir, &e.local), 0);
}
END_TEST

/* A dead owner's entries are taken over, up to max at a time; the copies
 * returned still name the dead owner (whose mappings are released), the
 * journal names the new one. */
START_TEST(claim_takes_a_dead_owners_entries_up_to_max)
{
    owner o = start_owner();
    long dead = o.pid;
    pm_journal_entry e, out[4];
    pm_addr gw = addr("10.77.0.1"), local = addr("10.77.0.2");
    unsigned seen = 0;

    for (uint16_t p = 27015; p < 27018; p++) {
        e = entry4(p, dead);
        ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    }
    end_owner(&o);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 2), 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(out[i].pid, dead);
        ck_assert_uint_ge(out[i].internal_port, 27015);
        ck_assert_uint_le(out[i].internal_port, 27017);
        ck_assert_uint_eq(out[i].nonce[0], (uint8_t)out[i].internal_port);
        seen |= 1u << (out[i].internal_port - 27015);
        ck_assert_int_eq(pid_of(out[i].internal_port, &local), getpid());
        ck_assert_int_eq(pm_journal_held(dir, PORTMAP_UDP, out[i].internal_port, &local), 1);
    }
    ck_assert_uint_eq(__builtin_popcount(seen), 2);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 4), 1);
    ck_assert_uint_eq(seen | 1u << (out[0].internal_port - 27015), 7);
    /* all ours now: nothing left to claim */
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 4), 0);
}
END_TEST

/* Only the entries of the gateway, our address and protocol asked about;
 * a live owner's and detached ones stay as they are. */
START_TEST(claim_is_for_that_gateway_local_and_method)
{
    owner live = start_owner(), gone = start_owner();
    pm_journal_entry e, out[8];
    pm_addr gw = addr("10.77.0.1"), local = addr("10.77.0.2");
    long dead = gone.pid;

    e = entry4(27015, dead);
    e.gateway = addr("10.77.0.254");
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27016, dead);
    e.local = addr("10.77.0.3");
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27017, dead);
    e.method = PORTMAP_METHOD_NATPMP;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27018, live.pid);
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27019, 0);
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27020, dead); /* the one to take */
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    end_owner(&gone);

    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 8), 1);
    ck_assert_uint_eq(out[0].internal_port, 27020);
    ck_assert_int_eq(pid_of(27015, &local), dead);
    e.local = addr("10.77.0.3");
    ck_assert_int_eq(pid_of(27016, &e.local), dead);
    ck_assert_int_eq(pid_of(27017, &local), dead);
    ck_assert_int_eq(pid_of(27018, &local), live.pid);
    ck_assert_int_eq(pid_of(27019, &local), 0);
    ck_assert_int_eq(pid_of(27020, &local), getpid());
    /* the live owner's are claimed once it is gone */
    end_owner(&live);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 8), 1);
    ck_assert_uint_eq(out[0].internal_port, 27018);
    ck_assert_int_eq(out[0].pid, live.pid);
}
END_TEST

/* The protocols that answered in one round are one sweep: one load and
 * one store take the orphans of all of them, and no other method's. */
START_TEST(claim_takes_several_methods_in_one_store)
{
    owner gone = start_owner();
    pm_journal_entry e, out[8];
    pm_addr gw = addr("10.77.0.1"), local = addr("10.77.0.2");
    unsigned long before;

    e = entry4(27015, gone.pid);
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27016, gone.pid);
    e.method = PORTMAP_METHOD_NATPMP;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27017, gone.pid);
    e.method = PORTMAP_METHOD_UPNP;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    end_owner(&gone);
    before = pm_journal_stores();
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local,
                                               PORTMAP_HAVE(PORTMAP_METHOD_PCP) |
                                                   PORTMAP_HAVE(PORTMAP_METHOD_NATPMP),
                                               getpid(), out, 8),
                      2);
    ck_assert_uint_eq(pm_journal_stores() - before, 1);
    ck_assert_int_eq(pid_of(27015, &local), getpid());
    ck_assert_int_eq(pid_of(27016, &local), getpid());
    ck_assert_int_eq(pid_of(27017, &local), gone.pid);
}
END_TEST

/* A pid with another start time than the one written is another process
 * that got the pid: the entry's owner is dead. */
START_TEST(claim_sees_through_a_recycled_pid)
{
    pm_journal_entry out[2];
    pm_addr gw = addr("10.77.0.1"), local = addr("10.77.0.2");
    char line[200];

    /* our parent lives, but did not start at tick 1 after boot */
    snprintf(line, sizeof(line),
             "v1 1 17 27015 27015 10.77.0.1 10.77.0.2 000102030405060708090a0b %ld 1 0 -\n",
             (long)getppid());
    write_journal(line);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 2), 1);
    ck_assert_int_eq(out[0].pid, getppid());
    ck_assert_int_eq(pid_of(27015, &local), getpid());
}
END_TEST

/* fe80::1 is a different router on every link: the zone must match. */
START_TEST(claim_matches_the_gateways_zone)
{
    owner o = start_owner();
    pm_journal_entry e = entry4(27015, o.pid), out[2];
    pm_addr other_link = addr("fe80::1%2");

    e.gateway = addr("fe80::1%1");
    e.local = addr("2001:db8:77:1::2");
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    end_owner(&o);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &other_link, &e.local, PCP_ONLY,
                                               getpid(), out, 2), 0);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &e.gateway, &e.local, PCP_ONLY,
                                               getpid(), out, 2), 1);
    ck_assert_uint_eq(out[0].gateway.scope, 1);
}
END_TEST

/* A lease nobody holds that has run out is gone from the router: a claim
 * drops it, whatever gateway it asks for. One still running, or without
 * an end (permanent), stays and is not claimed. */
START_TEST(claim_drops_expired_unheld_entries)
{
    pm_journal_entry e, out[4];
    pm_addr gw = addr("10.77.0.254"), local = addr("10.77.0.2");
    int64_t now = (int64_t)time(NULL);

    e = entry4(27015, 0);
    e.expires_unix = now - 10;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27016, 0);
    e.expires_unix = now + 3600;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27017, 0);
    e.expires_unix = 0;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    e = entry4(27018, getpid()); /* held: ours to release, though run out */
    e.expires_unix = now - 10;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 4), 0);
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_UDP, 27015, &local, &out[0]), 0);
    ck_assert_int_eq(pid_of(27016, &local), 0);
    ck_assert_int_eq(pid_of(27017, &local), 0);
    ck_assert_int_eq(pid_of(27018, &local), getpid());
    gw = addr("10.77.0.1");
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &local, PCP_ONLY, getpid(),
                                               out, 4), 0);
}
END_TEST

START_TEST(default_dir_honours_portmap_state_dir)
{
    char *d, want[64];

    setenv("PORTMAP_STATE_DIR", "/srv/pm-state", 1);
    d = pm_journal_default_dir();
    ck_assert_str_eq(d, "/srv/pm-state");
    free(d);
    /* empty: as if unset */
    setenv("PORTMAP_STATE_DIR", "", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    d = pm_journal_default_dir();
    ck_assert_str_eq(d, geteuid() == 0 ? "/run/portmap" : "/run/user/4242/portmap");
    free(d);
    unsetenv("PORTMAP_STATE_DIR");
    unsetenv("XDG_RUNTIME_DIR");
    snprintf(want, sizeof(want), "/tmp/portmap-%u", (unsigned)geteuid());
    d = pm_journal_default_dir();
    ck_assert_str_eq(d, geteuid() == 0 ? "/run/portmap" : want);
    free(d);
}
END_TEST

/* A mapping made for another host of the LAN: kept under that host's
 * address (the key), and its orphans are ours, the maker's (by) */
START_TEST(another_hosts_entry_is_keyed_by_it_and_claimed_by_us)
{
    owner o = start_owner();
    pm_journal_entry e = entry4(3074, o.pid), got, out[2];
    pm_addr gw = addr("10.77.0.1"), me = addr("10.77.0.2"), other = addr("10.77.0.9");

    e.local = other;
    e.by = me;
    ck_assert_int_eq(pm_journal_put(dir, &e), 0);
    ck_assert_int_eq(pm_journal_find(dir, PORTMAP_UDP, 3074, &other, &got), 0);
    ck_assert_int_eq(pm_addr_eq(&got.by, &me), 1);
    ck_assert_int_eq(pm_addr_eq(pm_journal_owner(&got), &me), 1);
    /* this host's own entry of the port is another key */
    ck_assert_int_ne(pm_journal_find(dir, PORTMAP_UDP, 3074, &me, &got), 0);
    ck_assert_int_eq(pm_journal_has_local(dir, &me), 1);
    end_owner(&o);
    /* orphans of our address: it is among them, not left as not ours */
    ck_assert_uint_eq(pm_journal_orphan_methods(dir, &gw, &me), PCP_ONLY);
    ck_assert_uint_eq(pm_journal_orphan_methods(dir, &gw, &other), 0);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &other, PCP_ONLY, getpid(), out, 2), 0);
    ck_assert_uint_eq(pm_journal_claim_orphans(dir, &gw, &me, PCP_ONLY, getpid(), out, 2), 1);
    ck_assert_int_eq(pm_addr_eq(&out[0].local, &other), 1);
    ck_assert_int_eq(pm_addr_eq(&out[0].by, &me), 1);
}
END_TEST

/* A line of 0.5 (no 13th field) is this host's own; a bad by is malformed */
START_TEST(by_field_is_optional_and_checked)
{
    pm_journal_entry *all;
    size_t n;

    write_journal("v1 1 17 27015 27015 10.77.0.1 10.77.0.2 0102030405060708090a0b0c 0 0 0 - -\n"
                  "v1 1 17 27016 27016 10.77.0.1 10.77.0.9 0102030405060708090a0b0c 0 0 0 - - "
                  "10.77.0.2\n"
                  "v1 1 17 27017 27017 10.77.0.1 10.77.0.9 0102030405060708090a0b0c 0 0 0 - - "
                  "nonsense\n"
                  "v1 1 17 27018 27018 10.77.0.1 10.77.0.9 0102030405060708090a0b0c 0 0 0 - - "
                  "2001:db8::2\n");
    ck_assert_int_eq(pm_journal_list(dir, &all, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(all[0].by.family, 0);
    ck_assert_uint_eq(all[1].internal_port, 27016);
    ck_assert_int_eq(all[1].by.family, AF_INET);
    free(all);
}
END_TEST

static Suite *journal_suite(void)
{
    Suite *s = suite_create("journal");
    TCase *tc = tcase_create("file");
    TCase *own = tcase_create("owners");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, put_and_find_round_trip);
    tcase_add_test(tc, put_replaces_and_remove_forgets);
    tcase_add_test(tc, ipv6_entries_keep_zone_and_pinhole);
    tcase_add_test(tc, oldest_lines_read_as_unrestricted);
    tcase_add_test(tc, malformed_lines_are_skipped);
    tcase_add_test(tc, unusable_directory_fails_softly);
    tcase_add_test(tc, file_is_0600_and_dir_0700);
    tcase_add_test(tc, has_local_sees_any_port_of_that_address);
    tcase_add_test(tc, default_dir_honours_portmap_state_dir);
    tcase_add_test(tc, list_returns_every_entry);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(own, setup, teardown);
    tcase_add_test(own, detach_pid_marks_only_that_pid);
    tcase_add_test(own, held_needs_a_live_owner);
    tcase_add_test(own, claim_takes_a_dead_owners_entries_up_to_max);
    tcase_add_test(own, claim_is_for_that_gateway_local_and_method);
    tcase_add_test(own, claim_takes_several_methods_in_one_store);
    tcase_add_test(own, claim_sees_through_a_recycled_pid);
    tcase_add_test(own, claim_matches_the_gateways_zone);
    tcase_add_test(own, claim_drops_expired_unheld_entries);
    tcase_add_test(own, another_hosts_entry_is_keyed_by_it_and_claimed_by_us);
    tcase_add_test(tc, by_field_is_optional_and_checked);
    suite_add_tcase(s, own);
    return s;
}

PM_CHECK_MAIN(journal_suite)
