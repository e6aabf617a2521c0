/*
 * Lab suite lab_thirdparty: ports mapped for another host of the LAN
 * (portmap_request.internal_address, `request --internal-address`). The
 * second LAN host (lab.sh host2: 10.77.0.5, 2001:db8:77:1::5) runs the
 * service; the WAN host must reach it through the router's external
 * address, and nothing may be mapped to this host instead. The router is
 * restarted with the settings a test needs (LAB_PCP_THIRDPARTY,
 * LAB_SECURE_MODE) and with the lab's own again at its end.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_support.h"

#define HOST2 "10.77.0.5"
#define HOST2_6 "2001:db8:77:1::5"

static int profile_is(const char *name)
{
    const char *p = getenv("LAB_PROFILE");
    return p && !strcmp(p, name);
}

/* The router speaks PCP (and NAT-PMP): full and pmp-only */
static int has_pcp(void)
{
    return profile_is("full") || profile_is("pmp-only");
}

/* The router restarted with miniupnpd's secure_mode and
 * pcp_allow_thirdparty as given; the fixture restarts it as the lab has
 * it should the test end early (lab_router_knobs_changed). */
static void router_with(const char *secure, const char *thirdparty)
{
    lab_router_knobs_changed();
    ck_assert_int_eq(run("LAB_SECURE_MODE=%s LAB_PCP_THIRDPARTY=%s '%s' router-restart", secure,
                         thirdparty, lab), 0);
}

static void router_as_lab_has_it(void)
{
    ck_assert_int_eq(run("'%s' router-restart", lab), 0);
    lab_router_knobs_restored();
}

/* The internal address of the router's DNAT rule for proto/port, "" none */
static void rule_client(const char *proto, unsigned port, char *out, size_t len)
{
    char cmd[1024], line[256], p[8], ip[64];
    unsigned eport, iport;
    FILE *f;

    out[0] = '\0';
    snprintf(cmd, sizeof(cmd), "'%s' rules", lab);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%7s %u %63s %u", p, &eport, ip, &iport) == 4 && !strcmp(p, proto) &&
            eport == port)
            snprintf(out, len, "%s", ip);
    pclose(f);
}

/* The service on the second host: one echo on tcp/port, at most 15 s */
static pid_t host2_serve(unsigned port)
{
    char cmd[512];
    pid_t pid;
    int i;

    lab_changed();
    ck_assert_int_eq(run("'%s' host2 up", lab), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        snprintf(cmd, sizeof(cmd), "exec ip netns exec ${LAB_PREFIX:-pm}-lan2 '%s' serve tcp %u "
                 "--timeout 15", probe, port);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 50; i++) {
        if (run("ip netns exec ${LAB_PREFIX:-pm}-lan2 ss -Hltn 'sport = :%u' | grep -q .",
                port) == 0)
            break;
        usleep(20000);
    }
    ck_assert_msg(i < 50, "the second host's service did not start");
    return pid;
}

static void host2_down(pid_t serve)
{
    kill(serve, SIGTERM);
    waitpid(serve, NULL, 0);
    run("'%s' host2 down", lab);
    lab_restored();
}

static portmap_mapping *request_for(portmap_client *c, const char *host, portmap_family family,
                                    unsigned port)
{
    portmap_mapping *m = NULL;
    portmap_request r;

    portmap_request_init(&r);
    r.protocol = PORTMAP_TCP;
    r.internal_port = (uint16_t)port;
    r.lifetime = 600;
    r.family = family;
    snprintf(r.internal_address, sizeof(r.internal_address), "%s", host);
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    return m;
}

/* PCP's THIRD_PARTY, allowed by the router: the IPv4 mapping and the IPv6
 * pinhole are the second host's, which the WAN host reaches; release
 * removes both. */
START_TEST(pcp_maps_for_another_host)
{
    portmap_client *c;
    portmap_mapping *m;
    portmap_mapping_info info;
    char client[64];
    pid_t serve;

    router_with("yes", "yes");
    serve = host2_serve(7311);
    c = open_client(PORTMAP_METHOD_PCP, 5000);
    m = request_for(c, HOST2, PORTMAP_IPV4, 7311);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_PCP);
    ck_assert_str_eq(info.internal_address, HOST2);
    rule_client("tcp", 7311, client, sizeof(client));
    ck_assert_str_eq(client, HOST2);
    ck_assert_msg(wan_reaches("tcp", 7311), "the WAN host did not reach the second host");
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(wait_rule("tcp", 7311, 0, 2000));
    host2_down(serve);

    serve = host2_serve(7312);
    m = request_for(c, HOST2_6, PORTMAP_IPV6, 7312);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert_str_eq(info.internal_address, HOST2_6);
    ck_assert(has_pinhole("tcp", HOST2_6, 7312));
    ck_assert(!has_pinhole("tcp", LAN6_ADDR, 7312));
    ck_assert_msg(wan_reaches_at(HOST2_6, "tcp", 7312), "the WAN host did not reach the pinhole");
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(pinhole_gone("tcp", HOST2_6, 7312));
    host2_down(serve);
    portmap_close(&c);
    router_as_lab_has_it();
}
END_TEST

