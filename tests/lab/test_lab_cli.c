/*
 * Lab suite lab_cli: the portmap command line against the lab's router:
 * request --once and release, holding until a signal, audit and --prune,
 * check, discover, external-ip, list, and its errors.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_support.h"

static void cli_once_then_release(const char *method, unsigned port)
{
    char line[1024], want[64];

    ck_assert_int_eq(cli_run(line, sizeof(line), "request %u udp --protocol %s --once --json", port,
                             method), 0);
    ck_assert_msg(strstr(line, "\"event\":\"mapped\""), "unexpected output: %s", line);
    snprintf(want, sizeof(want), "\"method\":\"%s\"", method);
    ck_assert_msg(strstr(line, want), "unexpected output: %s", line);
    ck_assert_msg(strstr(line, "\"external_address\":\"" WAN_ADDR "\""), "output: %s", line);
    snprintf(want, sizeof(want), "\"internal_port\":%u", port);
    ck_assert_msg(strstr(line, want), "unexpected output: %s", line);
    ck_assert(strstr(line, "\"lifetime\":"));
    ck_assert(strstr(line, "\"external_port\":"));
    ck_assert_msg(has_rule("udp", port), "--once left no rule");
    ck_assert_int_eq(cli_run(line, sizeof(line), "release %u udp", port), 0);
    ck_assert_msg(!has_rule("udp", port), "release left the rule");
}

START_TEST(cli_pcp_once) { cli_once_then_release("pcp", 27050); }
END_TEST
START_TEST(cli_natpmp_once) { cli_once_then_release("natpmp", 27051); }
END_TEST

/* A user runs the same --once command again (the mappings of the first
 * run are still there): both families are mapped again at once. The
 * router renews a pinhole it holds and answers without its port
 * (miniupnpd 2.3.1): the second run waited out its timeout for the IPv6
 * half and said "no IPv6 pinhole". */
START_TEST(cli_request_once_again)
{
    char out[4096];

    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(cli_all(out, sizeof(out), "request 27056 udp 27057 tcp --once"), 0);
        ck_assert_msg(strstr(out, "[2001:db8:77:1::2]:27056") &&
                      strstr(out, "[2001:db8:77:1::2]:27057") && !strstr(out, "no IPv6"),
                      "run %d: %s", run + 1, out);
    }
    ck_assert_int_eq(cli_run(out, sizeof(out), "release 27056 udp"), 0);
    ck_assert_int_eq(cli_run(out, sizeof(out), "release 27057 tcp"), 0);
}
END_TEST

START_TEST(cli_holds_until_sigint)
{
    char line[1024];
    int fds[2];
    pid_t pid;
    FILE *f;
    int st;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", "27052", "tcp", "--json", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    /* by default both families: the NAT mapping, then the pinhole */
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "\"event\":\"mapped\"") && strstr(line, "\"family\":\"ipv4\""),
                  "output: %s", line);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "\"event\":\"mapped\"") && strstr(line, "\"family\":\"ipv6\""),
                  "output: %s", line);
    ck_assert(has_rule("tcp", 27052));
    ck_assert(has_pinhole("tcp", LAN6_ADDR, 27052));
    kill(pid, SIGINT);
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
        ck_assert_msg(strstr(line, "\"event\":\"released\""), "output: %s", line);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(!has_rule("tcp", 27052));
    ck_assert(pinhole_gone("tcp", LAN6_ADDR, 27052));
    fclose(f);
}
END_TEST

