/* Suite: UPnP replies (libportmap/proto/upnp/upnp_reply.c): the device description
 * (WAN connection and IPv6 firewall control), SOAP results and faults,
 * mapping-table entries, pinhole replies. The description and the
 * SOAP bodies are the lab router's own (miniupnpd 2.3.1), from the fuzz
 * corpus. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/upnp/upnp_reply.h"
#include "proto/upnp/upnp_wire.h"

#define LOCATION "http://10.77.0.1:5000/rootDesc.xml"
#define LOCATION6 "http://[2001:db8:77:1::1]:5000/rootDesc.xml"

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

/* A description from the corpus as a body: an HTTP reply framed by the
 * real parser, or bare XML. */
static pm_http_response corpus_body(const char *target, const char *name)
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
    file_buf[n] = '\0';
    if (strncmp(file_buf, "HTTP/", 5) == 0) {
        ck_assert_int_eq(pm_http_parse(file_buf, n, 1, PM_UPNP_DESC_MAX, &r), PM_HTTP_COMPLETE);
        return r;
    }
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.body = file_buf;
    r.body_len = n;
    return r;
}

static pm_addr addr(const char *text)
{
    pm_addr a;

    ck_assert_int_eq(pm_addr_parse(text, &a), 0);
    return a;
}

START_TEST(description_of_the_lab_router)
{
    pm_http_response r = corpus_reply("desc", "lab-rootDesc");
    pm_igd_desc d;
    pm_addr gw = addr("10.77.0.1");

    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION, &d), PM_DESC_OK);
    ck_assert_int_eq(d.has_wan, 1);
    ck_assert(pm_addr_eq(&d.ctl_addr, &gw));
    ck_assert_uint_eq(d.ctl_port, 5000);
    ck_assert_str_eq(d.ctl_path, "/ctl/IPConn");
    ck_assert_str_eq(d.service, "urn:schemas-upnp-org:service:WANIPConnection:2");
    ck_assert_str_eq(d.service_name, "WANIPConnection:2");
    ck_assert_int_eq(d.version, 2);
    /* miniupnpd built with IPv6 lists its pinhole service next to it */
    ck_assert_int_eq(d.has_fw, 1);
    ck_assert(pm_addr_eq(&d.fw_addr, &gw));
    ck_assert_uint_eq(d.fw_port, 5000);
    ck_assert_str_eq(d.fw_path, "/ctl/IP6FCtl");
    ck_assert_str_eq(d.fw_service, "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1");
}
END_TEST

START_TEST(description_over_ipv6)
{
    pm_http_response r = corpus_body("desc", "hand-igd2-ipv6-firewall");
    pm_igd_desc d;
    pm_addr gw = addr("2001:db8:77:1::1");

    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION6, &d), PM_DESC_OK);
    ck_assert_int_eq(d.has_wan, 1);
    ck_assert(pm_addr_eq(&d.ctl_addr, &gw));
    ck_assert_uint_eq(d.ctl_port, 5000);
    ck_assert_str_eq(d.ctl_path, "/ctl/IPConn");
    ck_assert_str_eq(d.control_url, "http://[2001:db8:77:1::1]:5000/ctl/IPConn");
    ck_assert_int_eq(d.version, 2);
    ck_assert_int_eq(d.has_fw, 1);
    ck_assert(pm_addr_eq(&d.fw_addr, &gw));
    ck_assert_uint_eq(d.fw_port, 5000);
    ck_assert_str_eq(d.fw_path, "/ctl/IP6FCtl");
    ck_assert_str_eq(d.fw_control_url, "http://[2001:db8:77:1::1]:5000/ctl/IP6FCtl");
    ck_assert_str_eq(d.fw_service, "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1");

    /* a link-local router: the URL carries no zone, the caller adds it */
    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len,
                                        "http://[fe80::1]:5000/rootDesc.xml", &d), PM_DESC_OK);
    ck_assert(pm_addr_is_link_local(&d.fw_addr));
    ck_assert_uint_eq(d.fw_addr.scope, 0);
    /* nor does a location with a zone get through */
    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len,
                                        "http://[fe80::1%25eth0]:5000/rootDesc.xml", &d),
                     PM_DESC_BAD_URL);
    ck_assert_int_eq(d.has_fw, 0);
    ck_assert(!pm_addr_is_set(&d.fw_addr));
}
END_TEST

START_TEST(description_v1_without_firewall)
{
    pm_http_response r = corpus_body("desc", "hand-ip-and-ppp");
    pm_igd_desc d;

    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION, &d), PM_DESC_OK);
    ck_assert_int_eq(d.has_wan, 1);
    ck_assert_str_eq(d.service_name, "WANIPConnection:1");
    ck_assert_int_eq(d.version, 1);
    ck_assert_int_eq(d.has_fw, 0);
    ck_assert(!pm_addr_is_set(&d.fw_addr));
    ck_assert_str_eq(d.fw_service, "");
}
END_TEST

