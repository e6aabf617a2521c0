/* Suite: UPnP wire formats (libportmap/proto/upnp/upnp_wire.c): HTTP framing, URLs,
 * SSDP answers, SOAP requests. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/upnp/upnp_wire.h"

static pm_http_status parse(const char *text, int eof, size_t max, pm_http_response *r)
{
    static char buf[70000];
    size_t n = strlen(text);
    memcpy(buf, text, n + 1);
    return pm_http_parse(buf, n, eof, max, r);
}

START_TEST(http_content_length)
{
    pm_http_response r;
    const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
    ck_assert_int_eq(parse(t, 0, 100, &r), PM_HTTP_COMPLETE);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 5);
    ck_assert_int_eq(memcmp(r.body, "hello", 5), 0);
    /* every prefix is incomplete, and broken at EOF */
    for (size_t n = 0; n < strlen(t); n++) {
        char b[128];
        memcpy(b, t, n);
        ck_assert_int_eq(pm_http_parse(b, n, 0, 100, &r), PM_HTTP_INCOMPLETE);
        ck_assert_int_eq(pm_http_parse(b, n, 1, 100, &r), PM_HTTP_BAD);
    }
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 0, 100, &r),
                     PM_HTTP_TOO_BIG);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 100, &r), PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 9x\r\n\r\n", 0, 100, &r), PM_HTTP_BAD);
}
END_TEST

START_TEST(http_chunked)
{
    pm_http_response r;
    ck_assert_int_eq(parse("HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n", 0, 100, &r),
                     PM_HTTP_COMPLETE);
    ck_assert_int_eq(r.status, 500);
    ck_assert_uint_eq(r.body_len, 7);
    ck_assert_int_eq(memcmp(r.body, "abcdefg", 7), 0);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", 0, 100, &r),
                     PM_HTTP_INCOMPLETE);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", 1, 100, &r),
                     PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 100, &r),
                     PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "fffffffff\r\n", 0, 100, &r), PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "ffff\r\n", 0, 100, &r), PM_HTTP_TOO_BIG);
}
END_TEST

/* http.c parses the same growing buffer again after every read: a body
 * that is not whole yet must be left as it came (found by fuzz_http). */
START_TEST(http_chunked_read_in_pieces)
{
    static const char whole[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    char buf[sizeof(whole)];
    pm_http_response r;

    memcpy(buf, whole, sizeof(whole));
    /* as http.c does: parse after every byte until it is not incomplete */
    for (size_t n = 1; n <= sizeof(whole) - 1; n++) {
        pm_http_status st = pm_http_parse(buf, n, 0, 100, &r);
        if (st == PM_HTTP_INCOMPLETE)
            continue;
        ck_assert_int_eq(st, PM_HTTP_COMPLETE);
        ck_assert_uint_eq(r.body_len, 11);
        ck_assert_int_eq(memcmp(r.body, "hello world", 11), 0);
        return;
    }
    ck_abort_msg("never complete");
}
END_TEST

START_TEST(http_until_close_and_garbage)
{
    pm_http_response r;
    ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\n\r\nbody", 0, 100, &r), PM_HTTP_INCOMPLETE);
    ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\n\r\nbody", 1, 100, &r), PM_HTTP_COMPLETE);
    ck_assert_uint_eq(r.body_len, 4);
    ck_assert_int_eq(parse("SSH-2.0-OpenSSH\r\n\r\n", 0, 100, &r), PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 2x0 OK\r\n\r\n", 0, 100, &r), PM_HTTP_BAD);
    /* Content-Length is digits only: a sign or junk makes the framing unknowable */
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nab", 0, 100, &r), PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nab", 0, 100, &r), PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0,
                           100, &r), PM_HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 2 \r\n\r\nab", 0, 100, &r),
                     PM_HTTP_COMPLETE);
    /* headers that never end */
    char *big = malloc(PM_HTTP_MAX_HEADER + 100);
    memset(big, 'a', PM_HTTP_MAX_HEADER + 99);
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    ck_assert_int_eq(pm_http_parse(big, PM_HTTP_MAX_HEADER + 99, 0, 100, &r), PM_HTTP_TOO_BIG);
    free(big);
}
END_TEST