/* Several ports held together, all released on SIGTERM. */
START_TEST(cli_holds_several_until_sigterm)
{
    char line[1024];
    int fds[2], st, mapped = 0, released = 0;
    pid_t pid;
    FILE *f;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", "27054", "udp", "27055", "tcp", "27056", "udp", "--json",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    /* each port in both families */
    while (mapped < 6 && fgets(line, sizeof(line), f))
        mapped += strstr(line, "\"event\":\"mapped\"") != NULL;
    ck_assert_int_eq(mapped, 6);
    ck_assert(has_rule("udp", 27054) && has_rule("tcp", 27055) && has_rule("udp", 27056));
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27054) && has_pinhole("tcp", LAN6_ADDR, 27055));
    kill(pid, SIGTERM);
    while (fgets(line, sizeof(line), f))
        released += strstr(line, "\"event\":\"released\"") != NULL;
    ck_assert_int_eq(released, 6);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(!has_rule("udp", 27054) && !has_rule("tcp", 27055) && !has_rule("udp", 27056));
    ck_assert(pinhole_gone("udp", LAN6_ADDR, 27054) && pinhole_gone("tcp", LAN6_ADDR, 27055) &&
              pinhole_gone("udp", LAN6_ADDR, 27056));
    fclose(f);
}
END_TEST

/* audit flags an exposed RDP port and a stale mapping; --prune removes
 * only the stale one, not the one a running process holds. */
START_TEST(cli_audit_and_prune)
{
    char line[1024], out[8192] = "";
    int fds[2], st;
    size_t len = 0;
    pid_t holder;
    FILE *f, *p;

    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27096 udp --once"), 0);
    ck_assert_int_eq(pipe(fds), 0);
    holder = fork();
    if (holder == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", "3389", "tcp", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f)); /* mapped */

    snprintf(line, sizeof(line), "'%s' audit", cli);
    p = popen(line, "r");
    while (len < sizeof(out) - 1 && fgets(out + len, (int)(sizeof(out) - len), p))
        len = strlen(out);
    st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "audit must exit 1: %s", out);
    ck_assert_msg(strstr(out, "tcp 3389") && strstr(out, "RDP"), "no RDP finding: %s", out);
    ck_assert_msg(strstr(out, "udp 27096") && strstr(out, "stale"), "no stale finding: %s", out);
    ck_assert_msg(!strstr(out, "3389: stale"), "a held mapping was called stale: %s", out);

    ck_assert_int_eq(cli_run(line, sizeof(line), "audit --prune"), 1); /* RDP stays flagged */
    ck_assert(!has_rule("udp", 27096));
    ck_assert(has_rule("tcp", 3389));

    kill(holder, SIGTERM);
    ck_assert_int_eq(waitpid(holder, &st, 0), holder);
    fclose(f);
    ck_assert(!has_rule("tcp", 3389));
    ck_assert_int_eq(cli_run(line, sizeof(line), "audit"), 0);
}
END_TEST

START_TEST(cli_allow_needs_a_protocol_that_can)
{
    char out[1024];
    int rc = cli_run(out, sizeof(out), "request 27121 tcp --protocol natpmp --allow 11.77.0.2 --once 2>&1");

    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "--allow") && strstr(out, "NAT-PMP"), "%s", out);
    ck_assert(!has_rule("tcp", 27121));
    rc = cli_run(out, sizeof(out), "request 27121 tcp --allow 11.77.0.5/24 --once 2>&1");
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(out, "--allow"), "%s", out);
}
END_TEST

START_TEST(cli_no_gateway_error)
{
    char out[2048];
    int64_t t0 = now_ms();
    int rc = cli_all(out, sizeof(out), "request 27053 udp --gateway 10.77.0.99 --timeout 2 2>&1");

    ck_assert_msg(rc == 3, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "no gateway answered") && strstr(out, "10.77.0.99"), "%s", out);
    /* each protocol's own reason, never a made-up one */
    ck_assert_msg(strstr(out, "PCP: no answer within 2.0 s"), "%s", out);
    ck_assert_msg(!strstr(out, "success") && !strstr(out, "not asked"), "%s", out);
    ck_assert_int_lt(now_ms() - t0, 3000);
}
END_TEST