START_TEST(description_with_only_the_firewall)
{
    pm_http_response r = corpus_body("desc", "hand-firewall-only");
    pm_igd_desc d;
    pm_addr gw = addr("2001:db8:77:1::1");

    /* no port mapping here, but pinholes all the same */
    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION6, &d), PM_DESC_NO_SERVICE);
    ck_assert_int_eq(d.has_wan, 0);
    ck_assert(!pm_addr_is_set(&d.ctl_addr));
    ck_assert_int_eq(d.has_fw, 1);
    ck_assert(pm_addr_eq(&d.fw_addr, &gw));
    ck_assert_str_eq(d.fw_path, "/ctl/IP6FCtl");

    /* the firewall listed first does not take the WAN connection's place */
    r = corpus_body("desc", "hand-firewall-before-wan");
    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION, &d), PM_DESC_OK);
    ck_assert_str_eq(d.ctl_path, "/ppp");
    ck_assert_str_eq(d.service_name, "WANPPPConnection:1");
    ck_assert_str_eq(d.fw_path, "/fw");
}
END_TEST

START_TEST(description_with_a_bad_firewall_url)
{
    static const char *const bad[] = { "hand-firewall-zone", "hand-firewall-no-control" };
    pm_http_response r;
    pm_igd_desc d;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = corpus_body("desc", bad[i]);
        /* the WAN connection is unharmed */
        ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION, &d), PM_DESC_OK);
        ck_assert_int_eq(d.has_wan, 1);
        ck_assert_msg(d.has_fw == 0, "%s", bad[i]);
        ck_assert(!pm_addr_is_set(&d.fw_addr));
    }
    /* an absolute IPv6 URL, and a URLBase, are taken as written */
    r = corpus_body("desc", "hand-firewall-absolute");
    ck_assert_int_eq(pm_upnp_desc_parse(r.body, r.body_len, LOCATION, &d), PM_DESC_OK);
    ck_assert_int_eq(d.ctl_addr.family, AF_INET6); /* through the URLBase */
    ck_assert_int_eq(d.has_fw, 1);
    ck_assert_str_eq(d.fw_control_url, "http://[2001:db8:77:1::1]:5000/ctl/IP6FCtl");
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
    ck_assert_int_eq(d.has_wan, 0);
    ck_assert_int_eq(d.has_fw, 0);
    ck_assert_int_eq(pm_upnp_desc_parse("", 0, LOCATION, &d), PM_DESC_NO_SERVICE);
    ck_assert_int_eq(pm_upnp_desc_parse(named_host, strlen(named_host), LOCATION, &d),
                     PM_DESC_BAD_URL);
    ck_assert_int_eq(d.has_wan, 0);
    ck_assert(!pm_addr_is_set(&d.ctl_addr)); /* never mistaken for the gateway */
    ck_assert_str_eq(d.control_url, "http://router.example:80/ctl");
}
END_TEST

/* TR-064: WANIPConnection under urn:dslforum-org, read as a UPnP one;
 * TR-064's other services are not a port-mapping service. */
START_TEST(description_tr064)
{
    static const char tr064[] =
        "<?xml version=\"1.0\"?><root xmlns=\"urn:dslforum-org:device-1-0\"><URLBase>"
        "http://10.77.0.1:49000</URLBase><device><deviceType>urn:dslforum-org:device:"
        "InternetGatewayDevice:1</deviceType><serviceList><service><serviceType>"
        "urn:dslforum-org:service:DeviceInfo:1</serviceType><controlURL>/upnp/control/deviceinfo"
        "</controlURL></service></serviceList><deviceList><device><deviceList><device>"
        "<serviceList><service><serviceId>urn:WANPPPConnection-com:serviceId:WANPPPConnection1"
        "</serviceId><controlURL> /upnp/control/wanpppconn1 </controlURL><serviceType>"
        "urn:dslforum-org:service:WANPPPConnection:1</serviceType></service><service>"
        "<serviceType>urn:dslforum-org:service:WANIPConnection:1</serviceType><controlURL>"
        "/upnp/control/wanipconnection1</controlURL></service></serviceList></device>"
        "</deviceList></device></deviceList></device></root>";
    static const char mgmt_only[] =
        "<root><device><serviceList><service><serviceType>urn:dslforum-org:service:"
        "DeviceInfo:1</serviceType><controlURL>/upnp/control/deviceinfo</controlURL>"
        "</service></serviceList></device></root>";
    static const char no_control[] =
        "<root><service><serviceType>urn:dslforum-org:service:WANIPConnection:1</serviceType>"
        "</service></root>";
    pm_igd_desc d;
    char host[PM_ADDR_TEXT];

    /* the first listed, the control URL before the type and padded */
    ck_assert_int_eq(pm_upnp_desc_parse(tr064, strlen(tr064), LOCATION, &d), PM_DESC_OK);
    ck_assert_str_eq(d.service, "urn:dslforum-org:service:WANPPPConnection:1");
    ck_assert_str_eq(d.service_name, "WANPPPConnection:1");
    ck_assert_int_eq(d.version, 1);
    pm_addr_fmt(&d.ctl_addr, host, sizeof(host));
    ck_assert_str_eq(host, "10.77.0.1");
    ck_assert_uint_eq(d.ctl_port, 49000); /* from URLBase */
    ck_assert_str_eq(d.ctl_path, "/upnp/control/wanpppconn1");
    ck_assert_int_eq(pm_upnp_desc_parse(mgmt_only, strlen(mgmt_only), LOCATION, &d),
                     PM_DESC_NO_SERVICE);
    ck_assert_int_eq(pm_upnp_desc_parse(no_control, strlen(no_control), LOCATION, &d),
                     PM_DESC_NO_SERVICE);
    for (size_t n = 0; n < sizeof(tr064) - 1; n += 7) /* cut anywhere: no crash */
        pm_upnp_desc_parse(tr064, n, LOCATION, &d);
}
END_TEST

