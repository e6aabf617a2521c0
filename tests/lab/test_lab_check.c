/*
 * Lab suite lab_check: portmap-cli check from outside (--via), with
 * portmap-cli serve-check and an HTTPS echoip checker (echoip-tls.py, its
 * certificate signed by the lab's own CA) as the checkers on the WAN host,
 * and the local check that must never say "closed" without proof. Every
 * verdict a port scanner gives: tcp open, closed (RST), filtered (an nft
 * drop on the router); udp open (the service's or the CLI's own answer),
 * open|filtered (a silent service), closed; NAT loopback off; a real
 * double NAT (lab.sh cgnat: a carrier's NAT between the router and the
 * WAN host); HTTPS: open, not reachable, a certificate not trusted, bad
 * checkers (junk, HTTP 500, silence), no network at all.
 */
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "lab_support.h"

#define CHECKER "11.77.0.2:8491"
#define HTTPS_CHECKER "https://11.77.0.2:8443"

static pid_t checker_pids[4];

/* argv (NULL-ended) in the WAN host's namespace, up once it says it
 * listens; stopped by checker_stop(). */
static void wan_start(const char *const *argv)
{
    const char *args[16] = { "ip", "netns", "exec" };
    char ns[64], line[256];
    size_t n = 3, slot = 0;
    int fds[2];
    FILE *f;

    while (slot < 4 && checker_pids[slot] > 0)
        slot++;
    ck_assert_uint_lt(slot, 4);
    snprintf(ns, sizeof(ns), "%s-wan", getenv("LAB_PREFIX") ? getenv("LAB_PREFIX") : "pm");
    args[n++] = ns;
    for (size_t i = 0; argv[i] && n < 15; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    ck_assert_int_eq(pipe(fds), 0);
    checker_pids[slot] = fork();
    if (checker_pids[slot] == 0) {
        /* gone with the test's process, even one that a failed assertion ended */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        execvp("ip", (char *const *)args);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "listening"), "%s: %s", argv[0], line);
    fclose(f);
}

/* serve-check on the WAN host */
static void checker_start(void)
{
    const char *argv[] = { cli, "serve-check", "--listen", CHECKER, NULL };
    wan_start(argv);
}

