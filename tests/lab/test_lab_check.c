/*
 * Lab suite lab_check: portmap-cli check from outside (--via), with
 * portmap-cli serve-check as the checker on the WAN host, and the local
 * check that must never say "closed" without proof. Every verdict a port
 * scanner gives: tcp open, closed (RST), filtered (an nft drop on the
 * router); udp open (the service's or the CLI's own answer), open|filtered
 * (a silent service), closed; NAT loopback off; a double NAT (the checker
 * sees another address than the router's external one).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_support.h"

#define CHECKER "11.77.0.2:8491"

static pid_t checker_pid;

/* serve-check on the WAN host, up once it says it listens. */
static void checker_start(void)
{
    char ns[64], line[256];
    int fds[2];
    FILE *f;

    snprintf(ns, sizeof(ns), "%s-wan", getenv("LAB_PREFIX") ? getenv("LAB_PREFIX") : "pm");
    ck_assert_int_eq(pipe(fds), 0);
    checker_pid = fork();
    if (checker_pid == 0) {
        /* gone with the test's process, even one that a failed assertion ended */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        execlp("ip", "ip", "netns", "exec", ns, cli, "serve-check", "--listen", CHECKER,
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "listening"), "serve-check: %s", line);
    fclose(f);
}

static void checker_stop(void)
{
    int st;

    if (checker_pid <= 0)
        return;
    kill(checker_pid, SIGTERM);
    waitpid(checker_pid, &st, 0);
    checker_pid = 0;
}

/* The outside check's JSON line and exit code. */
static int via(char *out, size_t len, unsigned port, const char *proto)
{
    return cli_run(out, len, "check %u %s --via " CHECKER " --json", port, proto);
}

static void map_upnp(unsigned port, const char *proto)
{
    char line[1024];
    /* UPnP-IGD, so that the router's table shows the mapping */
    ck_assert_int_eq(cli_run(line, sizeof(line), "request %u %s --once --protocol upnp -4", port,
                             proto), 0);
    ck_assert(has_rule(proto, port));
}

static void unmap(unsigned port, const char *proto)
{
    char line[1024];
    ck_assert_int_eq(cli_run(line, sizeof(line), "release %u %s", port, proto), 0);
}

/* A service listens: open; nothing listens: the CLI's own listener
 * answers for the check, and says so. */
START_TEST(check_tcp_open)
{
    char out[2048];
    echo e;
    int rc;

    checker_start();
    map_upnp(27300, "tcp");
    echo_start(&e, 1, 27300);
    rc = via(out, sizeof(out), 27300, "tcp");
    echo_stop(&e);
    ck_assert_msg(rc == 0 && strstr(out, "\"state\":\"open\"") &&
                      strstr(out, "\"seen_address\":\"" WAN_ADDR "\"") &&
                      strstr(out, "\"mapping\":true") && strstr(out, "\"listening\":true") &&
                      strstr(out, "\"double_nat\":false"), "exit %d: %s", rc, out);
    rc = via(out, sizeof(out), 27300, "tcp");
    ck_assert_msg(rc == 0 && strstr(out, "\"state\":\"open\"") &&
                      strstr(out, "\"own_listener\":true") &&
                      strstr(out, "\"reached_this_host\":true") && strstr(out, "start the service"),
                  "exit %d: %s", rc, out);
    /* the plain text says it the port-scanner way */
    rc = cli_run(out, sizeof(out), "check 27300 tcp --via " CHECKER);
    ck_assert_msg(rc == 0 && !strncmp(out, "port 27300/tcp is open from outside", 35), "%s", out);
    unmap(27300, "tcp");
    checker_stop();
}
END_TEST

/* No mapping: the router's own stack resets the connection. */
START_TEST(check_tcp_closed)
{
    char out[2048];
    int rc;

    checker_start();
    rc = via(out, sizeof(out), 27301, "tcp");
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"closed\"") &&
                      strstr(out, "\"mapping\":false") && strstr(out, "TCP reset") &&
                      strstr(out, "no mapping"), "exit %d: %s", rc, out);
    checker_stop();
}
END_TEST

static void drop_on_router(const char *proto, unsigned port)
{
    lab_changed();
    /* before the router's DNAT (priority -100): the packet never reaches the mapping */
    ck_assert_int_eq(run("ip netns exec ${LAB_PREFIX:-pm}-rtr nft -f - <<'EOF'\n"
                         "table ip labdrop {\n"
                         " chain pre { type filter hook prerouting priority -150; policy accept;\n"
                         "  iifname \"wan0\" %s dport %u drop\n"
                         " }\n"
                         "}\n"
                         "EOF", proto, port), 0);
}