/* check from inside: open only when a TCP connection to the external
 * address comes back to a listener here through the router; closed only
 * when nothing here listens; otherwise unknown (never closed without
 * proof: a router without NAT loopback, or no mapping in a table that
 * may not be the whole story). UDP is never probed from inside: the
 * probe would land in the service. lab_check tests the outside check. */
static void cli_check(const char *proto, unsigned port)
{
    int tcp = !strcmp(proto, "tcp"), rc;
    char line[1024];
    echo e;

    ck_assert_int_eq(cli_run(line, sizeof(line), "request %u %s --once", port, proto), 0);
    echo_start(&e, tcp, port);
    rc = cli_run(line, sizeof(line), "check %u %s --json", port, proto);
    if (tcp)
        ck_assert_msg(rc == 0 && strstr(line, "\"state\":\"open\"") &&
                          strstr(line, "\"listening\":true") &&
                          strstr(line, "\"reached_this_host\":true"),
                      "not open: exit %d: %s", rc, line);
    else
        ck_assert_msg(rc == 1 && strstr(line, "\"state\":\"unknown\"") &&
                          strstr(line, "\"listening\":true") && strstr(line, "--via"),
                      "not unknown: exit %d: %s", rc, line);
    echo_stop(&e);
    ck_assert_int_eq(cli_run(line, sizeof(line), "check %u %s", port, proto), 1);
    ck_assert_msg(!strncmp(line, "port ", 5) && strstr(line, " is closed at " WAN_ADDR) &&
                      strstr(line, "nothing on this host"),
                  "not closed: %s", line);
    ck_assert_int_eq(cli_run(line, sizeof(line), "release %u %s", port, proto), 0);

    echo_start(&e, tcp, port); /* listening, but no mapping: cannot be proved closed */
    ck_assert_int_eq(cli_run(line, sizeof(line), "check %u %s --json", port, proto), 1);
    ck_assert_msg(strstr(line, "\"state\":\"unknown\"") && strstr(line, "\"mapping\":false") &&
                      strstr(line, "no mapping for it"),
                  "no mapping, yet: %s", line);
    echo_stop(&e);
}

START_TEST(cli_check_tcp) { cli_check("tcp", 27097); }
END_TEST
START_TEST(cli_check_udp) { cli_check("udp", 27098); }
END_TEST

/* Another LAN host's mapping is flagged and never pruned. The other host is
 * a second address on this namespace's link, used only while upnpc (the
 * reference client) talks to the router from it, since secure_mode lets a
 * host map only to itself. */
static int as_other_host(const char *upnpc_args)
{
    int rc;
    if (run("ip addr add 10.77.0.3/24 dev lan0 && ip route replace 10.77.0.1/32 dev lan0 src 10.77.0.3"))
        return -1;
    rc = run("upnpc -u http://10.77.0.1:5000/rootDesc.xml %s >/dev/null 2>&1", upnpc_args);
    run("ip route del 10.77.0.1/32 dev lan0; ip addr del 10.77.0.3/24 dev lan0");
    return rc;
}

START_TEST(cli_audit_other_host)
{
    char line[1024], out[8192] = "";
    size_t len = 0;
    FILE *p;
    int st;

    ck_assert_int_eq(as_other_host("-e other-host -a 10.77.0.3 27091 27091 tcp 600"), 0);
    ck_assert(has_rule("tcp", 27091));
    snprintf(line, sizeof(line), "'%s' audit --prune --json", cli);
    p = popen(line, "r");
    while (len < sizeof(out) - 1 && fgets(out + len, (int)(sizeof(out) - len), p))
        len = strlen(out);
    st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "audit must exit 1: %s", out);
    ck_assert_msg(strstr(out, "\"internal_client\":\"10.77.0.3\"") &&
                      strstr(out, "\"other_host\":true") && strstr(out, "another host"),
                  "no other-host finding: %s", out);
    ck_assert_msg(has_rule("tcp", 27091), "--prune removed another host's mapping");
    ck_assert_int_eq(as_other_host("-d 27091 tcp"), 0);
    ck_assert(!has_rule("tcp", 27091));
}
END_TEST