/* A holder of another host's mapping killed with SIGKILL: the journal
 * keeps the entry under that host's address and ours, and cleanup
 * deletes it (PCP with the nonce and THIRD_PARTY, UPnP after asking
 * whose it is: that host's, as made). */
static void killed_then_cleaned(const char *method, unsigned port)
{
    char portstr[8], line[256], out[512], client[64];
    char *argv[] = { NULL, "request", portstr, "tcp", "--internal-address", HOST2, "--protocol",
                     (char *)method, NULL };
    pid_t pid;
    FILE *f;
    int st;

    snprintf(portstr, sizeof(portstr), "%u", port);
    argv[0] = (char *)cli;
    pid = cli_start(argv, &f);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "mapped tcp " HOST2 ":"), "output: %s", line);
    rule_client("tcp", port, client, sizeof(client));
    ck_assert_str_eq(client, HOST2);
    /* list (UPnP's table): that host's, held by a process here */
    if (!strcmp(method, "upnp")) {
        ck_assert_int_eq(cli_all(out, sizeof(out), "list 2>&1"), 0);
        ck_assert_msg(strstr(out, HOST2 ":") && strstr(out, "for another host, held here"),
                      "list: %s", out);
    }
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    fclose(f);
    ck_assert_int_eq(count_rules("tcp", port, 1), 1);
    ck_assert_int_eq(cli_run(out, sizeof(out), "cleanup --protocol %s 2>&1", method), 0);
    ck_assert_msg(strstr(out, "released 1 mapping"), "cleanup: %s", out);
    ck_assert_int_eq(count_rules("tcp", port, 1), 0);
}

START_TEST(pcp_killed_holder_cleaned_up)
{
    router_with("yes", "yes");
    killed_then_cleaned("pcp", 7313);
    router_as_lab_has_it();
}
END_TEST

/* What the lab's router says to PCP's THIRD_PARTY (pcp_allow_thirdparty
 * off): UNSUPP_OPTION, named; and nothing mapped for this host instead,
 * whether PCP alone or any protocol was asked (then the next protocol
 * that can map for another host is asked). */
START_TEST(pcp_third_party_refused_by_the_router)
{
    char out[1024];

    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7314 tcp --internal-address " HOST2
                             " --protocol pcp --once 2>&1"), 3);
    ck_assert_msg(strstr(out, "THIRD_PARTY") && strstr(out, "UNSUPP_OPTION"), "output: %s", out);
    ck_assert_int_eq(count_rules("tcp", 7314, 1), 0);
    ck_assert_int_ne(cli_all(out, sizeof(out), "-4 request 7314 tcp --internal-address " HOST2
                             " --once --timeout 5 2>&1"), 0);
    ck_assert_msg(!strstr(out, "mapped"), "output: %s", out);
    /* the full router: UPnP-IGD is asked next, and refuses too (secure
     * mode); NAT-PMP never */
    if (profile_is("full"))
        ck_assert_msg(strstr(out, "UNSUPP_OPTION") && strstr(out, "(secure mode)"), "output: %s",
                      out);
    ck_assert_int_eq(count_rules("tcp", 7314, 1), 0);
}
END_TEST

/* NAT-PMP maps only for the host asking: asked by name, the request fails
 * at once; a client of NAT-PMP alone fails saying why; no rule at all. */
START_TEST(natpmp_cannot_map_for_another_host)
{
    portmap_client *c;
    portmap_mapping *m;
    char out[1024];

    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7315 tcp --internal-address " HOST2
                             " --protocol natpmp --once 2>&1"), 3);
    ck_assert_msg(strstr(out, "NAT-PMP cannot map a port for another host"), "output: %s", out);
    c = open_client(PORTMAP_METHOD_NATPMP, 3000);
    m = request_for(c, HOST2, PORTMAP_IPV4, 7315);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, NULL), PORTMAP_ERR_UNSUPPORTED);
    ck_assert_int_eq(portmap_mapping_get_reason(m, PORTMAP_FAMILY_DEFAULT, out, sizeof(out)),
                     PORTMAP_OK);
    ck_assert_msg(strstr(out, "NAT-PMP: cannot map a port for another host"), "reason: %s", out);
    portmap_mapping_release(&m, 0);
    portmap_close(&c);
    ck_assert_int_eq(count_rules("tcp", 7315, 1), 0);
}
END_TEST

/* UPnP-IGD without secure mode: NewInternalClient is the second host,
 * which the WAN host reaches; its holder killed, cleanup removes it. */
