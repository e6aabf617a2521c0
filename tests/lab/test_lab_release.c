/*
 * Lab suite lab_release: what is held is released: by portmap_close(), and
 * what a killed process left by `portmap cleanup` or by the next client
 * that finds the router (through the journal), pinholes included.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_support.h"

START_TEST(close_releases_everything)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 5000);
    portmap_mapping *m[3];
    portmap_request r;

    for (int i = 0; i < 3; i++) {
        portmap_request_init(&r);
        r.protocol = i == 1 ? PORTMAP_TCP : PORTMAP_UDP;
        r.internal_port = (uint16_t)(27030 + i);
        ck_assert_int_eq(portmap_request_mapping(c, &r, &m[i]), PORTMAP_OK);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(portmap_mapping_wait(m[i], 5000, NULL), PORTMAP_OK);
    ck_assert(has_rule("tcp", 27031));
    portmap_close(&c); /* release_on_close defaults to on */
    ck_assert(!has_rule("udp", 27030));
    ck_assert(!has_rule("tcp", 27031));
    ck_assert(!has_rule("udp", 27032));
}
END_TEST

/* A holder killed with SIGKILL cannot release; its journal entry can. */
static void kill_holder(const char *method, unsigned port)
{
    char line[1024], portstr[16];
    int fds[2], st;
    pid_t pid;
    FILE *f;

    snprintf(portstr, sizeof(portstr), "%u", port);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", portstr, "udp", "--protocol", method, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "mapped udp"), "output: %s", line);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    fclose(f);
    ck_assert_msg(has_rule("udp", port), "the killed holder's rule should still be there");
}

#define MANY 200
#define PER_HOLDER 25 /* the CLI takes up to 32 pairs */
#define MAX_HOLDERS (MANY / PER_HOLDER)

/* A holder of ports first..first+PER_HOLDER-1 (IPv4, through method):
 * its pid, its output in *out. */
static pid_t start_holder(int first, const char *method, FILE **out)
{
    char *argv[2 * PER_HOLDER + 8], ports[PER_HOLDER][8];
    int argc = 0;

    argv[argc++] = (char *)cli;
    argv[argc++] = "request";
    for (int i = 0; i < PER_HOLDER; i++) {
        snprintf(ports[i], sizeof(ports[i]), "%d", first + i);
        argv[argc++] = ports[i];
        argv[argc++] = "udp";
    }
    argv[argc++] = "-4";
    argv[argc++] = "--protocol";
    argv[argc++] = (char *)method;
    argv[argc] = NULL;
    return cli_start(argv, out);
}

/* Holders of count ports from first, all alive together (a new client
 * would release a dead one's orphans), killed once all are mapped. */
static void kill_many(int first, int count, const char *method)
{
    pid_t pid[MAX_HOLDERS];
    FILE *out[MAX_HOLDERS];
    int n = count / PER_HOLDER, mapped = 0, st;
    char line[1024];

    ck_assert_int_le(n, MAX_HOLDERS);
    for (int h = 0; h < n; h++)
        pid[h] = start_holder(first + h * PER_HOLDER, method, &out[h]);
    for (int h = 0; h < n; h++) {
        int got = 0;
        while (got < PER_HOLDER && fgets(line, sizeof(line), out[h]))
            got += strstr(line, "mapped udp") != NULL;
        mapped += got;
    }
    for (int h = 0; h < n; h++) {
        kill(pid[h], SIGKILL);
        ck_assert_int_eq(waitpid(pid[h], &st, 0), pid[h]);
        fclose(out[h]);
    }
    ck_assert_int_eq(mapped, n * PER_HOLDER);
}

static int orphans_left(int first, int count)
{
    return count_rules("udp", (unsigned)first, (unsigned)count);
}

/* Holders of 200 mappings in all (several of the journal's claim
 * batches) are killed: one cleanup releases every one of them, for each
 * protocol (ports of its own: an orphan left by another protocol's test
 * of the same port would be released by the new holders' sweep). */
static void cleanup_releases_every_orphan(const char *method, int first)
{
    char out[1024], want[128];
    int64_t t0;
    int left;

    kill_many(first, MANY, method);
    ck_assert_int_eq(orphans_left(first, MANY), MANY);
    t0 = now_ms();
    ck_assert_int_eq(cli_all(out, sizeof(out), "cleanup"), 0);
    left = orphans_left(first, MANY);
    printf("%s: cleanup of %d orphans took %.2f s, %d left\n", method, MANY,
           (double)(now_ms() - t0) / 1000.0, left);
    snprintf(want, sizeof(want), "released %d mappings left by dead processes\n", MANY);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(left, 0);
}

START_TEST(cli_cleanup_releases_every_pcp_orphan) { cleanup_releases_every_orphan("pcp", 26000); }
END_TEST

START_TEST(cli_cleanup_releases_every_natpmp_orphan)
{
    cleanup_releases_every_orphan("natpmp", 26200);
}
END_TEST

START_TEST(cli_cleanup_releases_every_upnp_orphan)
{
    cleanup_releases_every_orphan("upnp", 26400);
}
END_TEST

#define UPNP_ORPHANS 50
#define UPNP_ROUNDS 4 /* LAB_UPNP_ROUNDS=10 for a longer measurement */