START_TEST(cli_discover_external_ip_list)
{
    char out[8192];

    ck_assert_int_eq(cli_all(out, sizeof(out), "discover --json"), 0);
    ck_assert_msg(strstr(out, "\"gateway\":\"10.77.0.1\"") && strstr(out, "\"local_address\":\"10.77.0.2\"") &&
                      strstr(out, "\"external_address\":\"" WAN_ADDR "\"") &&
                      strstr(out, "\"pcp\":true,\"pcp_version\":2,\"natpmp\":true,\"upnp\":true") &&
                      strstr(out, "\"upnp_version\":2") && strstr(out, "\"nat\":\"nat\""),
                  "discover: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "discover"), 0);
    ck_assert_msg(strstr(out, "verdict: behind NAT") && strstr(out, "upnp yes (IGD v2"), "%s", out);

    ck_assert_int_eq(cli_all(out, sizeof(out), "external-ip"), 0);
    ck_assert_str_eq(out, WAN_ADDR "\n");

    ck_assert_int_eq(cli_all(out, sizeof(out), "request 27094 tcp --once --protocol upnp --description cli-list"), 0);
    ck_assert_int_eq(cli_all(out, sizeof(out), "list --json"), 0);
    ck_assert_msg(strstr(out, "{\"protocol\":\"tcp\",\"external_port\":27094,\"internal_client\":\"10.77.0.2\","
                              "\"internal_port\":27094,\"description\":\"cli-list\",\"lease\":"),
                  "list: %s", out);
    ck_assert_msg(strstr(out, "\"ours\":true,\"source\":\"router\"}"), "list: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "release 27094 tcp --json"), 0);
    ck_assert_msg(strstr(out, "\"event\":\"released\""), "release: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "list --json"), 0);
    ck_assert_msg(!strstr(out, "27094"), "still listed after release: %s", out);
}
END_TEST

/* A holder killed with SIGKILL cannot release; its journal entry can. */

/* The router's daemon is down: every command fails within its timeout. */
START_TEST(cli_router_down_error)
{
    char out[2048];
    int64_t t0, took;
    int rc;

    ck_assert_int_eq(run("'%s' router-stop", lab), 0);
    t0 = now_ms();
    rc = cli_all(out, sizeof(out), "request 27099 udp --timeout 2 2>&1");
    took = now_ms() - t0;
    ck_assert_int_eq(run("'%s' router-start", lab), 0);
    ck_assert_msg(rc == 3, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "no gateway answered") && strstr(out, "10.77.0.1"), "%s", out);
    ck_assert_msg(strstr(out, "refused") && !strstr(out, "success"), "%s", out);
    /* every protocol was refused at once: the answer is known, no timeout
     * is waited out (ICMP rate limits aside, well under a second) */
    ck_assert_msg(took < 1500, "took %lld ms", (long long)took);
}
END_TEST

START_TEST(cli_upnp_once) { cli_once_then_release("upnp", 27065); }
END_TEST

/* A router without UPnP-IGD (pmp-only) has no table to read: list and
 * audit show this host's own mappings, made through PCP and NAT-PMP, from
 * the journal, say so, and audit --prune releases the stale ones (the
 * old list said the table cannot be read and showed nothing, exit 3). */
START_TEST(cli_list_audit_from_journal)
{
    char line[1024], out[8192];
    char *argv[] = { (char *)cli, "request", "27072", "tcp", "--protocol", "pcp", "-4", NULL };
    pid_t holder;
    FILE *f;
    int rc, st;

    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27070 tcp --once --protocol pcp -4"), 0);
    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27071 udp --once --protocol natpmp -4"),
                     0);
    holder = cli_start(argv, &f);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f)); /* mapped */
    ck_assert(has_rule("tcp", 27072));

    rc = cli_all(out, sizeof(out), "list --json -4");
    ck_assert_msg(rc == 0 && strstr(out, "{\"warning\":\"the router's table cannot be read over "
                                         "PCP or NAT-PMP") &&
                      strstr(out, "\"external_port\":27070,\"internal_client\":\"10.77.0.2\","
                                  "\"internal_port\":27070,\"description\":\"pcp\"") &&
                      strstr(out, "\"internal_port\":27071,\"description\":\"natpmp\"") &&
                      strstr(out, "\"external_port\":27072") &&
                      strstr(out, "\"ours\":true,\"source\":\"journal\"") &&
                      !strstr(out, "\"source\":\"router\""), "exit %d: %s", rc, out);
    rc = cli_all(out, sizeof(out), "list -4 2>&1");
    ck_assert_msg(rc == 0 && strstr(out, "tcp 27070 -> 10.77.0.2:27070") &&
                      strstr(out, "made with natpmp  (this host, from the journal)") &&
                      strstr(out, "made with pcp  (this host, held, from the journal)") &&
                      strstr(out, "other hosts' cannot be known"), "exit %d: %s", rc, out);

    /* the two left by --once are stale, the held one is not */
    rc = cli_all(out, sizeof(out), "audit -4");
    ck_assert_msg(rc == 1 && strstr(out, "tcp 27070 -> 10.77.0.2:27070: stale") &&
                      strstr(out, "udp 27071 -> 10.77.0.2:27071: stale") &&
                      !strstr(out, "27072"), "exit %d: %s", rc, out);
    rc = cli_all(out, sizeof(out), "audit --prune -4");
    ck_assert_msg(rc == 0 && strstr(out, "27070: stale") && strstr(out, "pruned: true"),
                  "exit %d: %s", rc, out);
    ck_assert(!has_rule("tcp", 27070));
    ck_assert(!has_rule("udp", 27071));
    ck_assert(has_rule("tcp", 27072));
    rc = cli_all(out, sizeof(out), "audit -4");
    ck_assert_msg(rc == 0 && strstr(out, "nothing to flag in 1 mapping of this host (from its "
                                         "journal)"), "exit %d: %s", rc, out);

    kill(holder, SIGTERM);
    ck_assert_int_eq(waitpid(holder, &st, 0), holder);
    fclose(f);
    ck_assert(!has_rule("tcp", 27072));
    rc = cli_all(out, sizeof(out), "list -4");
    ck_assert_msg(rc == 0 && !strstr(out, "2707"), "exit %d: %s", rc, out);
}
END_TEST