/* The lab's TLS files (lab.sh up made them): name in the buffer. */
static const char *tls_file(char *buf, size_t size, const char *name)
{
    char cmd[1024], dir[512] = "";
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' tls-dir", lab);
    ck_assert_ptr_nonnull(p = popen(cmd, "r"));
    ck_assert_ptr_nonnull(fgets(dir, sizeof(dir), p));
    ck_assert_int_eq(pclose(p), 0);
    dir[strcspn(dir, "\n")] = '\0';
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

/* echoip's port test over TLS on the WAN host, 11.77.0.2:port; mode
 * normal, or junk, http500, silent (tests/lab/echoip-tls.py) */
static void https_start(const char *mode, unsigned port)
{
    char script[600], dir[512], listen[32], cert[600], key[600];

    snprintf(dir, sizeof(dir), "%s", lab);
    snprintf(script, sizeof(script), "%s/echoip-tls.py", dirname(dir));
    snprintf(listen, sizeof(listen), "11.77.0.2:%u", port);
    const char *argv[] = { "python3", script, "--listen", listen,
                           "--cert", tls_file(cert, sizeof(cert), "server.pem"),
                           "--key", tls_file(key, sizeof(key), "server.key"),
                           "--mode", mode, NULL };
    wan_start(argv);
}

static void checker_stop(void)
{
    int st;

    for (size_t i = 0; i < 4; i++) {
        if (checker_pids[i] <= 0)
            continue;
        kill(checker_pids[i], SIGTERM);
        waitpid(checker_pids[i], &st, 0);
        checker_pids[i] = 0;
    }
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

/* A real double NAT (lab.sh cgnat on): the router's WAN side is a
 * carrier's inner link, and the carrier's NAT, with no mappings, is what
 * the Internet sees. The mapping is made on the router, yet from outside
 * the port is not reachable, and the check says why: the checker reached
 * another address than the router's external one. */
START_TEST(check_double_nat)
{
    char out[4096], ca[600];
    int rc;

    lab_changed();
    ck_assert_int_eq(run("'%s' cgnat on", lab), 0);
    checker_start();
    rc = cli_run(out, sizeof(out), "request 27306 tcp --once -4");
    ck_assert_msg(rc == 0 && strstr(out, CGNAT_RTR_ADDR ":27306"), "exit %d: %s", rc, out);
    ck_assert(has_rule("tcp", 27306));
    rc = via(out, sizeof(out), 27306, "tcp");
    ck_assert_msg(rc == 1 && strstr(out, "\"seen_address\":\"" CGNAT_OUT_ADDR "\"") &&
                      strstr(out, "\"double_nat\":true") &&
                      strstr(out, "\"state\":\"closed\"") && strstr(out, "double NAT") &&
                      strstr(out, "a second NAT (the provider's carrier-grade NAT") &&
                      strstr(out, "has no mapping for port 27306") &&
                      !strstr(out, "a firewall in front") &&
                      strstr(out, "\"router_external_address\":\"" CGNAT_RTR_ADDR "\"") &&
                      strstr(out, "\"mapping\":true") &&
                      strstr(out, "so the mapping on this router cannot be reached"),
                  "exit %d: %s", rc, out);
    /* the plain text leads with it */
    rc = cli_run(out, sizeof(out), "check 27306 tcp --via " CHECKER);
    ck_assert_msg(rc == 1 && strstr(out, "is closed from outside (checker " CHECKER
                                         "): double NAT: the checker reached this network at "
                                         CGNAT_OUT_ADDR), "exit %d: %s", rc, out);
    /* echoip over HTTPS sees the same */
    https_start("normal", 8443);
    rc = cli_run(out, sizeof(out), "check 27306 tcp --via " HTTPS_CHECKER " --cacert '%s' --json",
                 tls_file(ca, sizeof(ca), "ca.pem"));
    ck_assert_msg(rc == 1 && strstr(out, "\"seen_address\":\"" CGNAT_OUT_ADDR "\"") &&
                      strstr(out, "\"double_nat\":true"), "exit %d: %s", rc, out);
    checker_stop();
    unmap(27306, "tcp");
    ck_assert_int_eq(run("'%s' cgnat off", lab), 0);
    lab_restored();
}
END_TEST

/* HTTPS, the lab's CA given with --cacert: open (the CLI's own listener
 * answered the checker's connection), then, unmapped, not reachable. On
 * a router without UPnP-IGD the mapping is known from the journal. */
START_TEST(check_via_https)
{
    char out[4096], ca[600];
    int rc;

    https_start("normal", 8443);
    tls_file(ca, sizeof(ca), "ca.pem");
    ck_assert_int_eq(cli_run(out, sizeof(out), "request 27310 tcp --once -4"), 0);
    ck_assert(has_rule("tcp", 27310));
    rc = cli_run(out, sizeof(out), "check 27310 tcp --via " HTTPS_CHECKER " --cacert '%s' --json",
                 ca);
    ck_assert_msg(rc == 0 && strstr(out, "\"state\":\"open\"") &&
                      strstr(out, "\"seen_address\":\"" WAN_ADDR "\"") &&
                      strstr(out, "\"reached_this_host\":true") &&
                      strstr(out, "\"double_nat\":false") && strstr(out, "\"mapping\":true"),
                  "exit %d: %s", rc, out);
    if (lab_router() == LAB_PMP)
        ck_assert_msg(strstr(out, "made with pcp, per this host's journal"), "%s", out);
    rc = cli_run(out, sizeof(out), "check 27310 tcp --via " HTTPS_CHECKER " --cacert '%s'", ca);
    ck_assert_msg(rc == 0 && strstr(out, "port 27310/tcp is open from outside"), "%s", out);
    unmap(27310, "tcp");
    rc = cli_run(out, sizeof(out), "check 27310 tcp --via " HTTPS_CHECKER " --cacert '%s' --json",
                 ca);
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"filtered\"") &&
                      strstr(out, "does not tell closed from filtered"), "exit %d: %s", rc, out);
    checker_stop();
}
END_TEST

