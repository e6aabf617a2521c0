/*
 * Suite: UPnP-IGD router behaviour that miniupnpd will not produce, from a
 * scriptable fake IGD on loopback (tests/fakeigd.c). As root the suite runs
 * in a private network namespace. Also the CLI's checks of what is typed
 * (tcase cli_input), run only in that namespace.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "check_main.h"
#include "log_capture.h"
#include "fakegw.h"
#include "fakeigd.h"
#include "wait.h"

static fakeigd igd;
static portmap_client *client;
static char dir[64];
static int private_net; /* main() has made this process a network of its own */

#define PM_ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void start(int scenario, int timeout_ms)
{
    portmap_settings s;

    ck_assert_msg(fakeigd_start(&igd, scenario) == 0, "cannot bind the fake IGD's ports");
    strcpy(dir, "/tmp/pm-fakeigd-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&s);
    s.methods[0] = PORTMAP_METHOD_UPNP;
    s.gateway = "127.0.0.1";
    s.timeout_ms = timeout_ms;
    s.state_dir = dir;
    s.close_timeout_ms = 1000;
    ck_assert_int_eq(portmap_open(&client, &s), PORTMAP_OK);
}

static void finish(void)
{
    char cmd[128];
    portmap_close(&client);
    fakeigd_stop(&igd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int add_sent(void *arg)
{
    (void)arg;
    return fakeigd_count(&igd, "AddPortMapping") >= 1;
}

static int map(uint16_t port, uint16_t ext, portmap_mapping **m, portmap_mapping_info *info)
{
    portmap_request r;
    portmap_request_init(&r);
    r.internal_port = port;
    r.external_port = ext;
    r.lifetime = 600;
    ck_assert_int_eq(portmap_request_mapping(client, &r, m), PORTMAP_OK);
    return portmap_mapping_wait(*m, 0, info);
}

/* portmap-cli's output (stdout and stderr) for args into out; its exit
 * status as pclose gives it. A journal directory of its own (dir). */
static int cli_output(const char *args, char *out, size_t cap)
{
    char cmd[512];
    size_t len = 0;
    FILE *p;

    strcpy(dir, "/tmp/pm-fakeigd-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "PORTMAP_STATE_DIR=%s '%s' %s 2>&1", dir, PORTMAP_CLI, args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    while (len < cap - 1 && fgets(out + len, (int)(cap - len), p))
        len = strlen(out);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    return pclose(p);
}

START_TEST(v2_uses_add_any)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_discovery d;
    start(IGD_OK_V2, 3000);
    ck_assert_int_eq(map(7200, 0, &m, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 7201); /* what the router reserved */
    ck_assert_str_eq(info.external_address, "198.51.100.7");
    ck_assert_uint_eq(info.lifetime, 600);
    ck_assert_int_eq(fakeigd_count(&igd, "AddAnyPortMapping"), 1);
    ck_assert_int_eq(fakeigd_count(&igd, "AddPortMapping"), 0);
    for (int i = 0; i < igd.n_calls; i++)
        if (!strncmp(igd.calls[i].action, "Add", 3))
            ck_assert_str_eq(igd.calls[i].client, "127.0.0.1"); /* always our own address */
    ck_assert_int_eq(portmap_discover(client, &d, 0, 1000), PORTMAP_OK);
    ck_assert_int_eq(d.upnp_version, 2);
    ck_assert_int_eq(d.double_nat, 0);
    ck_assert_int_eq(portmap_mapping_release(&m, 1000), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_count(&igd, "DeletePortMapping"), 1);
    finish();
}
END_TEST

START_TEST(v1_never_sends_port_zero)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    start(IGD_OK_V1, 3000);
    ck_assert_int_eq(map(7202, 0, &m, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 7202);
    ck_assert_int_eq(fakeigd_count(&igd, "AddAnyPortMapping"), 0);
    for (int i = 0; i < igd.n_calls; i++)
        if (!strcmp(igd.calls[i].action, "AddPortMapping"))
            ck_assert_uint_eq(igd.calls[i].ext_port, 7202); /* never 0 */
    finish();
}
END_TEST

static void only_permanent(int scenario)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    start(scenario, 3000);
    ck_assert_int_eq(map(7203, 0, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.permanent, 1);
    ck_assert_uint_eq(info.lifetime, 0);
    /* asked with a lease once, then once more with lease 0 */
    ck_assert_int_eq(fakeigd_count(&igd, "AddAnyPortMapping"), 2);
    ck_assert_uint_eq(igd.calls[igd.n_calls - 1].lease, 0);
    portmap_close(&client); /* we own its deletion */
    ck_assert_int_eq(fakeigd_count(&igd, "DeletePortMapping"), 1);
    finish();
}

START_TEST(error_725_retries_permanent) { only_permanent(IGD_725); }
END_TEST

/* The person at the shell is told, without -v, that the router forced a
 * permanent entry and that --once will not let it expire. */
START_TEST(cli_explains_725)
{
    char out[4096];
    int st;

    ck_assert_msg(fakeigd_start(&igd, IGD_725) == 0, "cannot bind the fake IGD's ports");
    st = cli_output("request 7211 tcp --once --protocol upnp --gateway 127.0.0.1 --timeout 3",
                    out, sizeof(out));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d: %s", st, out);
    ck_assert_msg(strstr(out, "mapped tcp 7211"), "%s", out);
    ck_assert_msg(strstr(out, "UPnP error 725") && strstr(out, "only accepts permanent") &&
                      strstr(out, "will NOT expire") && strstr(out, "release 7211 tcp"),
                  "no explanation: %s", out);
    fakeigd_stop(&igd);
}
END_TEST

/* A request whose answer never came is given up (the caller releases it,
 * as portmap-cli does when a command fails): the router may hold the
 * port, but it may as well be another host's forward of it, which a
 * router without secure mode would let anyone delete. The owner is asked
 * first: another host's entry is left alone. */
START_TEST(release_never_deletes_another_hosts_forward)
{
    portmap_mapping *m;
    portmap_request r;

    start(IGD_OK_V1, 3000);
    igd.add_silent = 1;
    snprintf(igd.owner, sizeof(igd.owner), "10.9.9.9");
    portmap_request_init(&r);
    r.internal_port = 7230;
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_OK);
    ck_assert(wait_until(add_sent, NULL, 2000)); /* the request is out */
    ck_assert_int_eq(portmap_mapping_release(&m, 2000), PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_ge(fakeigd_count(&igd, "GetSpecificPortMappingEntry"), 1);
    ck_assert_int_eq(fakeigd_count(&igd, "DeletePortMapping"), 0);
    /* by the port alone, with no record of ours: the same */
    ck_assert_int_ne(portmap_release_port(client, PORTMAP_UDP, 7230, PORTMAP_METHOD_AUTO, 2000),
                     PORTMAP_OK);
    ck_assert_int_eq(fakeigd_count(&igd, "DeletePortMapping"), 0);
    finish();
}
END_TEST

static int added_again(void *arg)
{
    (void)arg;
    return fakeigd_count(&igd, "AddPortMapping") > 0;
}

/* A permanent entry is checked at each refresh and added again when the
 * router lost it. */
START_TEST(lost_permanent_entry_is_added_again)
{
    portmap_mapping *m;
    portmap_request r;
    portmap_mapping_info info;
    start(IGD_725, 3000);
    portmap_request_init(&r);
    r.internal_port = 7209;
    r.lifetime = 2; /* checked every second */
    ck_assert_int_eq(portmap_request_mapping(client, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 0, &info), PORTMAP_OK);
    ck_assert_int_eq(info.permanent, 1);
    igd.lost = 1; /* the router loses it (a restart) */
    wait_until(added_again, NULL, 4000);
    ck_assert_int_ge(fakeigd_count(&igd, "GetSpecificPortMappingEntry"), 1);
    ck_assert_int_ge(fakeigd_count(&igd, "AddPortMapping"), 1);
    ck_assert_uint_eq(igd.calls[igd.n_calls - 1].lease, 0); /* still lease 0 */
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    finish();
}
END_TEST
START_TEST(error_402_retries_permanent) { only_permanent(IGD_402); }
END_TEST

/* 7100 is taken: another port, the same again for a restarted program;
 * returns it */
static unsigned stable_alternative(void)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    unsigned first;

    ck_assert_int_eq(map(7100, 0, &m, &info), PORTMAP_OK);
    ck_assert_uint_ne(info.external_port, 7100);
    ck_assert_uint_ge(info.external_port, 1024);
    first = info.external_port;
    ck_assert_int_eq(portmap_mapping_release(&m, 1000), PORTMAP_OK);
    ck_assert_int_eq(map(7100, 0, &m, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, first);
    return first;
}

START_TEST(error_718_picks_a_stable_port)
{
    start(IGD_718, 3000);
    stable_alternative();
    finish();
}
END_TEST

START_TEST(error_724_uses_the_internal_port)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    start(IGD_724, 3000);
    ck_assert_int_eq(map(7204, 9999, &m, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 7204);
    finish();
}
END_TEST

static void refused_quietly(int scenario, int expect_http)
{
    portmap_mapping *m;
    int64_t t0 = now_ms();
    int rc;
    start(scenario, 2000);
    rc = map(7205, 0, &m, NULL);
    ck_assert_int_ne(rc, PORTMAP_OK);
    ck_assert_int_lt(now_ms() - t0, 2700); /* within the timeout, with slack */
    if (!expect_http)
        ck_assert_int_eq(fakeigd_http_requests(&igd), 0);
    ck_assert_int_eq(fakeigd_count(&igd, "AddAnyPortMapping") + fakeigd_count(&igd, "AddPortMapping"), 0);
    finish();
}

START_TEST(ssdp_from_another_host_is_ignored) { refused_quietly(IGD_SSDP_NOT_GATEWAY, 0); }
END_TEST
START_TEST(location_elsewhere_is_not_fetched) { refused_quietly(IGD_LOCATION_ELSEWHERE, 0); }
END_TEST
START_TEST(control_url_elsewhere_is_refused) { refused_quietly(IGD_CONTROL_ELSEWHERE, 1); }
END_TEST
START_TEST(huge_description_is_cut_off) { refused_quietly(IGD_HUGE_DESC, 1); }
END_TEST
START_TEST(dripping_router_holds_nothing) { refused_quietly(IGD_DRIP, 1); }
END_TEST
START_TEST(malformed_description) { refused_quietly(IGD_BAD_XML, 1); }
END_TEST

START_TEST(malformed_soap_reply)
{
    portmap_mapping *m;
    start(IGD_BAD_SOAP, 2000);
    ck_assert_int_eq(map(7206, 0, &m, NULL), PORTMAP_ERR_PROTOCOL);
    finish();
}
END_TEST

START_TEST(ppp_only_device)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_discovery d;
    start(IGD_PPP_ONLY, 3000);
    ck_assert_int_eq(map(7207, 0, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(portmap_discover(client, &d, 0, 1000), PORTMAP_OK);
    ck_assert_str_eq(d.upnp_service, "WANPPPConnection:1");
    finish();
}
END_TEST

START_TEST(carrier_grade_nat_is_reported)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_discovery d;
    start(IGD_CGN, 3000);
    ck_assert_int_eq(portmap_discover(client, &d, 0, 2000), PORTMAP_OK);
    ck_assert_str_eq(d.external_address, "100.64.1.1");
    ck_assert_int_eq(d.double_nat, 1);
    ck_assert_int_eq(map(7208, 0, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.double_nat, 1);
    finish();
}
END_TEST

/* ---- issue 20: deployed routers' behaviours ---- */

/* The reason the mapping failed, or the client's discovery reason */
static void reason_of(portmap_mapping *m, char *buf, size_t len)
{
    buf[0] = '\0';
    if (m)
        portmap_mapping_get_reason(m, PORTMAP_FAMILY_DEFAULT, buf, len);
    if (!buf[0])
        portmap_discover_reason(client, PORTMAP_IPV4, buf, len);
}

/* 501 (Action Failed) for a port another host holds, as some routers
 * answer instead of 718: a conflict, once the router says whose the
 * port is; the deterministic alternative is asked for, as after 718. */
START_TEST(error_501_on_a_taken_port_is_a_conflict)
{
    unsigned port;

    start(IGD_718, 3000);
    port = stable_alternative();
    finish();
    start(IGD_501, 3000); /* 7100 is another host's, said with 501 */
    ck_assert_uint_eq(stable_alternative(), port); /* the port a 718 gives */
    ck_assert_int_ge(fakeigd_count(&igd, "GetSpecificPortMappingEntry"), 1);
    finish();
}
END_TEST

/* A 501 that is no conflict: failed at once with what the router said
 * (code and text), not "out of resources" after three resends. */
START_TEST(error_501_says_what_the_router_said)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    char why[512];

    start(IGD_501_ALWAYS, 10000);
    ck_assert_int_eq(map(7101, 0, &m, &info), PORTMAP_ERR_REFUSED);
    ck_assert_int_eq(fakeigd_count(&igd, "AddPortMapping"), 1);
    reason_of(m, why, sizeof(why));
    ck_assert_msg(strstr(why, "501") && strstr(why, "WAN connection is not up"), "%s", why);
    ck_assert_msg(!strstr(why, "resources"), "%s", why);
    finish();
}
END_TEST

/* Junk the router gives as its external address: not one, and not a
 * sign of double NAT either; unknown, with the reason. (Not 127.0.0.1:
 * here that is our own address, which means no NAT at all.) */
static const char *const junk_addresses[] = {
    "127.0.1.1", "0.0.0.0", "0.1.2.3", "169.254.7.1", "224.0.0.251", "239.1.2.3",
    "255.255.255.255", "240.0.0.1",
};

START_TEST(junk_external_address_is_unknown)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_discovery d;
    char why[512];

    start(IGD_EXT_JUNK, 3000);
    /* before anything is asked of it */
    snprintf(igd.ext_addr, sizeof(igd.ext_addr), "%s", junk_addresses[_i]);
    ck_assert_int_eq(portmap_discover(client, &d, 0, 2000), PORTMAP_OK);
    ck_assert_msg(!d.external_address[0], "%s reported as %s", junk_addresses[_i],
                  d.external_address);
    ck_assert_int_eq(d.double_nat, 0);
    portmap_discover_reason(client, PORTMAP_IPV4, why, sizeof(why));
    ck_assert_msg(strstr(why, junk_addresses[_i]) && strstr(why, "not an external address"),
                  "%s", why);
    ck_assert_int_eq(map(7102, 0, &m, &info), PORTMAP_OK);
    ck_assert_str_eq(info.external_address, "");
    ck_assert_int_eq(info.double_nat, 0);
    finish();
}
END_TEST

/* The person at the shell is told why the address is unknown */
START_TEST(cli_says_the_external_address_is_junk)
{
    char out[4096];
    int st;

    ck_assert_msg(fakeigd_start(&igd, IGD_EXT_JUNK) == 0, "cannot bind the fake IGD's ports");
    snprintf(igd.ext_addr, sizeof(igd.ext_addr), "127.0.1.1");
    st = cli_output("discover -4 --protocol upnp --gateway 127.0.0.1 --timeout 3", out, sizeof(out));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d: %s", st, out);
    ck_assert_msg(strstr(out, "external address ?\n"), "%s", out);
    ck_assert_msg(strstr(out, "gave 127.0.1.1 as its external address, which is not an "
                              "external address (loopback)"), "%s", out);
    ck_assert_msg(!strstr(out, "double NAT"), "%s", out);
    st = cli_output("external-ip --protocol upnp --gateway 127.0.0.1 --timeout 3", out, sizeof(out));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "exit %d: %s", st, out);
    ck_assert_msg(strstr(out, "not an external address (loopback)"), "%s", out);
    ck_assert_msg(!strstr(out, "malformed"), "%s", out);
    fakeigd_stop(&igd);
}
END_TEST

static void natpmp_address(fakegw *g, const uint8_t *req, size_t len, void *user)
{
    uint8_t out[16];
    (void)user;
    if (len >= 2 && req[0] == 0 && req[1] == 0)
        fakegw_reply(g, out, fakegw_pmp_addr_reply(out, 0, g->epoch, "203.0.113.9"));
}

/* The router's NAT-PMP knows its address when its UPnP says 127.0.1.1:
 * NAT-PMP's, once it has answered (the discovery waits for every probe;
 * a mapping made before could be told first), is the one reported, and
 * UPnP's junk does not replace it. */
START_TEST(junk_external_address_takes_natpmp_view)
{
    fakegw gw;
    portmap_settings s;
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_discovery d;

    ck_assert_int_eq(fakegw_start(&gw, natpmp_address, NULL), 0);
    ck_assert_msg(fakeigd_start(&igd, IGD_EXT_JUNK) == 0, "cannot bind the fake IGD's ports");
    snprintf(igd.ext_addr, sizeof(igd.ext_addr), "127.0.1.1");
    strcpy(dir, "/tmp/pm-fakeigd-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&s);
    s.methods[0] = PORTMAP_METHOD_UPNP;
    s.methods[1] = PORTMAP_METHOD_NATPMP;
    s.gateway = "127.0.0.1";
    s.timeout_ms = 3000;
    s.state_dir = dir;
    s.close_timeout_ms = 1000;
    ck_assert_int_eq(portmap_open(&client, &s), PORTMAP_OK);
    ck_assert_int_eq(portmap_discover(client, &d, 0, 2000), PORTMAP_OK);
    ck_assert_str_eq(d.external_address, "203.0.113.9");
    ck_assert_int_eq(d.double_nat, 0);
    ck_assert_int_eq(map(7103, 0, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_UPNP);
    ck_assert_int_ge(fakeigd_count(&igd, "GetExternalIPAddress"), 1);
    ck_assert_str_eq(info.external_address, "203.0.113.9");
    finish();
    fakegw_stop(&gw);
}
END_TEST

/* A device that answers only searches for every root device is found
 * within the request's deadline, and its description read. */
START_TEST(rootdevice_only_device_is_found)
{
    portmap_mapping *m;
    portmap_mapping_info info;

    start(IGD_ROOTDEVICE_ONLY, 3000);
    ck_assert_int_eq(map(7104, 0, &m, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.external_port, 7104);
    ck_assert_str_eq(info.external_address, "198.51.100.7");
    ck_assert_int_eq(fakeigd_count(&igd, "AddPortMapping"), 1);
    finish();
}
END_TEST

/* Routers that answer, but with nothing usable: the request fails as
 * soon as that is known (well before its timeout of 10 s, the
 * description read once at most; answers pointing elsewhere, which a
 * forger could send, 3 s into the search), with the cause in the reason
 * the user sees. */
static const struct {
    int scenario;
    const char *cause;
    int fetches;
} unusable[] = {
    { IGD_DSLFORUM_ONLY, "offers no port-mapping service", 1 },
    { IGD_LOCATION_ELSEWHERE, "description is on 127.0.0.2, which is not the gateway", 0 },
    { IGD_CONTROL_ELSEWHERE, "control URL is on 127.0.0.2, which is not the gateway", 1 },
};

START_TEST(unusable_answers_fail_at_once)
{
    portmap_mapping *m;
    char why[512];
    int64_t t0;
    int rc;

    start(unusable[_i].scenario, 10000);
    t0 = now_ms();
    rc = map(7105, 0, &m, NULL);
    ck_assert_int_ne(rc, PORTMAP_OK);
    ck_assert_msg(now_ms() - t0 < 5000, "waited %lld ms", (long long)(now_ms() - t0));
    ck_assert_int_eq(fakeigd_desc_fetches(&igd), unusable[_i].fetches);
    reason_of(m, why, sizeof(why));
    ck_assert_msg(strstr(why, unusable[_i].cause), "\"%s\" lacks \"%s\"", why,
                  unusable[_i].cause);
    ck_assert_int_eq(fakeigd_count(&igd, "AddPortMapping") +
                     fakeigd_count(&igd, "AddAnyPortMapping"), 0);
    finish();
}
END_TEST

/* Answers pointing elsewhere first (a forger's, while the router is
 * slow), the router's own after: mapped, nothing fetched elsewhere. */
START_TEST(answer_elsewhere_does_not_end_the_search)
{
    portmap_mapping *m;
    portmap_mapping_info info;

    start(IGD_LOCATION_LATE, 10000);
    ck_assert_int_eq(map(7108, 0, &m, &info), PORTMAP_OK);
    ck_assert_str_eq(info.external_address, "198.51.100.7");
    ck_assert_int_eq(fakeigd_desc_fetches(&igd), 1); /* the gateway's, once */
    finish();
}
END_TEST

/* A TR-064 router that wants a password for its actions: told so, not
 * "Action Failed" */
START_TEST(tr064_password_is_said)
{
    portmap_mapping *m;
    char why[512];

    start(IGD_TR064_AUTH, 3000);
    ck_assert_int_eq(map(7109, 0, &m, NULL), PORTMAP_ERR_NOT_AUTHORIZED);
    reason_of(m, why, sizeof(why));
    ck_assert_msg(strstr(why, "password") && strstr(why, "HTTP 401"), "%s", why);
    ck_assert_int_eq(fakeigd_count(&igd, "AddPortMapping"), 1);
    finish();
}
END_TEST

/* The same, as the person at the shell sees it without -v */
START_TEST(cli_names_the_unusable_router)
{
    char out[4096];
    int st;

    ck_assert_msg(fakeigd_start(&igd, unusable[_i].scenario) == 0, "cannot bind the fake IGD");
    st = cli_output("request 7106 tcp --protocol upnp --gateway 127.0.0.1 --timeout 10", out,
                    sizeof(out));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "exit %d: %s", st, out);
    ck_assert_msg(strstr(out, unusable[_i].cause), "\"%s\" lacks \"%s\"", out,
                  unusable[_i].cause);
    ck_assert_msg(!strstr(out, "no gateway answered"), "%s", out);
    fakeigd_stop(&igd);
}
END_TEST

/* Descriptions shaped like deployed devices': the right control point
 * (host and path) and service are used for the mapping. */
static const struct {
    int scenario;
    const char *host, *path, *service;
} shapes[] = {
    { IGD_PPP_URLBASE, "127.0.0.1:5001", "/upnp/control/WANPPPConn1", "WANPPPConnection:1" },
    { IGD_ABSOLUTE_CTL, "127.0.0.1:5000", "/abs/WANIPConn1", "WANIPConnection:2" },
    { IGD_NO_DECL, "127.0.0.1:5000", "/nodecl/ctl", "WANIPConnection:1" },
    { IGD_TWO_WAN, "127.0.0.1:5000", "/eth/IPConn", "WANIPConnection:1" },
    { IGD_V2_FW, "127.0.0.1:5000", "/v2/IPConn", "WANIPConnection:2" },
    /* TR-064: the same actions under urn:dslforum-org (the fake answers
     * no other namespace), found by a search for root devices */
    { IGD_TR064, "127.0.0.1:5000", "/upnp/control/wanipconnection1", "WANIPConnection:1" },
};

START_TEST(real_device_descriptions_map)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_discovery d;
    fakeigd_call call;
    const char *add;

    start(shapes[_i].scenario, 3000);
    ck_assert_int_eq(map(7107, 0, &m, &info), PORTMAP_OK);
    ck_assert_str_eq(info.external_address, "198.51.100.7");
    add = fakeigd_count(&igd, "AddAnyPortMapping") ? "AddAnyPortMapping" : "AddPortMapping";
    ck_assert_int_eq(fakeigd_call_get(&igd, add, 0, &call), 0);
    ck_assert_int_eq(call.error, 0);
    ck_assert_str_eq(call.host, shapes[_i].host);
    ck_assert_str_eq(call.path, shapes[_i].path);
    ck_assert_int_eq(portmap_discover(client, &d, 0, 1000), PORTMAP_OK);
    ck_assert_str_eq(d.upnp_service, shapes[_i].service);
    ck_assert_int_eq(portmap_mapping_release(&m, 1000), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_call_get(&igd, "DeletePortMapping", 0, &call), 0);
    ck_assert_int_eq(call.error, 0);
    ck_assert_str_eq(call.path, shapes[_i].path);
    finish();
}
END_TEST

/* ---- IPv6: pinholes through WANIPv6FirewallControl:1 on [::1] ---- */




static void start6(int scenario, int timeout_ms)
{
    portmap_settings s;

    log_capture_reset();
    ck_assert_msg(fakeigd_start6(&igd, scenario) == 0, "cannot bind the fake IGD's ports on ::1");
    strcpy(dir, "/tmp/pm-fakeigd-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&s);
    s.methods[0] = PORTMAP_METHOD_UPNP;
    s.gateway = "::1";
    s.timeout_ms = timeout_ms;
    s.state_dir = dir;
    s.close_timeout_ms = 1000;
    s.log_callback = on_log;
    ck_assert_int_eq(portmap_open(&client, &s), PORTMAP_OK);
}

static int map6(uint16_t port, portmap_mapping **m, portmap_mapping_info *info)
{
    portmap_request r;
    portmap_request_init(&r);
    r.internal_port = port;
    r.lifetime = 600;
    r.family = PORTMAP_IPV6;
    ck_assert_int_eq(portmap_request_mapping(client, &r, m), PORTMAP_OK);
    return portmap_mapping_wait(*m, 0, info);
}

typedef struct call_query {
    const char *action;
    int n;
    fakeigd_call *out;
} call_query;

static int call_came(void *arg)
{
    call_query *q = arg;
    return fakeigd_call_get(&igd, q->action, q->n, q->out) == 0;
}

/* Bounded wait for the n-th call of action; 0 when it came. */
static int wait_call(const char *action, int n, fakeigd_call *out)
{
    call_query q = { action, n, out };
    return wait_until(call_came, &q, 2000) ? 0 : -1;
}

START_TEST(ipv6_pinhole_added_updated_deleted)
{
    portmap_mapping *m, *m2;
    portmap_mapping_info info;
    portmap_discovery d;
    fakeigd_call call;

    start6(IGD6_OK, 3000);
    ck_assert_int_eq(map6(7300, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_UPNP);
    ck_assert_int_eq(info.family, PORTMAP_IPV6);
    ck_assert_str_eq(info.internal_address, "::1");
    ck_assert_str_eq(info.external_address, "::1"); /* no translation */
    ck_assert_uint_eq(info.external_port, 7300);
    ck_assert_int_eq(info.address_kind, PORTMAP_ADDRESS_STABLE);
    ck_assert_int_eq(fakeigd_count(&igd, "GetFirewallStatus"), 1);
    ck_assert_int_eq(fakeigd_call_get(&igd, "AddPinhole", 0, &call), 0);
    ck_assert_str_eq(call.client, "::1");
    ck_assert_uint_eq(call.ext_port, 7300);
    ck_assert_uint_eq(call.lease, 600);
    ck_assert_uint_eq(call.unique_id, 1);
    /* the ids count on */
    ck_assert_int_eq(map6(7301, &m2, &info), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_call_get(&igd, "AddPinhole", 1, &call), 0);
    ck_assert_uint_eq(call.unique_id, 2);
    /* a renewal names the pinhole by its id */
    ck_assert_int_eq(portmap_mapping_renew(m), PORTMAP_OK);
    ck_assert_int_eq(wait_call("UpdatePinhole", 0, &call), 0);
    ck_assert_uint_eq(call.unique_id, 1);
    ck_assert_uint_eq(call.lease, 600);
    ck_assert_int_eq(call.error, 0);
    ck_assert_int_eq(fakeigd_count(&igd, "AddPinhole"), 2); /* not added again */
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_discover_dual(client, NULL, &d, 0, 2000), PORTMAP_OK);
    ck_assert_int_eq(d.family, PORTMAP_IPV6);
    ck_assert_str_eq(d.upnp_service, "WANIPv6FirewallControl:1");
    ck_assert_uint_ne(d.methods & PORTMAP_HAVE(PORTMAP_METHOD_UPNP), 0);
    /* released by its id */
    ck_assert_int_eq(portmap_mapping_release(&m, 1000), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_call_get(&igd, "DeletePinhole", 0, &call), 0);
    ck_assert_uint_eq(call.unique_id, 1);
    ck_assert_int_eq(call.error, 0);
    ck_assert_int_eq(portmap_mapping_release(&m2, 1000), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_call_get(&igd, "DeletePinhole", 1, &call), 0);
    ck_assert_uint_eq(call.unique_id, 2);
    finish();
}
END_TEST

/* A pinhole left by a client that did not release it is released by
 * another one, which knows its port but maybe not its id. */
START_TEST(ipv6_pinhole_released_by_another_client)
{
    portmap_settings s;
    portmap_mapping *m;
    portmap_mapping_info info;
    fakeigd_call add, find, del;

    start6(IGD6_OK, 3000);
    ck_assert_int_eq(map6(7302, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_call_get(&igd, "AddPinhole", 0, &add), 0);
    portmap_close(&client); /* the default release_on_close deletes it */
    ck_assert_int_eq(fakeigd_count(&igd, "DeletePinhole"), 1);
    /* open it again and leave it there: the next id */
    portmap_default_settings(&s);
    s.methods[0] = PORTMAP_METHOD_UPNP;
    s.gateway = "::1";
    s.timeout_ms = 3000;
    s.state_dir = dir;
    s.release_on_close = 0;
    s.keep_orphans = 1;
    ck_assert_int_eq(portmap_open(&client, &s), PORTMAP_OK);
    ck_assert_int_eq(map6(7302, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_call_get(&igd, "AddPinhole", 1, &add), 0);
    ck_assert_uint_eq(add.unique_id, 2);
    portmap_close(&client);
    ck_assert_int_eq(fakeigd_count(&igd, "DeletePinhole"), 1);
    s.release_on_close = 1;
    ck_assert_int_eq(portmap_open(&client, &s), PORTMAP_OK);
    ck_assert_int_eq(portmap_release_port(client, PORTMAP_UDP, 7302, PORTMAP_METHOD_UPNP, 3000),
                     PORTMAP_OK);
    /* the id is asked for with the same AddPinhole, then deleted */
    ck_assert_int_eq(fakeigd_call_get(&igd, "AddPinhole", 2, &find), 0);
    ck_assert_uint_eq(find.ext_port, 7302);
    ck_assert_uint_eq(find.unique_id, add.unique_id);
    ck_assert_int_eq(fakeigd_call_get(&igd, "DeletePinhole", 1, &del), 0);
    ck_assert_uint_eq(del.unique_id, add.unique_id);
    ck_assert_int_eq(del.error, 0); /* the router had it */
    finish();
}
END_TEST

static void ipv6_not_used(int scenario, const char *why)
{
    char reason[384];
    portmap_mapping *m;
    portmap_mapping_info info;
    int rc;

    start6(scenario, 2000);
    rc = map6(7303, &m, &info);
    ck_assert_msg(rc == PORTMAP_ERR_UNSUPPORTED || rc == PORTMAP_ERR_NO_GATEWAY, "rc %d", rc);
    ck_assert_int_eq(info.state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(fakeigd_count(&igd, "AddPinhole"), 0);
    ck_assert_int_ge(fakeigd_http_requests(&igd), 1); /* it was asked, not just missed */
    ck_assert_msg(logged(why), "no warning with \"%s\": %s", why, warnings);
    /* and the caller is told the same, not just the log */
    ck_assert_int_eq(portmap_mapping_get_reason(m, PORTMAP_FAMILY_DEFAULT, reason, sizeof(reason)),
                     PORTMAP_OK);
    ck_assert_msg(strstr(reason, why) != NULL, "reason \"%s\" lacks \"%s\"", reason, why);
    finish();
}

START_TEST(ipv6_firewall_disabled_is_not_used) { ipv6_not_used(IGD6_FW_DISABLED, "is disabled"); }
END_TEST
START_TEST(ipv6_no_inbound_pinholes_is_not_used)
{
    ipv6_not_used(IGD6_NO_INBOUND, "does not allow inbound pinholes");
}
END_TEST
START_TEST(ipv6_igdv1_without_firewall_is_not_used)
{
    ipv6_not_used(IGD6_NO_FW, "WANIPv6FirewallControl");
    ck_assert_int_eq(fakeigd_count(&igd, "GetFirewallStatus"), 0);
}
END_TEST

START_TEST(ipv6_add_pinhole_606_is_not_authorized)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    start6(IGD6_606, 3000);
    ck_assert_int_eq(map6(7304, &m, &info), PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_eq(info.state, PORTMAP_STATE_FAILED);
    ck_assert_int_eq(info.last_error, PORTMAP_ERR_NOT_AUTHORIZED);
    ck_assert_int_eq(fakeigd_count(&igd, "AddPinhole"), 1); /* no retry */
    ck_assert(logged("606"));
    finish();
}
END_TEST

static void lost_pinhole_is_added_again(int scenario, int code)
{
    portmap_mapping *m;
    portmap_mapping_info info;
    fakeigd_call call;

    start6(scenario, 3000);
    ck_assert_int_eq(map6(7305, &m, &info), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_renew(m), PORTMAP_OK);
    ck_assert_int_eq(wait_call("UpdatePinhole", 0, &call), 0);
    ck_assert_uint_eq(call.unique_id, 1);
    ck_assert_int_eq(call.error, code);
    ck_assert_int_eq(wait_call("AddPinhole", 1, &call), 0);
    ck_assert_uint_eq(call.unique_id, 2); /* a new pinhole */
    ck_assert_uint_eq(call.ext_port, 7305);
    wait_renewals(m, 1, 1000, &info);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_uint_eq(info.renewals, 1);
    ck_assert_uint_eq(info.external_port, 7305);
    /* released by the new id */
    ck_assert_int_eq(portmap_mapping_release(&m, 1000), PORTMAP_OK);
    ck_assert_int_eq(fakeigd_call_get(&igd, "DeletePinhole", 0, &call), 0);
    ck_assert_uint_eq(call.unique_id, 2);
    ck_assert_int_eq(call.error, 0);
    finish();
}

START_TEST(ipv6_update_704_adds_again) { lost_pinhole_is_added_again(IGD6_UPDATE_704, 704); }
END_TEST
START_TEST(ipv6_update_402_adds_again) { lost_pinhole_is_added_again(IGD6_UPDATE_402, 402); }
END_TEST

/* ---- the CLI's input: numbers and addresses as typed ---- */

/* portmap-cli with args (NULL-terminated), its output (stdout and
 * stderr) into out; its exit code, -1 when it did not exit. A journal
 * directory of its own; --timeout bounds what a bad check lets through. */
static int run_cli(char *out, size_t len, const char *const *args)
{
    char state[] = "/tmp/pm-cli-input-XXXXXX", cmd[128];
    const char *argv[16] = { PORTMAP_CLI };
    size_t n = 1, got = 0;
    int p[2], st;
    pid_t pid;

    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    ck_assert_ptr_nonnull(mkdtemp(state));
    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        setenv("PORTMAP_STATE_DIR", state, 1);
        execv(PORTMAP_CLI, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    for (ssize_t r; got < len - 1 && (r = read(p[0], out + got, len - 1 - got)) > 0;)
        got += (size_t)r;
    out[got] = '\0';
    close(p[0]);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
    ck_assert_int_eq(system(cmd), 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cli_allowed(void)
{
    if (private_net)
        return 1;
    fprintf(stderr, "fakeigd: no network namespace of its own: the CLI is not run\n");
    return 0;
}

/* Each is typed wrong; the usage error names this (the option, the value) */
typedef struct bad_input {
    const char *args[8];
    const char *named[2];
} bad_input;

static const bad_input bad_gateways[] = {
    { { "--gateway", "garbage", "request", "27015", "udp" }, { "--gateway", "'garbage'" } },
    { { "request", "27015", "udp", "--gateway", "10.0.0.256" }, { "--gateway", "10.0.0.256" } },
    { { "--gateway", "192.0.2.1%lo", "discover" }, { "--gateway", "192.0.2.1%lo" } },
    { { "--gateway", "2001:db8::1%lo", "discover" }, { "--gateway", "2001:db8::1%lo" } },
    { { "--gateway", "fe80::1%no-such-if0", "discover" }, { "--gateway", "no-such-if0" } },
    { { "--gateway", "fe80::1%+1", "discover" }, { "--gateway", "fe80::1%+1" } },
    { { "--gateway", "", "discover" }, { "--gateway", "''" } },
};

/* A usage error (exit 2) that names the option and the value, told
 * before a client is opened (nothing about starting, no timeout). */
START_TEST(cli_gateway_garbage_is_a_usage_error)
{
    const bad_input *b = &bad_gateways[_i];
    const char *args[12];
    char out[4096];
    size_t n = 0;
    int rc;

    if (!cli_allowed())
        return;
    for (; n < 8 && b->args[n]; n++)
        args[n] = b->args[n];
    args[n++] = "--timeout";
    args[n++] = "2";
    args[n] = NULL;
    rc = run_cli(out, sizeof(out), args);
    ck_assert_msg(rc == 2, "%s %s: exit %d, not 2: %s", b->args[0], b->args[1], rc, out);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(strstr(out, b->named[k]), "%s %s: '%s' not named: %s", b->args[0],
                      b->args[1], b->named[k], out);
    ck_assert_msg(!strstr(out, "cannot start"), "told after opening the client: %s", out);
}
END_TEST

/* The address forms the library takes still pass (the run that follows
 * fails for want of a router: anything but a usage error). */
START_TEST(cli_good_gateways_pass)
{
    static const char *const good[] = { "192.0.2.1", "2001:db8::1", "fe80::1%lo", "fe80::1%1" };
    const char *args[] = { "--gateway", good[_i], "external-ip", "--timeout", "1", NULL };
    char out[4096];
    int rc;

    if (!cli_allowed())
        return;
    rc = run_cli(out, sizeof(out), args);
    ck_assert_msg(rc != 2 && rc >= 0, "--gateway %s: exit %d: %s", good[_i], rc, out);
}
END_TEST

static const bad_input bad_numbers[] = {
    { { "request", "+46099", "udp" }, { "+46099", "+46099" } },
    { { "request", "27015x", "udp" }, { "27015x", "27015x" } },
    { { "request", "--", "-1", "udp" }, { "-1 udp", "-1 udp" } },
    { { "request", "0x10", "udp" }, { "0x10", "0x10" } },
    { { "request", " 27015", "udp" }, { "' 27015", "' 27015" } },
    { { "request", "27015 ", "udp" }, { "27015 ", "27015 " } },
    { { "request", "27015", "udp", "+27016", "tcp" }, { "+27016", "+27016" } },
    { { "request", "184467440737095516170", "udp" }, { "184467440737095516170", "1844" } },
    { { "release", "+27015", "udp" }, { "release PORT", "release PORT" } },
    { { "check", "-0", "tcp" }, { "check PORT", "check PORT" } },
    { { "--lifetime", "+60", "request", "27015", "udp" }, { "--lifetime", "'+60'" } },
    { { "--lifetime", "-60", "request", "27015", "udp" }, { "--lifetime", "'-60'" } },
    { { "--lifetime", " 60", "request", "27015", "udp" }, { "--lifetime", "' 60'" } },
    { { "--lifetime", "0x3c", "request", "27015", "udp" }, { "--lifetime", "'0x3c'" } },
    { { "--lifetime", "18446744073709551676", "request", "1", "udp" }, { "--lifetime", "1844" } },
    { { "--timeout", "+5", "discover" }, { "--timeout", "'+5'" } },
    { { "--timeout", "-5", "discover" }, { "--timeout", "'-5'" } },
    { { "--timeout", "5s", "discover" }, { "--timeout", "'5s'" } },
    { { "--external-port", "+80", "request", "27015", "udp" }, { "--external-port", "'+80'" } },
    { { "--external-port", "-80", "request", "27015", "udp" }, { "--external-port", "'-80'" } },
    { { "--allow", "198.51.100.0/+24", "request", "1", "udp" }, { "--allow", "/+24" } },
    { { "--allow", "198.51.100.0/ 24", "request", "1", "udp" }, { "--allow", "/ 24" } },
};

/* Numbers are digits and nothing else, wherever one is read: what strtol
 * took ("+46099", " 27015", "-60" as a lease) is a usage error. */
START_TEST(cli_numbers_are_digits_only)
{
    const bad_input *b = &bad_numbers[_i];
    const char *args[12];
    char out[4096], shown[128] = "";
    size_t n = 0;
    int rc;

    if (!cli_allowed())
        return;
    for (; n < 8 && b->args[n]; n++) {
        args[n] = b->args[n];
        snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown), "'%s' ", b->args[n]);
    }
    if (strcmp(b->args[0], "--timeout") != 0) {
        args[n++] = "--timeout"; /* what the check let through ends soon */
        args[n++] = "2";
    }
    args[n] = NULL;
    rc = run_cli(out, sizeof(out), args);
    ck_assert_msg(rc == 2, "%s: exit %d, not 2: %s", shown, rc, out);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(strstr(out, b->named[k]), "%s: '%s' not named: %s", shown, b->named[k], out);
}
END_TEST

static Suite *fakeigd_suite(void)
{
    Suite *s = suite_create("fakeigd");
    TCase *tc = tcase_create("igd_behaviour");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, v2_uses_add_any);
    tcase_add_test(tc, v1_never_sends_port_zero);
    tcase_add_test(tc, error_725_retries_permanent);
    tcase_add_test(tc, cli_explains_725);
    tcase_add_test(tc, error_402_retries_permanent);
    tcase_add_test(tc, release_never_deletes_another_hosts_forward);
    tcase_add_test(tc, lost_permanent_entry_is_added_again);
    tcase_add_test(tc, error_718_picks_a_stable_port);
    tcase_add_test(tc, error_724_uses_the_internal_port);
    tcase_add_test(tc, ssdp_from_another_host_is_ignored);
    tcase_add_test(tc, location_elsewhere_is_not_fetched);
    tcase_add_test(tc, control_url_elsewhere_is_refused);
    tcase_add_test(tc, huge_description_is_cut_off);
    tcase_add_test(tc, dripping_router_holds_nothing);
    tcase_add_test(tc, malformed_description);
    tcase_add_test(tc, malformed_soap_reply);
    tcase_add_test(tc, ppp_only_device);
    tcase_add_test(tc, carrier_grade_nat_is_reported);
    suite_add_tcase(s, tc);
    tc = tcase_create("real_routers");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, error_501_on_a_taken_port_is_a_conflict);
    tcase_add_test(tc, error_501_says_what_the_router_said);
    tcase_add_loop_test(tc, junk_external_address_is_unknown, 0, PM_ARRAY_LEN(junk_addresses));
    tcase_add_test(tc, junk_external_address_takes_natpmp_view);
    tcase_add_test(tc, cli_says_the_external_address_is_junk);
    tcase_add_test(tc, rootdevice_only_device_is_found);
    tcase_add_loop_test(tc, unusable_answers_fail_at_once, 0, PM_ARRAY_LEN(unusable));
    tcase_add_test(tc, answer_elsewhere_does_not_end_the_search);
    tcase_add_test(tc, tr064_password_is_said);
    tcase_add_loop_test(tc, cli_names_the_unusable_router, 0, PM_ARRAY_LEN(unusable));
    tcase_add_loop_test(tc, real_device_descriptions_map, 0, PM_ARRAY_LEN(shapes));
    suite_add_tcase(s, tc);
    tc = tcase_create("ipv6");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ipv6_pinhole_added_updated_deleted);
    tcase_add_test(tc, ipv6_pinhole_released_by_another_client);
    tcase_add_test(tc, ipv6_firewall_disabled_is_not_used);
    tcase_add_test(tc, ipv6_no_inbound_pinholes_is_not_used);
    tcase_add_test(tc, ipv6_igdv1_without_firewall_is_not_used);
    tcase_add_test(tc, ipv6_add_pinhole_606_is_not_authorized);
    tcase_add_test(tc, ipv6_update_704_adds_again);
    tcase_add_test(tc, ipv6_update_402_adds_again);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli_input");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, cli_gateway_garbage_is_a_usage_error, 0, PM_ARRAY_LEN(bad_gateways));
    tcase_add_loop_test(tc, cli_good_gateways_pass, 0, 4);
    tcase_add_loop_test(tc, cli_numbers_are_digits_only, 0, PM_ARRAY_LEN(bad_numbers));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0) {
        private_net = 1;
        if (system("ip link set lo up") != 0)
            fprintf(stderr, "fakeigd: could not bring up loopback in the private namespace\n");
    }
    return pm_check_run(fakeigd_suite());
}