/* No router answers (profile none): list says so at once. */
START_TEST(cli_list_no_router)
{
    char out[2048];
    int64_t t0 = now_ms();
    int rc = cli_all(out, sizeof(out), "list 2>&1");

    ck_assert_msg(rc == 3 && strstr(out, "none answered") && strstr(out, "PCP: refused"),
                  "exit %d: %s", rc, out);
    ck_assert_int_lt(now_ms() - t0, 2000);
}
END_TEST

/* list and audit show this host's IPv6 pinholes (from the journal: no
 * protocol lists them), audit flags the stale ones and --prune removes
 * them, by PCP and by UPnP-IGD's WANIPv6FirewallControl alike, and never
 * one a running process holds. */
START_TEST(cli_pinholes_list_audit_prune)
{
    static const struct { unsigned port; const char *proto, *method; } left[] = {
        { 27400, "tcp", "pcp" }, { 27401, "udp", "upnp" }, { 27402, "tcp", "upnp" },
    };
    char line[1024], out[8192], want[160];
    int fds[2], st;
    pid_t holder;
    FILE *f;

    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(cli_run(line, sizeof(line), "request %u %s --once -6 --protocol %s",
                                 left[i].port, left[i].proto, left[i].method), 0);
        ck_assert(has_pinhole(left[i].proto, LAN6_ADDR, left[i].port));
    }
    ck_assert_int_eq(pipe(fds), 0);
    holder = fork();
    if (holder == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", "27403", "tcp", "-6", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f)); /* mapped */

    ck_assert_int_eq(cli_all(out, sizeof(out), "list --json"), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "{\"protocol\":\"%s\",\"external_port\":%u,"
                 "\"internal_client\":\"" LAN6_ADDR "\",\"internal_port\":%u,\"description\":"
                 "\"%s\"", left[i].proto, left[i].port, left[i].port, left[i].method);
        ck_assert_msg(strstr(out, want), "no %s in: %s", want, out);
    }
    ck_assert_msg(strstr(out, "\"family\":\"ipv6\",\"ours\":true,\"source\":\"journal\"}") &&
                      strstr(out, "\"external_port\":27403"), "list: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "list -6"), 0);
    ck_assert_msg(strstr(out, "tcp pinhole [" LAN6_ADDR "]:27403") && strstr(out, "held"),
                  "list -6: %s", out);

    ck_assert_int_eq(cli_all(out, sizeof(out), "audit"), 1);
    ck_assert_msg(strstr(out, "udp pinhole [" LAN6_ADDR "]:27401: stale") &&
                      !strstr(out, "27403: stale"), "audit: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "audit --prune --json"), 0);
    ck_assert_msg(strstr(out, "\"family\":\"ipv6\"") && strstr(out, "\"pruned\":true") &&
                      !strstr(out, "\"pruned\":false"), "prune: %s", out);
    for (size_t i = 0; i < 3; i++)
        ck_assert_msg(pinhole_gone(left[i].proto, LAN6_ADDR, left[i].port),
                      "the stale pinhole of %u stayed", left[i].port);
    ck_assert(has_pinhole("tcp", LAN6_ADDR, 27403));
    ck_assert_int_eq(cli_all(out, sizeof(out), "list -6 --json"), 0);
    ck_assert_msg(!strstr(out, "2740") || (strstr(out, "27403") && !strstr(out, "27401")),
                  "still listed: %s", out);

    kill(holder, SIGTERM);
    ck_assert_int_eq(waitpid(holder, &st, 0), holder);
    fclose(f);
    ck_assert(pinhole_gone("tcp", LAN6_ADDR, 27403));
}
END_TEST

/* tmux: the screen of the terminal a held request runs in. */
static void screen(const char *sock, char *out, size_t len)
{
    char cmd[512];
    size_t n = 0;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "tmux -S '%s' capture-pane -p -t live 2>/dev/null", sock);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    while (n < len - 1 && fgets(out + n, (int)(len - n), p))
        n = strlen(out);
    pclose(p);
}

