/* Suite: UPnP replies (libportmap/upnp_reply.c): the device description,
 * SOAP results and faults, mapping-table entries. The description and the
 * SOAP bodies are the lab router's own (miniupnpd 2.3.1), from the fuzz
 * corpus. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "upnp_reply.h"
#include "upnp_wire.h"

#define LOCATION "http://10.77.0.1:5000/rootDesc.xml"

static char file_buf[PM_UPNP_DESC_MAX + 1];

/* A captured reply from the corpus, framed by the real HTTP parser. */
static pm_http_response corpus_reply(const char *target, const char *name)
{
    char path[512];
    pm_http_response r;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s/%s", CORPUS_DIR, target, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    n = fread(file_buf, 1, sizeof(file_buf) - 1, f);
    fclose(f);
    ck_assert_int_eq(pm_http_parse(file_buf, n, 1, PM_UPNP_DESC_MAX, &r), PM_HTTP_COMPLETE);
    return r;
}

START_TEST(description_of_the_lab_router)
{
    pm_http_response r = corpus_reply("desc", "lab-rootDesc");
    pm_igd_desc d;
    struct in_addr a;

    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION, &d), PM_DESC_OK);
    a.s_addr = d.ctl_addr;
    ck_assert_str_eq(inet_ntoa(a), "10.77.0.1");
    ck_assert_uint_eq(d.ctl_port, 5000);
    ck_assert_str_eq(d.ctl_path, "/ctl/IPConn");
    ck_assert_str_eq(d.service, "urn:schemas-upnp-org:service:WANIPConnection:2");
    ck_assert_str_eq(d.service_name, "WANIPConnection:2");
    ck_assert_int_eq(d.version, 2);
}
END_TEST

START_TEST(description_without_a_wan_service_or_with_a_bad_url)
{
    static const char no_wan[] =
        "<root><device><serviceList><service><serviceType>urn:x:service:Other:1</serviceType>"
        "<controlURL>/c</controlURL></service></serviceList></device></root>";
    static const char named_host[] =
        "<root><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>"
        "<serviceList><service>"
        "<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
        "<controlURL>http://router.example:80/ctl</controlURL></service></serviceList>"
        "</device></root>";
    pm_igd_desc d;

    ck_assert_int_eq(pm_upnp_desc_parse(no_wan, strlen(no_wan), LOCATION, &d), PM_DESC_NO_SERVICE);
    ck_assert_int_eq(pm_upnp_desc_parse("", 0, LOCATION, &d), PM_DESC_NO_SERVICE);
    ck_assert_int_eq(pm_upnp_desc_parse(named_host, strlen(named_host), LOCATION, &d),
                     PM_DESC_BAD_URL);
    ck_assert_uint_eq(d.ctl_addr, 0); /* never mistaken for the gateway */
    ck_assert_str_eq(d.control_url, "http://router.example:80/ctl");
}
END_TEST

START_TEST(soap_success_and_faults)
{
    pm_http_response r = corpus_reply("soap", "lab-addany");
    char v[64] = "x";
    static const char fault[] =
        "<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>%s</errorCode>"
        "</UPnPError></detail></s:Fault></s:Body></s:Envelope>";
    char body[512];

    ck_assert_int_eq(pm_soap_result(r.body, r.body_len, r.status, "NewReservedPort", v, sizeof(v)), 0);
    ck_assert_uint_ne(pm_upnp_port(v), 0);
    ck_assert_int_eq(pm_soap_result(r.body, r.body_len, 200, "Absent", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "");

    snprintf(body, sizeof(body), fault, "725");
    ck_assert_int_eq(pm_soap_result(body, strlen(body), 500, NULL, NULL, 0), 725);
    snprintf(body, sizeof(body), fault, " 718\n");
    ck_assert_int_eq(pm_soap_result(body, strlen(body), 500, NULL, NULL, 0), 718);
    /* not a number, signs, junk after it, out of range: no code to trust */
    static const char *const bad[] = { "abc", "-725", "+725", "725x", "0", "99999999999", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), fault, bad[i]);
        ck_assert_int_eq(pm_soap_result(body, strlen(body), 500, NULL, NULL, 0), 501);
    }
    ck_assert_int_eq(pm_soap_result("", 0, 403, NULL, NULL, 0), 501);
}
END_TEST

START_TEST(ports_are_checked_not_cut)
{
    ck_assert_uint_eq(pm_upnp_port("27015"), 27015);
    ck_assert_uint_eq(pm_upnp_port(" 1 "), 1);
    ck_assert_uint_eq(pm_upnp_port("65535"), 65535);
    ck_assert_uint_eq(pm_upnp_port("65536"), 0);
    ck_assert_uint_eq(pm_upnp_port("92551"), 0); /* would be 27015 cut to 16 bits */
    ck_assert_uint_eq(pm_upnp_port("0"), 0);
    ck_assert_uint_eq(pm_upnp_port("+80"), 0);
    ck_assert_uint_eq(pm_upnp_port("80abc"), 0);
    ck_assert_uint_eq(pm_upnp_port(""), 0);
}
END_TEST

START_TEST(table_entries)
{
    static const char entry[] =
        "<s:Envelope><s:Body><u:GetGenericPortMappingEntryResponse>"
        "<NewRemoteHost>198.51.100.7</NewRemoteHost><NewExternalPort>27015</NewExternalPort>"
        "<NewProtocol>TCP</NewProtocol><NewInternalPort>80</NewInternalPort>"
        "<NewInternalClient>10.77.0.2</NewInternalClient><NewEnabled>1</NewEnabled>"
        "<NewPortMappingDescription>game</NewPortMappingDescription>"
        "<NewLeaseDuration>4294967296</NewLeaseDuration>"
        "</u:GetGenericPortMappingEntryResponse></s:Body></s:Envelope>";
    static const char end[] = "<s:Fault><detail><UPnPError><errorCode>713</errorCode>"
                              "</UPnPError></detail></s:Fault>";
    portmap_router_entry e;

    ck_assert_int_eq(pm_upnp_entry_parse(entry, strlen(entry), 200, "10.77.0.2", &e), 0);
    ck_assert_int_eq(e.protocol, PORTMAP_TCP);
    ck_assert_uint_eq(e.external_port, 27015);
    ck_assert_uint_eq(e.internal_port, 80);
    ck_assert_str_eq(e.internal_client, "10.77.0.2");
    ck_assert_str_eq(e.remote_host, "198.51.100.7");
    ck_assert_str_eq(e.description, "game");
    ck_assert_uint_eq(e.lease, 0); /* beyond 32 bits: not a lease we can trust */
    ck_assert_int_eq(e.enabled, 1);
    ck_assert_int_eq(e.ours, 1);
    ck_assert_int_eq(pm_upnp_entry_parse(entry, strlen(entry), 200, "10.77.0.3", &e), 0);
    ck_assert_int_eq(e.ours, 0);
    ck_assert_int_eq(pm_upnp_entry_parse(end, strlen(end), 500, "10.77.0.2", &e), 713);
}
END_TEST

static Suite *upnp_reply_suite(void)
{
    Suite *s = suite_create("upnp_reply");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, description_of_the_lab_router);
    tcase_add_test(tc, description_without_a_wan_service_or_with_a_bad_url);
    tcase_add_test(tc, soap_success_and_faults);
    tcase_add_test(tc, ports_are_checked_not_cut);
    tcase_add_test(tc, table_entries);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(upnp_reply_suite)