static void undrop(void)
{
    ck_assert_int_eq(run("ip netns exec ${LAB_PREFIX:-pm}-rtr nft delete table ip labdrop"), 0);
    lab_restored();
}

/* The mapping is there, a firewall in front drops the packets: filtered,
 * and the mapping that exists yet does not help is named. */
START_TEST(check_tcp_filtered)
{
    char out[2048];
    int64_t t0;
    int rc;
    echo e;

    checker_start();
    map_upnp(27302, "tcp");
    echo_start(&e, 1, 27302);
    drop_on_router("tcp", 27302);
    t0 = now_ms();
    rc = via(out, sizeof(out), 27302, "tcp");
    undrop();
    echo_stop(&e);
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"filtered\"") &&
                      strstr(out, "\"mapping\":true") &&
                      strstr(out, "mapping for it, yet the port is not reachable from outside"),
                  "exit %d: %s", rc, out);
    /* the checker's probe is bounded (3 s), the answer is not waited past it */
    ck_assert_int_lt(now_ms() - t0, 6000);
    unmap(27302, "tcp");
    checker_stop();
}
END_TEST

/* UDP: the CLI's own socket answers the checker's token (open, and it
 * came here); a service that ignores an empty datagram is open|filtered;
 * no mapping is closed (ICMP port unreachable from the router). */
START_TEST(check_udp)
{
    char out[2048];
    int rc;
    echo e;

    checker_start();
    map_upnp(27303, "udp");
    rc = via(out, sizeof(out), 27303, "udp");
    ck_assert_msg(rc == 0 && strstr(out, "\"state\":\"open\"") &&
                      strstr(out, "\"own_listener\":true") && strstr(out, "\"reached_this_host\":true"),
                  "exit %d: %s", rc, out);
    /* the echo service does not answer the empty datagram a service gets */
    echo_start(&e, 0, 27303);
    rc = via(out, sizeof(out), 27303, "udp");
    echo_stop(&e);
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"open|filtered\"") &&
                      strstr(out, "\"own_listener\":false"), "exit %d: %s", rc, out);
    unmap(27303, "udp");
    rc = via(out, sizeof(out), 27303, "udp");
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"closed\"") &&
                      strstr(out, "ICMP port unreachable"), "exit %d: %s", rc, out);
    checker_stop();
}
END_TEST

/* NAT loopback off: from inside the check cannot know and says so (the
 * old check said closed, exit 1); from outside the port is open. */
START_TEST(check_hairpin_off)
{
    char out[2048];
    int rc, rc_via;
    echo e;

    checker_start();
    map_upnp(27304, "tcp");
    echo_start(&e, 1, 27304);
    lab_changed();
    ck_assert_int_eq(run("'%s' hairpin off", lab), 0);
    rc = cli_run(out, sizeof(out), "check 27304 tcp --json");
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"unknown\"") && !strstr(out, "closed") &&
                      strstr(out, "\"mapping\":true") && strstr(out, "--via"),
                  "exit %d: %s", rc, out);
    rc_via = via(out, sizeof(out), 27304, "tcp");
    ck_assert_int_eq(run("'%s' hairpin on", lab), 0);
    lab_restored();
    echo_stop(&e);
    ck_assert_msg(rc_via == 0 && strstr(out, "\"state\":\"open\""), "exit %d: %s", rc_via, out);
    unmap(27304, "tcp");
    checker_stop();
}
END_TEST

/* The local check of UDP never writes into the service: nothing arrives
 * at a bound socket, and the verdict is unknown, not closed. */
START_TEST(check_local_udp_silent)
{
    char out[2048];
    int rc;

    map_upnp(27305, "udp");
    rc = cli_run(out, sizeof(out), "check 27305 udp --json");
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"closed\"") &&
                      strstr(out, "nothing on this host is bound"), "exit %d: %s", rc, out);
    ck_assert_int_eq(run("python3 -c \"\nimport socket,subprocess,sys\n"
                         "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('',27305))\n"
                         "s.settimeout(0.5)\n"
                         "r=subprocess.run(['%s','check','27305','udp'],capture_output=True,text=True)\n"
                         "assert 'unknown' in r.stdout and r.returncode==1, r.stdout\n"
                         "try:\n  d=s.recv(100); sys.exit('the service got %%r' %% d)\n"
                         "except socket.timeout: pass\n\"", cli), 0);
    unmap(27305, "udp");
}
END_TEST

/* A second NAT in front of the router: the WAN host sees the router as
 * another address (an SNAT on its input), which it cannot reach back.
 * The mapping exists on the router, yet the port is not reachable. */