static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        k++;
    return k;
}

/* On a terminal a held request shows one status line per mapping,
 * redrawn in place (lease left, renewals), and a Ctrl-C hint; Ctrl-C
 * releases, and the block is gone from the screen. */
START_TEST(cli_live_status_on_a_tty)
{
    char sock[128], conf[128], out[8192];
    int seen = 0;

    if (run("command -v tmux >/dev/null") != 0) {
        fprintf(stderr, "cli_live_status_on_a_tty: no tmux (scripts/setup.sh installs it)\n");
        ck_abort_msg("tmux is needed");
    }
    snprintf(sock, sizeof(sock), "%s/tmux.sock", lab_state_dir);
    snprintf(conf, sizeof(conf), "%s/tmux.conf", lab_state_dir);
    ck_assert_int_eq(run("echo 'set -g remain-on-exit on' > '%s'", conf), 0);
    /* The shell in the pane ignores Ctrl-C and writes the exit code; the
     * request gets SIGINT as a terminal's shell leaves it (a test runner
     * may ignore it, and an ignored signal stays ignored across exec). */
    ck_assert_int_eq(run("tmux -S '%s' -f '%s' new-session -d -s live -x 150 -y 30 "
                         "\"trap '' INT; env --default-signal=INT,TERM '%s' request 27500 udp -4 "
                         "--lifetime 4; echo exit=\\$? > '%s/live.rc'\"", sock, conf, cli,
                         lab_state_dir), 0);
    /* the lease is 4 s: renewed within a few seconds */
    for (int i = 0; i < 100 && !seen; i++) {
        usleep(100 * 1000);
        screen(sock, out, sizeof(out));
        seen = strstr(out, "renewed 1 time") != NULL;
    }
    ck_assert_msg(seen, "no renewal shown: %s", out);
    ck_assert_msg(strstr(out, "mapped udp 27500 -> " WAN_ADDR ":27500") &&
                      count(out, "udp " WAN_ADDR ":27500 <- 27500") == 1 &&
                      strstr(out, " left") && count(out, "Ctrl-C releases") == 1,
                  "screen: %s", out);
    ck_assert(has_rule("udp", 27500));
    ck_assert_int_eq(run("tmux -S '%s' send-keys -t live C-c", sock), 0);
    seen = 0;
    for (int i = 0; i < 50 && !seen; i++) {
        usleep(100 * 1000);
        seen = run("grep -qx exit=0 '%s/live.rc' 2>/dev/null", lab_state_dir) == 0;
    }
    screen(sock, out, sizeof(out));
    run("tmux -S '%s' kill-server", sock);
    ck_assert_msg(seen, "Ctrl-C did not end it with exit 0: %s", out);
    ck_assert_msg(strstr(out, "released udp 27500") && !strstr(out, "<- 27500") &&
                      !strstr(out, "Ctrl-C releases"), "screen after Ctrl-C: %s", out);
    ck_assert(!has_rule("udp", 27500));
}
END_TEST