/* A certificate this host does not trust is no verdict on the port: an
 * error that says so and how to trust the checker's CA, at once. libcurl
 * reads neither SSL_CERT_FILE nor CURL_CA_BUNDLE (the curl tool's);
 * another CA given with --cacert replaces the system's, and vouches for
 * nothing here. */
START_TEST(check_https_untrusted)
{
    char out[4096], ca[600], other[600];
    int64_t t0 = now_ms();
    int rc;

    https_start("normal", 8443);
    tls_file(ca, sizeof(ca), "ca.pem");
    tls_file(other, sizeof(other), "other-ca.pem");
    rc = capture_run(out, sizeof(out), "'%s' check 27311 tcp --via " HTTPS_CHECKER, cli);
    ck_assert_msg(rc == 6 && strstr(out, "TLS certificate was refused") &&
                      strstr(out, "the port was not checked") && strstr(out, "--cacert FILE") &&
                      !strstr(out, "closed") && !strstr(out, "filtered"), "exit %d: %s", rc, out);
    rc = capture_run(out, sizeof(out), "SSL_CERT_FILE='%s' CURL_CA_BUNDLE='%s' '%s' check 27311 tcp "
               "--via " HTTPS_CHECKER " --json", ca, ca, cli);
    ck_assert_msg(rc == 6 && strstr(out, "{\"error\":") && strstr(out, "TLS certificate was "
                                                                       "refused"),
                  "exit %d: %s", rc, out);
    rc = capture_run(out, sizeof(out), "'%s' check 27311 tcp --via " HTTPS_CHECKER " --cacert '%s'",
               cli, other);
    ck_assert_msg(rc == 6 && strstr(out, "TLS certificate was refused") &&
                      strstr(out, "not signed by a CA in --cacert"), "exit %d: %s", rc, out);
    /* none waited for the checker's deadline (17 s with the default
     * --timeout); a router that refuses every protocol (profile none) may
     * hold each call up by a second or two, its ICMP errors rate-limited */
    ck_assert_int_lt(now_ms() - t0, 12000);
    /* usage errors, before anything is asked */
    rc = capture_run(out, sizeof(out), "'%s' check 27311 tcp --via " HTTPS_CHECKER
               " --cacert /nonexistent/ca.pem", cli);
    ck_assert_msg(rc == 2 && strstr(out, "--cacert: cannot read '/nonexistent/ca.pem'"),
                  "exit %d: %s", rc, out);
    rc = capture_run(out, sizeof(out), "'%s' check 27311 tcp --via " CHECKER " --cacert '%s'", cli, ca);
    ck_assert_msg(rc == 2 && strstr(out, "--cacert is for an https:// checker"), "exit %d: %s",
                  rc, out);
    rc = capture_run(out, sizeof(out), "'%s' list --cacert '%s'", cli, ca);
    ck_assert_msg(rc == 2 && strstr(out, "--cacert is not an option of list"), "exit %d: %s", rc,
                  out);
    checker_stop();
}
END_TEST

/* Checkers that answer junk, HTTP 500, or nothing: an error that says
 * which, never a verdict; silence is waited out within the documented
 * bound (the checker's 3 s, 4 s of margin, and --timeout). */