START_TEST(upnp_maps_for_another_host)
{
    char portstr[8] = "7316", line[256], client[64];
    char *argv[] = { NULL, "request", portstr, "tcp", "--internal-address", HOST2, "--protocol",
                     "upnp", NULL };
    pid_t serve, pid;
    FILE *f;

    router_with("no", "no");
    serve = host2_serve(7316);
    argv[0] = (char *)cli;
    pid = cli_start(argv, &f);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "mapped tcp " HOST2 ":7316 -> " WAN_ADDR), "output: %s", line);
    rule_client("tcp", 7316, client, sizeof(client));
    ck_assert_str_eq(client, HOST2);
    ck_assert_msg(wan_reaches("tcp", 7316), "the WAN host did not reach the second host");
    kill(pid, SIGTERM); /* a held request releases on SIGTERM */
    waitpid(pid, NULL, 0);
    fclose(f);
    ck_assert(wait_rule("tcp", 7316, 0, 2000));
    host2_down(serve);
    killed_then_cleaned("upnp", 7317);
    router_as_lab_has_it();
}
END_TEST

/* The lab's router in secure mode maps ports only for the host asking:
 * the refusal is told as such, and nothing is mapped; the same for an
 * IPv6 pinhole of the other host (miniupnpd never opens one). */
START_TEST(upnp_secure_mode_refuses)
{
    char out[1024];

    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7318 tcp --internal-address " HOST2
                             " --protocol upnp --once 2>&1"), 4);
    ck_assert_msg(strstr(out, "allows mappings only for the asking host (secure mode)"),
                  "output: %s", out);
    ck_assert_int_eq(count_rules("tcp", 7318, 1), 0);
    if (profile_is("igdv1"))
        return; /* IGD v1 has no WANIPv6FirewallControl */
    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7318 tcp --internal-address " HOST2_6
                             " --protocol upnp --once 2>&1"), 4);
    ck_assert_msg(strstr(out, "pinholes only for the asking host"), "output: %s", out);
    ck_assert(!has_pinhole("tcp", HOST2_6, 7318));
}
END_TEST

/* What is not another host of this LAN: a usage error when it is no
 * address a host can have, the reason once the network is known. */
START_TEST(bad_internal_addresses)
{
    char out[1024];

    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7319 tcp --internal-address bogus "
                             "--once 2>&1"), 2);
    ck_assert_msg(strstr(out, "not 'bogus'"), "output: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7319 tcp --internal-address 10.77.0.1 "
                             "--once 2>&1"), 6);
    ck_assert_msg(strstr(out, "10.77.0.1 is the router itself"), "output: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7319 tcp --internal-address 10.99.0.5 "
                             "--once 2>&1"), 6);
    ck_assert_msg(strstr(out, "not on this host's LAN (10.77.0.0/24 on lan0)"), "output: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "-6 request 7319 tcp --internal-address " HOST2
                             " --once 2>&1"), 2);
    ck_assert_msg(strstr(out, "is an IPv4 address"), "output: %s", out);
    ck_assert_int_eq(count_rules("tcp", 7319, 1), 0);
}
END_TEST

/* A mapping made with --once for the other host, released by name */
START_TEST(pcp_release_by_internal_address)
{
    char out[1024], client[64];

    router_with("yes", "yes");
    ck_assert_int_eq(cli_all(out, sizeof(out), "request 7320 tcp --internal-address " HOST2
                             " --protocol pcp --once 2>&1"), 0);
    rule_client("tcp", 7320, client, sizeof(client));
    ck_assert_str_eq(client, HOST2);
    /* this host's own port 7320 is another mapping: none to release */
    ck_assert_int_eq(cli_all(out, sizeof(out), "release 7320 tcp --protocol pcp 2>&1"), 1);
    ck_assert_int_eq(count_rules("tcp", 7320, 1), 1);
    ck_assert_int_eq(cli_all(out, sizeof(out), "release 7320 tcp --internal-address " HOST2
                             " 2>&1"), 0);
    ck_assert_msg(strstr(out, "released tcp " HOST2 ":7320"), "output: %s", out);
    ck_assert_int_eq(count_rules("tcp", 7320, 1), 0);
    router_as_lab_has_it();
}
END_TEST

Suite *lab_thirdparty_suite(int upnp_only)
{
    Suite *s = suite_create("lab_thirdparty");
    TCase *tc = lab_tcase(s, upnp_only);

    tcase_add_test(tc, bad_internal_addresses);
    if (profile_is("none"))
        return s;
    if (has_pcp()) {
        tcase_add_test(tc, pcp_maps_for_another_host);
        tcase_add_test(tc, pcp_killed_holder_cleaned_up);
        tcase_add_test(tc, pcp_third_party_refused_by_the_router);
        tcase_add_test(tc, natpmp_cannot_map_for_another_host);
        tcase_add_test(tc, pcp_release_by_internal_address);
    }
    if (!profile_is("pmp-only")) {
        tcase_add_test(tc, upnp_maps_for_another_host);
        tcase_add_test(tc, upnp_secure_mode_refuses);
    }
    return s;
}