/* Not a terminal: the event lines alone, no status block, no escapes;
 * with --json an error is a JSON object on stdout. */
START_TEST(cli_plain_lines_and_json_errors)
{
    char out[4096];

    ck_assert_int_eq(cli_all(out, sizeof(out), "request 27501 udp -4 --once"), 0);
    ck_assert_msg(!strncmp(out, "mapped udp 27501 -> " WAN_ADDR ":27501", 35) &&
                      !strchr(out, '\033') && !strstr(out, "Ctrl-C"), "%s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "release 27501 udp"), 0);
    /* (a request's failure is its "failed" event, JSON already) */
    ck_assert_int_eq(cli_all(out, sizeof(out), "external-ip --gateway 10.77.0.99 --timeout 1 "
                                               "--json 2>/dev/null"), 3);
    ck_assert_msg(!strncmp(out, "{\"error\":\"no gateway found or none answered: the router at "
                                "10.77.0.99", 65) && strstr(out, "\"exit_code\":3}\n"), "%s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "--json request 27502 udp --prune 2>/dev/null"), 2);
    ck_assert_str_eq(out, "{\"error\":\"--prune is not an option of request (portmap-cli help "
                          "request)\",\"exit_code\":2}\n");
}
END_TEST

/* --interface: the router behind the LAN interface, by its default
 * route; none behind lo. */
START_TEST(cli_interface)
{
    char out[4096];

    ck_assert_int_eq(cli_all(out, sizeof(out), "discover -4 --interface lan0 --json"), 0);
    ck_assert_msg(strstr(out, "\"gateway\":\"10.77.0.1\""), "%s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "discover -6 --interface lan0 --json"), 0);
    ck_assert_msg(strstr(out, "\"gateway\":\"fe80::1%lan0\"") ||
                      strstr(out, "\"gateway\":\"fe80::1%"), "%s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "external-ip --interface lo 2>&1"), 3);
    ck_assert_msg(strstr(out, "--interface lo: no IPv4 default route through it"), "%s", out);
}
END_TEST

/* audit --prune --ports deletes a range of this host's entries, a port
 * with a listener too (the user named the range), and nothing outside it. */
START_TEST(cli_prune_a_range)
{
    char line[1024], out[8192];
    echo e;

    for (unsigned p = 27600; p <= 27602; p++)
        ck_assert_int_eq(cli_run(line, sizeof(line), "request %u udp --once -4 --protocol upnp", p),
                         0);
    echo_start(&e, 0, 27601);
    ck_assert_int_eq(cli_all(out, sizeof(out), "audit --ports 27600-27602 -4"), 1);
    ck_assert_msg(strstr(out, "udp 27600") && strstr(out, "udp 27601") &&
                      strstr(out, "udp 27602") && !strstr(out, "udp 2750"), "%s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "audit --prune --ports 27600-27601 -4"), 0);
    echo_stop(&e);
    ck_assert_msg(!has_rule("udp", 27600) && !has_rule("udp", 27601), "%s", out);
    ck_assert(has_rule("udp", 27602));
    ck_assert_int_eq(cli_run(line, sizeof(line), "release 27602 udp"), 0);
}
END_TEST

/* The risky-service table knows its transports: udp/27017 is not MongoDB,
 * udp/11211 (memcached) is risky. */
START_TEST(cli_audit_risky_by_transport)
{
    char line[1024], out[8192];

    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27017 udp --once -4 --protocol upnp"), 0);
    ck_assert_int_eq(cli_all(out, sizeof(out), "audit -4"), 1); /* stale, yet not MongoDB */
    ck_assert_msg(strstr(out, "udp 27017") && !strstr(out, "MongoDB"), "%s", out);
    ck_assert_int_eq(cli_run(line, sizeof(line), "release 27017 udp"), 0);
    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27017 tcp --once -4 --protocol upnp"), 0);
    ck_assert_int_eq(cli_all(out, sizeof(out), "audit -4"), 1);
    ck_assert_msg(strstr(out, "tcp 27017") && strstr(out, "MongoDB"), "%s", out);
    ck_assert_int_eq(cli_run(line, sizeof(line), "release 27017 tcp"), 0);
}
END_TEST

Suite *lab_cli_suite(int upnp_only)
{
    Suite *s = suite_create("lab_cli");
    TCase *tc = lab_tcase(s, upnp_only);

    if (upnp_only) {
        tcase_add_test(tc, cli_upnp_once);
        return s;
    }
    if (lab_router() == LAB_PMP) {
        tcase_add_test(tc, cli_pcp_once);
        tcase_add_test(tc, cli_request_once_again);
        tcase_add_test(tc, cli_natpmp_once);
        tcase_add_test(tc, cli_no_gateway_error);
        tcase_add_test(tc, cli_list_audit_from_journal);
        return s;
    }
    if (lab_router() == LAB_NONE) {
        tcase_add_test(tc, cli_no_gateway_error);
        tcase_add_test(tc, cli_list_no_router);
        return s;
    }
    tcase_add_test(tc, cli_pcp_once);
    tcase_add_test(tc, cli_natpmp_once);
    tcase_add_test(tc, cli_upnp_once);
    tcase_add_test(tc, cli_request_once_again);
    tcase_add_test(tc, cli_holds_until_sigint);
    tcase_add_test(tc, cli_holds_several_until_sigterm);
    tcase_add_test(tc, cli_audit_and_prune);
    tcase_add_test(tc, cli_no_gateway_error);
    tcase_add_test(tc, cli_allow_needs_a_protocol_that_can);
    tcase_add_test(tc, cli_discover_external_ip_list);
    tcase_add_test(tc, cli_check_tcp);
    tcase_add_test(tc, cli_check_udp);
    tcase_add_test(tc, cli_audit_other_host);
    tcase_add_test(tc, cli_router_down_error);
    tcase_add_test(tc, cli_pinholes_list_audit_prune);
    tcase_add_test(tc, cli_audit_risky_by_transport);
    tcase_add_test(tc, cli_live_status_on_a_tty);
    tcase_add_test(tc, cli_plain_lines_and_json_errors);
    tcase_add_test(tc, cli_interface);
    tcase_add_test(tc, cli_prune_a_range);
    return s;
}