START_TEST(check_https_bad_checkers)
{
    char out[4096], ca[600];
    int64_t t0, took;
    int rc;

    https_start("junk", 8444);
    https_start("http500", 8445);
    https_start("silent", 8446);
    tls_file(ca, sizeof(ca), "ca.pem");
    rc = capture_run(out, sizeof(out), "'%s' check 27315 tcp --via https://11.77.0.2:8444 --cacert '%s'",
               cli, ca);
    ck_assert_msg(rc == 6 && strstr(out, "the checker's answer is not echoip's"), "exit %d: %s", rc,
                  out);
    rc = capture_run(out, sizeof(out), "'%s' check 27315 tcp --via https://11.77.0.2:8445 --cacert '%s'",
               cli, ca);
    ck_assert_msg(rc == 6 && strstr(out, "the checker answered HTTP 500"), "exit %d: %s", rc, out);
    t0 = now_ms();
    rc = capture_run(out, sizeof(out), "'%s' check 27315 tcp --via https://11.77.0.2:8446 --cacert '%s' "
               "--timeout 1", cli, ca);
    took = now_ms() - t0;
    ck_assert_msg(rc == 6 && strstr(out, "the checker did not answer within 8 s"), "exit %d: %s",
                  rc, out);
    /* the deadline (3 + 4 + 1 s), and before it the router's discovery
     * (up to a second or two where ICMP errors are rate-limited) */
    ck_assert_msg(took < 11000, "took %lld ms", (long long)took);
    checker_stop();
}
END_TEST

/* No network at all (a namespace of its own): the checker cannot be
 * reached, which is known at once. */
START_TEST(check_no_network)
{
    char out[4096], ca[600];
    int64_t t0 = now_ms();
    int rc;

    tls_file(ca, sizeof(ca), "ca.pem");
    rc = capture_run(out, sizeof(out), "unshare -n '%s' check 27313 tcp --via " HTTPS_CHECKER
               " --cacert '%s'", cli, ca);
    ck_assert_msg(rc == 6 && strstr(out, "cannot reach the checker") &&
                      strstr(out, "Network is unreachable"), "exit %d: %s", rc, out);
    rc = capture_run(out, sizeof(out), "unshare -n '%s' check 27313 tcp --via " CHECKER, cli);
    ck_assert_msg(rc == 6 && strstr(out, "cannot reach the checker") &&
                      strstr(out, "Network is unreachable"), "exit %d: %s", rc, out);
    ck_assert_int_lt(now_ms() - t0, 2000);
}
END_TEST

/* No router that answers (profile none, a NAT alone): the outside check
 * does without it, the mapping unknown. */
START_TEST(check_via_without_router)
{
    char out[4096];
    int rc;

    checker_start();
    rc = via(out, sizeof(out), 27314, "tcp");
    ck_assert_msg(rc == 1 && strstr(out, "\"state\":\"closed\"") &&
                      strstr(out, "\"seen_address\":\"" WAN_ADDR "\"") &&
                      strstr(out, "\"mapping\":null") && strstr(out, "the router did not answer"),
                  "exit %d: %s", rc, out);
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
    lab_router_kind r = lab_router();

    if (r == LAB_FULL || r == LAB_UPNP) {
        tcase_add_test(tc, check_tcp_open);
        tcase_add_test(tc, check_tcp_closed);
        tcase_add_test(tc, check_tcp_filtered);
        tcase_add_test(tc, check_udp);
        tcase_add_test(tc, check_hairpin_off);
        tcase_add_test(tc, check_local_udp_silent);
        tcase_add_test(tc, check_via_http);
        tcase_add_test(tc, check_rate_limited);
    }
    if (r != LAB_NONE) {
        tcase_add_test(tc, check_via_https);
        tcase_add_test(tc, check_double_nat);
    } else {
        tcase_add_test(tc, check_via_without_router);
    }
    tcase_add_test(tc, check_https_untrusted);
    tcase_add_test(tc, check_https_bad_checkers);
    tcase_add_test(tc, check_no_network);
    return s;
}