START_TEST(check_double_nat)
{
    char out[2048];
    int rc;

    checker_start();
    map_upnp(27306, "tcp");
    lab_changed();
    ck_assert_int_eq(run("ip netns exec ${LAB_PREFIX:-pm}-wan nft -f - <<'EOF'\n"
                         "table ip cgnat {\n"
                         " chain in { type nat hook input priority 100; policy accept;\n"
                         "  ip saddr " WAN_ADDR " snat to 100.64.0.9\n"
                         " }\n"
                         "}\n"
                         "EOF"), 0);
    /* the way back to the second NAT's address leads nowhere (no neighbour
     * answers for 11.77.0.254), as a carrier's NAT drops what no mapping
     * of its own lets in; the checker's answer on the request's own
     * connection is turned back to the router's address first */
    ck_assert_int_eq(run("ip -n ${LAB_PREFIX:-pm}-wan route add 100.64.0.9/32 via 11.77.0.254 "
                         "dev wan0"), 0);
    rc = via(out, sizeof(out), 27306, "tcp");
    ck_assert_int_eq(run("ip netns exec ${LAB_PREFIX:-pm}-wan nft delete table ip cgnat"), 0);
    ck_assert_int_eq(run("ip -n ${LAB_PREFIX:-pm}-wan route del 100.64.0.9/32"), 0);
    lab_restored();
    ck_assert_msg(rc == 1 && strstr(out, "\"seen_address\":\"100.64.0.9\"") &&
                      strstr(out, "\"double_nat\":true") && strstr(out, "\"mapping\":true") &&
                      strstr(out, "double NAT") &&
                      strstr(out, "mapping for it, yet the port is not reachable"),
                  "exit %d: %s", rc, out);
    unmap(27306, "tcp");
    checker_stop();
}
END_TEST

/* echoip's GET /port/N, served by serve-check too. */
START_TEST(check_via_http)
{
    char out[2048];
    int rc;

    checker_start();
    map_upnp(27307, "tcp");
    rc = cli_run(out, sizeof(out), "check 27307 tcp --via http://" CHECKER " --json");
    ck_assert_msg(rc == 0 && strstr(out, "\"state\":\"open\"") &&
                      strstr(out, "\"reached_this_host\":true"), "exit %d: %s", rc, out);
    unmap(27307, "tcp");
    rc = cli_run(out, sizeof(out), "check 27307 tcp --via http://" CHECKER " --json");
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"filtered\"") &&
                      strstr(out, "does not tell closed from filtered"), "exit %d: %s", rc, out);
    /* echoip tests TCP only */
    ck_assert_int_eq(cli_run(out, sizeof(out), "check 27307 udp --via http://" CHECKER " 2>&1"), 2);
    checker_stop();
}
END_TEST

/* One request line to the checker; its answer line into out. */
static void ask_checker(const char *line, char *out, size_t len)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(8491) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { .tv_sec = 10 };
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    inet_pton(AF_INET, "11.77.0.2", &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(send(fd, line, strlen(line), 0), (ssize_t)strlen(line));
    n = recv(fd, out, len - 1, MSG_WAITALL);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* The checker probes only the address a request came from: the protocol
 * has no field to name another, and a burst is cut short. */
START_TEST(check_rate_limited)
{
    char out[256];
    int limited = 0;

    checker_start();
    ask_checker("PORTMAP-CHECK/1 tcp 27308 11.77.0.2\n", out, sizeof(out));
    ck_assert_msg(strstr(out, "error bad-request"), "%s", out);
    for (int i = 0; i < 30 && !limited; i++) {
        ask_checker("PORTMAP-CHECK/1 tcp 27308\n", out, sizeof(out));
        ck_assert_msg(strstr(out, "closed " WAN_ADDR " 27308") || strstr(out, "rate-limited"),
                      "%s", out);
        limited = strstr(out, "error rate-limited") != NULL;
    }
    ck_assert_msg(limited, "30 checks in a row were all served");
    checker_stop();
}
END_TEST

Suite *lab_check_suite(int upnp_only)
{
    Suite *s = suite_create("lab_check");
    TCase *tc = lab_tcase(s, upnp_only);

    tcase_add_test(tc, check_tcp_open);
    tcase_add_test(tc, check_tcp_closed);
    tcase_add_test(tc, check_tcp_filtered);
    tcase_add_test(tc, check_udp);
    tcase_add_test(tc, check_hairpin_off);
    tcase_add_test(tc, check_local_udp_silent);
    tcase_add_test(tc, check_double_nat);
    tcase_add_test(tc, check_via_http);
    tcase_add_test(tc, check_rate_limited);
    return s;
}