/* The router's words for a fault, printable only */
START_TEST(soap_fault_text)
{
    static const char fault[] =
        "<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>501</errorCode>"
        "<errorDescription> WAN\x1b[31m down \n</errorDescription></UPnPError></detail>"
        "</s:Fault></s:Body></s:Envelope>";
    static const char bare[] =
        "<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>501</errorCode>"
        "</UPnPError></detail></s:Fault></s:Body></s:Envelope>";
    char t[64] = "x", small[4];

    pm_soap_fault_text(fault, strlen(fault), t, sizeof(t));
    ck_assert_str_eq(t, "WAN [31m down");
    pm_soap_fault_text(fault, strlen(fault), small, sizeof(small));
    ck_assert_str_eq(small, "WAN");
    pm_soap_fault_text(bare, strlen(bare), t, sizeof(t));
    ck_assert_str_eq(t, "");
    pm_soap_fault_text("", 0, t, sizeof(t));
    ck_assert_str_eq(t, "");
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

START_TEST(pinhole_unique_ids)
{
    pm_http_response r = corpus_body("pinhole", "hand-add-ok");
    char v[64];
    uint16_t id = 0;

    ck_assert_int_eq(pm_soap_result(r.body, r.body_len, r.status, "UniqueID", v, sizeof(v)), 0);
    ck_assert_int_eq(pm_upnp_unique_id(v, &id), 0);
    ck_assert_uint_eq(id, 1);
    ck_assert_int_eq(pm_upnp_unique_id("0", &id), 0);
    ck_assert_uint_eq(id, 0);
    ck_assert_int_eq(pm_upnp_unique_id("65535", &id), 0);
    ck_assert_uint_eq(id, 65535);
    ck_assert_int_eq(pm_upnp_unique_id(" 7\r\n", &id), 0);
    ck_assert_uint_eq(id, 7);
    /* a ui2 and nothing else; id stays as it was */
    static const char *const bad[] = { "65536", "70001", "-1", "+1", "0x10", "1.5", "12a",
                                       "", " ", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pm_upnp_unique_id(bad[i], &id) == -1, "%s", bad[i]);
        ck_assert_uint_eq(id, 7);
    }
    ck_assert_int_eq(pm_upnp_unique_id(NULL, &id), -1);
}
END_TEST