static int no_upnp_orphan_left(void *arg)
{
    return orphans_left(*(int *)arg, UPNP_ORPHANS) == 0;
}

/* Release first's orphans: by a new client that finds the router (even
 * rounds) or by `portmap-cli cleanup` (odd ones), which must count them
 * truly. */
static void release_upnp_orphans(int round, int first)
{
    portmap_client *c;
    portmap_discovery d;
    char out[1024], want[128];

    if (round % 2) {
        ck_assert_int_eq(cli_all(out, sizeof(out), "cleanup"), 0);
        snprintf(want, sizeof(want), "released %d mappings left by dead processes\n",
                 UPNP_ORPHANS);
        ck_assert_str_eq(out, want);
        return;
    }
    c = open_client(PORTMAP_METHOD_AUTO, 5000);
    ck_assert_int_eq(portmap_discover(c, &d, 0, 5000), PORTMAP_OK);
    wait_until(no_upnp_orphan_left, &first, 15000);
    portmap_close(&c);
}

/* UPnP deletes are TCP exchanges with the router's small HTTP server: 50
 * orphans are released at once without losing any, round after round
 * (each delete confirmed, or tried again). */
START_TEST(every_upnp_orphan_released)
{
    const char *env = getenv("LAB_UPNP_ROUNDS");
    int first = 27500, rounds = env ? atoi(env) : UPNP_ROUNDS;

    for (int round = 0; round < rounds; round++) {
        int64_t t0;
        int left;

        kill_many(first, UPNP_ORPHANS, "upnp");
        ck_assert_int_eq(orphans_left(first, UPNP_ORPHANS), UPNP_ORPHANS);
        t0 = now_ms();
        release_upnp_orphans(round, first);
        left = orphans_left(first, UPNP_ORPHANS);
        printf("round %d (%s): %d UPnP orphans released in %.2f s, %d left\n", round,
               round % 2 ? "portmap-cli cleanup" : "a new client", UPNP_ORPHANS - left,
               (double)(now_ms() - t0) / 1000.0, left);
        ck_assert_int_eq(left, 0);
    }
}
END_TEST

START_TEST(cli_cleanup_after_sigkill)
{
    char out[1024];

    kill_holder("pcp", 27092);
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27092));
    /* the NAT mapping and the pinhole */
    ck_assert_int_eq(cli_all(out, sizeof(out), "cleanup"), 0);
    ck_assert_str_eq(out, "released 2 mappings left by dead processes\n");
    ck_assert(!has_rule("udp", 27092));
    ck_assert(pinhole_gone("udp", LAN6_ADDR, 27092));
    ck_assert_int_eq(cli_all(out, sizeof(out), "cleanup --json"), 0);
    ck_assert_str_eq(out, "{\"released\":0}\n");
}
END_TEST

static int orphans_unmapped(void *arg)
{
    (void)arg;
    return !has_rule("udp", 27093) && !has_rule("udp", 27089);
}

/* No command needed: the next client to find the router releases it. */
START_TEST(next_client_releases_what_a_killed_one_left)
{
    portmap_client *c;
    portmap_discovery d;

    kill_holder("upnp", 27093);
    kill_holder("natpmp", 27089);
    c = open_client(PORTMAP_METHOD_AUTO, 3000);
    ck_assert_int_eq(portmap_discover(c, &d, 0, 3000), PORTMAP_OK);
    wait_until(orphans_unmapped, NULL, 5000);
    ck_assert_msg(!has_rule("udp", 27093), "UPnP orphan still mapped");
    ck_assert_msg(pinhole_gone("udp", LAN6_ADDR, 27093), "UPnP orphan's pinhole still open");
    ck_assert_msg(!has_rule("udp", 27089), "NAT-PMP orphan still mapped");
    portmap_close(&c);
}
END_TEST

/* A pinhole that `--once` left is closed by another process through
 * the journal (UPnP: the router is asked for the pinhole's id again). */
START_TEST(release_port_closes_a_pinhole_left_by_once)
{
    char line[1024];
    portmap_client *c;

    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27148 udp -6 --once --json --protocol upnp"), 0);
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27148));
    c = open_client(0, 5000);
    ck_assert_int_eq(portmap_release_port(c, PORTMAP_UDP, 27148, PORTMAP_METHOD_AUTO, 5000),
                     PORTMAP_OK);
    ck_assert(!has_pinhole("udp", LAN6_ADDR, 27148));
    portmap_close(&c);
}
END_TEST

Suite *lab_release_suite(int upnp_only)
{
    Suite *s = suite_create("lab_release");
    TCase *tc = lab_tcase(s, upnp_only);

    tcase_add_test(tc, close_releases_everything);
    tcase_add_test(tc, every_upnp_orphan_released);
    if (upnp_only)
        return s;
    tcase_add_test(tc, cli_cleanup_after_sigkill);
    tcase_add_test(tc, cli_cleanup_releases_every_pcp_orphan);
    tcase_add_test(tc, cli_cleanup_releases_every_natpmp_orphan);
    tcase_add_test(tc, cli_cleanup_releases_every_upnp_orphan);
    tcase_add_test(tc, next_client_releases_what_a_killed_one_left);
    tcase_add_test(tc, release_port_closes_a_pinhole_left_by_once);
    return s;
}