START_TEST(urls)
{
    pm_addr host;
    uint16_t port;
    char path[64];
    struct in_addr a;

    ck_assert_int_eq(pm_url_parse("http://10.77.0.1:5000/rootDesc.xml", &host, &port, path, sizeof(path)), 0);
    inet_pton(AF_INET, "10.77.0.1", &a);
    ck_assert_int_eq(host.family, AF_INET);
    ck_assert_uint_eq(host.u.v4, a.s_addr);
    ck_assert_uint_eq(port, 5000);
    ck_assert_str_eq(path, "/rootDesc.xml");
    ck_assert_int_eq(pm_url_parse("http://10.77.0.1", &host, &port, path, sizeof(path)), 0);
    ck_assert_uint_eq(port, 80);
    ck_assert_str_eq(path, "/");
    ck_assert_int_ne(pm_url_parse("https://10.77.0.1/", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_ne(pm_url_parse("http://router.lan/", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_ne(pm_url_parse("http://10.77.0.1:0/", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_ne(pm_url_parse("http://10.77.0.1:70000/", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_ne(pm_url_parse("http://10.77.0.1:/", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_ne(pm_url_parse("http://10.77.0.1/a b", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_ne(pm_url_parse("http://10.77.0.1/a\r\nX: 1", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_ne(pm_url_parse("http://10.77.0.1/0123456789012345678901234567890123456789"
                                  "0123456789012345678901234567890123456789", &host, &port, path,
                                  sizeof(path)), 0);
    /* a failed parse leaves no address behind */
    ck_assert_int_eq(host.family, 0);
}
END_TEST

START_TEST(urls_ipv6)
{
    pm_addr host, want;
    uint16_t port;
    char path[64];

    ck_assert_int_eq(pm_url_parse("http://[2001:db8:77:1::1]:5000/rootDesc.xml", &host, &port,
                                  path, sizeof(path)), 0);
    ck_assert_int_eq(pm_addr_parse("2001:db8:77:1::1", &want), 0);
    ck_assert(pm_addr_eq(&host, &want));
    ck_assert_uint_eq(port, 5000);
    ck_assert_str_eq(path, "/rootDesc.xml");
    ck_assert_int_eq(pm_url_parse("HTTP://[2001:DB8::A]", &host, &port, path, sizeof(path)), 0);
    ck_assert_int_eq(pm_addr_parse("2001:db8::a", &want), 0);
    ck_assert(pm_addr_eq(&host, &want));
    ck_assert_uint_eq(port, 80);
    ck_assert_str_eq(path, "/");
    /* link-local: no zone in the URL, the caller adds the one it knows */
    ck_assert_int_eq(pm_url_parse("http://[fe80::1]:49152/ctl/IP6FCtl", &host, &port, path,
                                  sizeof(path)), 0);
    ck_assert(pm_addr_is_link_local(&host));
    ck_assert_uint_eq(host.scope, 0);
    ck_assert_str_eq(path, "/ctl/IP6FCtl");

    static const char *const bad[] = {
        "http://[fe80::1%25eth0]:5000/x",  /* a zone, encoded (RFC 6874) */
        "http://[fe80::1%eth0]/x",         /* and bare */
        "http://[fe80::1%251]/x",
        "http://2001:db8::1/x",            /* no brackets */
        "http://[2001:db8::1/x",           /* unclosed */
        "http://2001:db8::1]/x",
        "http://[]/x",
        "http://[10.77.0.1]/x",            /* IPv4 in brackets */
        "http://[::ffff:10.77.0.1]/x",     /* IPv4 dressed as IPv6 */
        "http://[2001:db8::1]:/x",         /* empty port */
        "http://[2001:db8::1]:0/x",
        "http://[2001:db8::1]:65536/x",
        "http://[2001:db8::1]:+80/x",
        "http://[2001:db8::1]x/x",         /* junk after the bracket */
        "http://[2001:db8::1]]/x",
        "http://[[2001:db8::1]]/x",
        "http://[2001:db8::1]?q/x",
        "http://user@[2001:db8::1]/x",
        "http://[2001:db8::1]/a b",
        "http://[2001:db8::1]/a\r\nHost: evil",
        "http://[2001:0db8:0000:0000:0000:0000:0000:0000:1]/x",
        "http://[2001:db8:1:2:3:4:5:6:7]/x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pm_url_parse(bad[i], &host, &port, path, sizeof(path)) != 0, "%s", bad[i]);
        ck_assert_int_eq(host.family, 0);
    }
    /* a path too long for the buffer is refused, not cut */
    ck_assert_int_ne(pm_url_parse("http://[2001:db8::1]/0123456789012345678901234567890123456789"
                                  "0123456789012345678901234567890123456789", &host, &port, path,
                                  sizeof(path)), 0);
}
END_TEST

START_TEST(url_host_round_trip)
{
    static const char *const cases[] = { "http://10.77.0.1:5000/d.xml",
                                         "http://[2001:db8:77:1::1]:5000/d.xml",
                                         "http://[::1]:1/", "http://[fe80::1:2]:65535/x?y=1" };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pm_addr host, again;
        uint16_t port, port2;
        char path[64], path2[64], text[PM_ADDR_TEXT], url[160];

        ck_assert_int_eq(pm_url_parse(cases[i], &host, &port, path, sizeof(path)), 0);
        pm_addr_url_host(&host, text, sizeof(text));
        snprintf(url, sizeof(url), "http://%s:%u%s", text, port, path);
        ck_assert_str_eq(url, cases[i]);
        ck_assert_int_eq(pm_url_parse(url, &again, &port2, path2, sizeof(path2)), 0);
        ck_assert(pm_addr_eq(&host, &again));
    }
}
END_TEST

START_TEST(ssdp_answers)
{
    pm_ssdp_answer a;
    const char *ok = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                     "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
                     "USN: uuid:1::urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
                     "Location: http://10.77.0.1:5000/rootDesc.xml\r\nBOOTID.UPNP.ORG: 7\r\n\r\n";
    ck_assert_int_eq(pm_ssdp_parse(ok, strlen(ok), &a), 0);
    ck_assert_int_eq(a.igd_version, 2);
    ck_assert_str_eq(a.location, "http://10.77.0.1:5000/rootDesc.xml");
    ck_assert_int_eq(a.bootid, 7);
    ck_assert_int_eq(a.is_notify, 0);
    const char *notify = "NOTIFY * HTTP/1.1\r\nNT: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                         "NTS: ssdp:alive\r\nLOCATION: http://10.77.0.1:5000/d.xml\r\n\r\n";
    ck_assert_int_eq(pm_ssdp_parse(notify, strlen(notify), &a), 0);
    ck_assert_int_eq(a.is_notify, 1);
    ck_assert_int_eq(a.igd_version, 1);
    const char *other = "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:MediaServer:1\r\n"
                        "LOCATION: http://10.77.0.1/\r\n\r\n";
    ck_assert_int_eq(pm_ssdp_parse(other, strlen(other), &a), 1); /* not ours, not malformed */
    /* a root device: whether it is an IGD its description says */
    const char *root = "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:1::upnp:rootdevice\r\n"
                       "LOCATION: http://10.77.0.1:49000/tr64desc.xml\r\n\r\n";
    ck_assert_int_eq(pm_ssdp_parse(root, strlen(root), &a), 0);
    ck_assert_int_eq(a.igd_version, 0);
    ck_assert_str_eq(a.location, "http://10.77.0.1:49000/tr64desc.xml");
    const char *root_noloc = "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n";
    ck_assert_int_eq(pm_ssdp_parse(root_noloc, strlen(root_noloc), &a), -1);
    const char *noloc = "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n";
    ck_assert_int_ne(pm_ssdp_parse(noloc, strlen(noloc), &a), 0);
    for (size_t n = 0; n < strlen(ok) - 60; n++) /* truncations never crash */
        pm_ssdp_parse(ok, n, &a);
}
END_TEST

/* The searches: each IGD version, every root device, everything */
START_TEST(ssdp_search_targets)
{
    static const struct {
        int version;
        const char *st;
    } t[] = {
        { 2, "\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n" },
        { 1, "\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" },
        { 0, "\r\nST: upnp:rootdevice\r\n" },
        { -1, "\r\nST: ssdp:all\r\n" },
    };
    char buf[512];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t n = pm_ssdp_msearch(buf, sizeof(buf), "10.77.0.1", t[i].version);
        ck_assert_uint_gt(n, 0);
        ck_assert_uint_eq(n, strlen(buf));
        ck_assert_msg(strstr(buf, t[i].st) != NULL, "%s", buf);
        ck_assert(strncmp(buf, "M-SEARCH * HTTP/1.1\r\nHOST: 10.77.0.1:1900\r\n", 42) == 0);
        ck_assert_uint_eq(pm_ssdp_msearch(buf, 40, "10.77.0.1", t[i].version), 0); /* no room */
    }
}
END_TEST

START_TEST(ssdp_ipv6)
{
    char buf[512];
    pm_ssdp_answer a;
    pm_addr host, want;
    uint16_t port;
    char path[64];
    const char *v6 = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                     "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
                     "USN: uuid:1::urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
                     "LOCATION: http://[2001:db8:77:1::1]:5000/rootDesc.xml\r\n"
                     "BOOTID.UPNP.ORG: 9\r\n\r\n";
    size_t n = pm_ssdp_msearch(buf, sizeof(buf), "[FF02::C]", 2);

    /* the search to the link-local multicast group names it in brackets */
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert_ptr_nonnull(strstr(buf, "\r\nHOST: [FF02::C]:1900\r\n"));
    ck_assert_ptr_nonnull(strstr(buf, "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"));
    ck_assert_uint_eq(pm_ssdp_msearch(buf, 40, "[FF02::C]", 2), 0);

    ck_assert_int_eq(pm_ssdp_parse(v6, strlen(v6), &a), 0);
    ck_assert_str_eq(a.location, "http://[2001:db8:77:1::1]:5000/rootDesc.xml");
    ck_assert_int_eq(a.bootid, 9);
    ck_assert_int_eq(pm_url_parse(a.location, &host, &port, path, sizeof(path)), 0);
    ck_assert_int_eq(pm_addr_parse("2001:db8:77:1::1", &want), 0);
    ck_assert(pm_addr_eq(&host, &want));
    ck_assert_uint_eq(port, 5000);
    ck_assert_str_eq(path, "/rootDesc.xml");
}
END_TEST

START_TEST(soap_request_escapes)
{
    char buf[8192];
    pm_soap_arg args[] = { { "NewPortMappingDescription", "<b>&\"x\"" }, { "NewEnabled", "1" } };
    size_t n = pm_soap_request(buf, sizeof(buf), "10.77.0.1", 5000, "/ctl/IPConn",
                               "urn:schemas-upnp-org:service:WANIPConnection:2", "AddPortMapping",
                               args, 2);
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "POST /ctl/IPConn HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(buf, "SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:2#AddPortMapping\""));
    ck_assert_ptr_nonnull(strstr(buf, "&lt;b&gt;&amp;&quot;x&quot;"));
    ck_assert_ptr_null(strstr(buf, "<b>"));
    /* Content-Length matches the body */
    char *body = strstr(buf, "\r\n\r\n") + 4;
    long cl = strtol(strstr(buf, "Content-Length: ") + 16, NULL, 10);
    ck_assert_int_eq(cl, (long)strlen(body));
    ck_assert_uint_eq(pm_soap_request(buf, 100, "h", 1, "/", "s", "A", args, 2), 0);
}
END_TEST

START_TEST(soap_request_ipv6_host)
{
    char buf[8192], host[PM_ADDR_TEXT];
    pm_addr a;
    pm_soap_arg args[] = { { "RemoteHost", "" }, { "RemotePort", "0" },
                           { "InternalClient", "2001:db8:77:1::2" }, { "InternalPort", "27015" },
                           { "Protocol", "17" }, { "LeaseTime", "3600" } };
    size_t n;

    ck_assert_int_eq(pm_addr_parse("2001:db8::1", &a), 0);
    pm_addr_url_host(&a, host, sizeof(host));
    n = pm_soap_request(buf, sizeof(buf), host, 5000, "/ctl/IP6FCtl",
                        "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1", "AddPinhole",
                        args, sizeof(args) / sizeof(args[0]));
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "POST /ctl/IP6FCtl HTTP/1.1\r\nHost: [2001:db8::1]:5000\r\n"));
    ck_assert_ptr_nonnull(strstr(buf, "SOAPAction: \"urn:schemas-upnp-org:service:"
                                      "WANIPv6FirewallControl:1#AddPinhole\""));
    ck_assert_ptr_nonnull(strstr(buf, "<InternalClient>2001:db8:77:1::2</InternalClient>"));
    /* the description is fetched the same way */
    n = pm_http_get(buf, sizeof(buf), host, 5000, "/rootDesc.xml");
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "GET /rootDesc.xml HTTP/1.1\r\nHost: [2001:db8::1]:5000\r\n"));
}
END_TEST

static Suite *upnp_wire_suite(void)
{
    Suite *s = suite_create("upnp_wire");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, http_content_length);
    tcase_add_test(tc, http_chunked);
    tcase_add_test(tc, http_chunked_read_in_pieces);
    tcase_add_test(tc, http_until_close_and_garbage);
    tcase_add_test(tc, urls);
    tcase_add_test(tc, urls_ipv6);
    tcase_add_test(tc, url_host_round_trip);
    tcase_add_test(tc, ssdp_answers);
    tcase_add_test(tc, ssdp_search_targets);
    tcase_add_test(tc, ssdp_ipv6);
    tcase_add_test(tc, soap_request_escapes);
    tcase_add_test(tc, soap_request_ipv6_host);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(upnp_wire_suite)