START_TEST(firewall_status)
{
    static const char reply[] =
        "<s:Envelope><s:Body><u:GetFirewallStatusResponse xmlns:u=\"urn:schemas-upnp-org:"
        "service:WANIPv6FirewallControl:1\"><FirewallEnabled>%s</FirewallEnabled>"
        "<InboundPinholeAllowed>%s</InboundPinholeAllowed></u:GetFirewallStatusResponse>"
        "</s:Body></s:Envelope>";
    static const struct {
        const char *enabled, *allowed;
        int code, want_enabled, want_allowed;
    } cases[] = {
        { "1", "1", 0, 1, 1 }, { "1", "0", 0, 1, 0 }, { "0", "1", 0, 0, 1 },
        { "true", "false", 0, 1, 0 }, { "YES", "No", 0, 1, 0 }, { " 0 ", "\n1", 0, 0, 1 },
        { "2", "1", -1, 9, 9 }, { "1", "on", -1, 9, 9 }, { "", "1", -1, 9, 9 },
        { "truth", "0", -1, 9, 9 }, { "1", "00", -1, 9, 9 },
    };
    pm_http_response r = corpus_body("pinhole", "hand-status-ok");
    char body[512];
    int enabled = 9, allowed = 9;

    ck_assert_int_eq(pm_upnp_fw_status_parse(r.body, r.body_len, r.status, &enabled, &allowed), 0);
    ck_assert_int_eq(enabled, 1);
    ck_assert_int_eq(allowed, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enabled = allowed = 9;
        snprintf(body, sizeof(body), reply, cases[i].enabled, cases[i].allowed);
        ck_assert_msg(pm_upnp_fw_status_parse(body, strlen(body), 200, &enabled, &allowed) ==
                      cases[i].code, "%s/%s", cases[i].enabled, cases[i].allowed);
        ck_assert_int_eq(enabled, cases[i].want_enabled);
        ck_assert_int_eq(allowed, cases[i].want_allowed);
    }
    /* one value missing is no status */
    r = corpus_body("pinhole", "hand-status-missing");
    ck_assert_int_eq(pm_upnp_fw_status_parse(r.body, r.body_len, r.status, &enabled, &allowed), -1);
    /* faults as pm_soap_result reads them */
    r = corpus_body("pinhole", "hand-fault-firewall-disabled");
    ck_assert_int_eq(pm_upnp_fw_status_parse(r.body, r.body_len, r.status, &enabled, &allowed),
                     702);
    ck_assert_int_eq(pm_upnp_fw_status_parse("", 0, 500, &enabled, &allowed), 501);
}
END_TEST

START_TEST(pinhole_errors)
{
    static const struct {
        int code;
        portmap_error err;
        const char *named;
    } cases[] = {
        { 0, PORTMAP_OK, "success" },
        { -1, PORTMAP_ERR_PROTOCOL, "could not be read" },
        { 401, PORTMAP_ERR_UNSUPPORTED, "Invalid Action" },
        { 402, PORTMAP_ERR_REFUSED, "Invalid Args" },
        { 501, PORTMAP_ERR_REFUSED, "Action Failed" },
        { 606, PORTMAP_ERR_NOT_AUTHORIZED, "Action not authorized" },
        { 701, PORTMAP_ERR_NO_RESOURCES, "PinholeSpaceExhausted" },
        { 702, PORTMAP_ERR_UNSUPPORTED, "IPv6 firewall is disabled" },
        { 703, PORTMAP_ERR_NOT_AUTHORIZED, "InboundPinholeNotAllowed" },
        { 704, PORTMAP_ERR_NOT_FOUND, "NoSuchEntry" },
        { 705, PORTMAP_ERR_UNSUPPORTED, "ProtocolNotSupported" },
        { 706, PORTMAP_ERR_REFUSED, "InternalPortWildcardingNotAllowed" },
        { 707, PORTMAP_ERR_REFUSED, "ProtocolWildcardingNotAllowed" },
        { 708, PORTMAP_ERR_REFUSED, "WildCardNotPermittedInSrcIP" },
        { 709, PORTMAP_ERR_REFUSED, "NoTrafficReceived" },
        { 718, PORTMAP_ERR_REFUSED, "unknown" }, /* WANIPConnection's, not this service's */
        { 9999, PORTMAP_ERR_REFUSED, "unknown" },
    };
    const char *why;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why = NULL;
        ck_assert_int_eq(pm_upnp_pinhole_error(cases[i].code, &why), cases[i].err);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, cases[i].named) != NULL, "%d: %s", cases[i].code, why);
        ck_assert_int_eq(pm_upnp_pinhole_error(cases[i].code, NULL), cases[i].err);
    }
    /* a whole fault from the corpus, through the SOAP reader */
    pm_http_response r = corpus_body("pinhole", "hand-fault-space-exhausted");
    int code = pm_soap_result(r.body, r.body_len, r.status, NULL, NULL, 0);
    ck_assert_int_eq(pm_upnp_pinhole_error(code, &why), PORTMAP_ERR_NO_RESOURCES);
}
END_TEST

static Suite *upnp_reply_suite(void)
{
    Suite *s = suite_create("upnp_reply");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, description_of_the_lab_router);
    tcase_add_test(tc, description_over_ipv6);
    tcase_add_test(tc, description_v1_without_firewall);
    tcase_add_test(tc, description_with_only_the_firewall);
    tcase_add_test(tc, description_with_a_bad_firewall_url);
    tcase_add_test(tc, description_without_a_wan_service_or_with_a_bad_url);
    tcase_add_test(tc, soap_success_and_faults);
    tcase_add_test(tc, description_tr064);
    tcase_add_test(tc, soap_fault_text);
    tcase_add_test(tc, ports_are_checked_not_cut);
    tcase_add_test(tc, table_entries);
    tcase_add_test(tc, pinhole_unique_ids);
    tcase_add_test(tc, firewall_status);
    tcase_add_test(tc, pinhole_errors);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(upnp_reply_suite)
