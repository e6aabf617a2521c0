/* Suite: addresses of either family (libportmap/sys/addr.c): text, URL host,
 * socket and PCP forms, zones, and how fit an IPv6 address of this host is
 * to be opened to the outside. */
#include <arpa/inet.h>
#include <check.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "sys/addr.h"
#include "check_main.h"

static pm_addr parsed(const char *text)
{
    pm_addr a;

    ck_assert_msg(pm_addr_parse(text, &a) == 0, "%s", text);
    return a;
}

static void v6_bytes(const char *text, uint8_t out[16])
{
    ck_assert_int_eq(inet_pton(AF_INET6, text, out), 1);
}

START_TEST(parse_either_family)
{
    pm_addr a = parsed("10.77.0.1");
    struct in_addr v4;
    uint8_t v6[16];

    inet_pton(AF_INET, "10.77.0.1", &v4);
    ck_assert_int_eq(a.family, AF_INET);
    ck_assert_uint_eq(a.u.v4, v4.s_addr);
    ck_assert_uint_eq(a.scope, 0);

    a = parsed("2001:DB8:77:1::1");
    v6_bytes("2001:db8:77:1::1", v6);
    ck_assert_int_eq(a.family, AF_INET6);
    ck_assert_mem_eq(a.u.v6, v6, 16);
    ck_assert_uint_eq(a.scope, 0);

    static const char *const bad[] = { "", "10.77.0", "10.77.0.256", "router.lan", "::1::2",
                                       "[2001:db8::1]", "2001:db8::1 ", " 10.0.0.1",
                                       "1234:5678:9abc:def0:1234:5678:9abc:def0:1234:5678:9abc" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(pm_addr_parse(bad[i], &a) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(parse_zones)
{
    unsigned lo = if_nametoindex("lo");
    pm_addr a;

    a = parsed("fe80::1%1");
    ck_assert(pm_addr_is_link_local(&a));
    ck_assert_uint_eq(a.scope, 1);
    a = parsed("fe80::1%7");
    ck_assert_uint_eq(a.scope, 7);
    ck_assert_uint_ne(lo, 0);
    a = parsed("fe80::1%lo");
    ck_assert_uint_eq(a.scope, lo);
    a = parsed("febf::1%3"); /* the top of fe80::/10 */
    ck_assert_uint_eq(a.scope, 3);

    /* a zone means something only on a link-local address */
    static const char *const bad[] = { "fe80::1%", "fe80::1%0", "fe80::1%no-such-if9",
                                       "2001:db8::1%1", "fec0::1%1", "10.0.0.1%1", "%1",
                                       "fe80::1%4294967296" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(pm_addr_parse(bad[i], &a) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(text_forms)
{
    pm_addr a = parsed("2001:0db8:0000:0000:0000:0000:0000:000A"), none = { 0 };
    char buf[PM_ADDR_TEXT], tiny[8];

    pm_addr_fmt(&a, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2001:db8::a");
    pm_addr_url_host(&a, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[2001:db8::a]");
    a = parsed("10.77.0.1");
    pm_addr_fmt(&a, buf, sizeof(buf));
    ck_assert_str_eq(buf, "10.77.0.1");
    pm_addr_url_host(&a, buf, sizeof(buf));
    ck_assert_str_eq(buf, "10.77.0.1");
    /* the zone stays out of both: the socket carries it */
    a = parsed("fe80::1%1");
    pm_addr_fmt(&a, buf, sizeof(buf));
    ck_assert_str_eq(buf, "fe80::1");
    pm_addr_url_host(&a, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[fe80::1]");
    /* nothing, or nothing cut: an address that does not fit is "" */
    pm_addr_fmt(&none, buf, sizeof(buf));
    ck_assert_str_eq(buf, "");
    a = parsed("2001:db8:77:1::1");
    memset(tiny, 'x', sizeof(tiny));
    pm_addr_fmt(&a, tiny, sizeof(tiny));
    ck_assert_str_eq(tiny, "");
    /* the longest text there is fits PM_ADDR_TEXT */
    a = parsed("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
    pm_addr_url_host(&a, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]");
}
END_TEST

/* pm_addr_str formats by hand: every octet width, and inet_ntop's
 * answer for random addresses; a buffer too short gets "" */
START_TEST(ipv4_text_as_inet_ntop)
{
    static const char *const fixed[] = { "0.0.0.0", "255.255.255.255", "10.77.0.1",
                                         "1.22.103.9", "100.10.1.0" };
    char got[INET_ADDRSTRLEN], want[INET_ADDRSTRLEN];
    uint32_t x = 2463534242u;
    struct in_addr a;

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        ck_assert_int_eq(inet_pton(AF_INET, fixed[i], &a), 1);
        pm_addr_str(a.s_addr, got, sizeof(got));
        ck_assert_str_eq(got, fixed[i]);
    }
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        a.s_addr = x;
        pm_addr_str(x, got, sizeof(got));
        ck_assert_ptr_nonnull(inet_ntop(AF_INET, &a, want, sizeof(want)));
        ck_assert_str_eq(got, want);
    }
    a.s_addr = htonl(0x0a4d0001); /* 10.77.0.1: 10 bytes with its NUL */
    pm_addr_str(a.s_addr, got, 10);
    ck_assert_str_eq(got, "10.77.0.1");
    memset(got, 'x', sizeof(got));
    pm_addr_str(a.s_addr, got, 9);
    ck_assert_str_eq(got, "");
}
END_TEST

START_TEST(equality)
{
    pm_addr a = parsed("fe80::1%1"), b = parsed("fe80::1%2"), c = parsed("fe80::1%1");
    pm_addr v4 = parsed("10.0.0.1"), v4b = parsed("10.0.0.2"), none = { 0 }, none2 = { 0 };
    uint8_t mapped[16];

    ck_assert(pm_addr_eq(&a, &c));
    ck_assert(!pm_addr_eq(&a, &b)); /* the same fe80::1 on another link */
    ck_assert(!pm_addr_eq(&v4, &v4b));
    ck_assert(pm_addr_eq(&none, &none2));
    ck_assert(!pm_addr_eq(&none, &v4));
    /* ::ffff:10.0.0.1 is not the IPv4 address for equality */
    v6_bytes("::ffff:10.0.0.1", mapped);
    b = pm_addr_from_v6(mapped, 0);
    ck_assert(!pm_addr_eq(&b, &v4));
    ck_assert(pm_addr_is_set(&v4) && pm_addr_is_set(&b) && !pm_addr_is_set(&none));
    /* a zone is dropped where it means nothing */
    v6_bytes("2001:db8::1", mapped);
    b = pm_addr_from_v6(mapped, 5);
    ck_assert_uint_eq(b.scope, 0);
}
END_TEST

START_TEST(sockaddr_round_trip)
{
    static const char *const texts[] = { "10.77.0.1", "0.0.0.0", "2001:db8:77:1::1", "fe80::1%1",
                                         "fe80::1%lo", "::1" };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        pm_addr a = parsed(texts[i]), back;
        struct sockaddr_storage ss;
        socklen_t len = pm_addr_sockaddr(&a, 5351, &ss);
        uint16_t port = 0;

        ck_assert_int_eq(ss.ss_family, a.family);
        ck_assert_uint_eq(len, a.family == AF_INET ? sizeof(struct sockaddr_in)
                                                   : sizeof(struct sockaddr_in6));
        if (a.family == AF_INET6)
            ck_assert_uint_eq(((struct sockaddr_in6 *)&ss)->sin6_scope_id, a.scope);
        ck_assert_int_eq(pm_addr_from_sockaddr((struct sockaddr *)&ss, len, &back, &port), 0);
        ck_assert_msg(pm_addr_eq(&a, &back), "%s", texts[i]);
        ck_assert_uint_eq(port, 5351);
        /* a truncated socket address is refused, the port is optional */
        ck_assert_int_eq(pm_addr_from_sockaddr((struct sockaddr *)&ss, len - 1, &back, NULL), -1);
        ck_assert_int_eq(pm_addr_from_sockaddr((struct sockaddr *)&ss, len, &back, NULL), 0);
    }
    pm_addr none = { 0 }, out;
    struct sockaddr_storage ss;
    ck_assert_uint_eq(pm_addr_sockaddr(&none, 1, &ss), 0);
    ss.ss_family = AF_UNIX;
    ck_assert_int_eq(pm_addr_from_sockaddr((struct sockaddr *)&ss, sizeof(ss), &out, NULL), -1);
}
END_TEST

START_TEST(pcp_form_round_trip)
{
    uint8_t wire[16], want[16];
    pm_addr a = parsed("10.77.0.1"), none = { 0 }, back;

    /* IPv4 travels as ::ffff:a.b.c.d (RFC 6887 5) */
    pm_addr_to_pcp(&a, wire);
    v6_bytes("::ffff:10.77.0.1", want);
    ck_assert_mem_eq(wire, want, 16);
    back = pm_addr_from_pcp(wire, 3);
    ck_assert(pm_addr_eq(&back, &a));
    /* no address is ::ffff:0.0.0.0, "no IPv4 preference", read back as 0.0.0.0 */
    pm_addr_to_pcp(&none, wire);
    v6_bytes("::ffff:0.0.0.0", want);
    ck_assert_mem_eq(wire, want, 16);
    back = pm_addr_from_pcp(wire, 0);
    ck_assert_int_eq(back.family, AF_INET);
    ck_assert_uint_eq(back.u.v4, 0);
    /* IPv6 as is; the zone comes from the caller, kept for link-local only */
    a = parsed("2001:db8:77:1::2");
    pm_addr_to_pcp(&a, wire);
    ck_assert_mem_eq(wire, a.u.v6, 16);
    back = pm_addr_from_pcp(wire, 4);
    ck_assert(pm_addr_eq(&back, &a));
    a = parsed("fe80::2%4");
    pm_addr_to_pcp(&a, wire);
    back = pm_addr_from_pcp(wire, 4);
    ck_assert(pm_addr_eq(&back, &a));
    back = pm_addr_from_pcp(wire, 5);
    ck_assert(!pm_addr_eq(&back, &a));
    /* the all-zero address is IPv6 ::, not IPv4 */
    memset(wire, 0, sizeof(wire));
    back = pm_addr_from_pcp(wire, 0);
    ck_assert_int_eq(back.family, AF_INET6);
}
END_TEST

START_TEST(v6_fitness)
{
    static const struct {
        const char *addr;
        uint32_t flags;
        pm_v6_kind kind;
    } cases[] = {
        { "2001:db8:77:1::2", 0, PM_V6_STABLE },
        { "2001:db8:77:1::2", IFA_F_PERMANENT, PM_V6_STABLE },
        { "2001:db8:77:1::2", IFA_F_MANAGETEMPADDR, PM_V6_STABLE },
        { "2a01:e0a::1", IFA_F_NOPREFIXROUTE, PM_V6_STABLE },
        { "2001:db8:77:1:1d3f:22:a1b:c3", IFA_F_TEMPORARY, PM_V6_TEMPORARY },
        { "fd00:77::2", 0, PM_V6_STABLE_ULA },
        { "fc00::2", 0, PM_V6_STABLE_ULA },
        { "fdff:ffff::2", IFA_F_TEMPORARY, PM_V6_TEMPORARY_ULA },
        { "2001:db8:77:1::2", IFA_F_DEPRECATED, PM_V6_UNFIT },
        { "2001:db8:77:1::2", IFA_F_TENTATIVE, PM_V6_UNFIT },
        { "2001:db8:77:1::2", IFA_F_DADFAILED | IFA_F_TENTATIVE, PM_V6_UNFIT },
        { "2001:db8:77:1::2", IFA_F_TEMPORARY | IFA_F_DEPRECATED, PM_V6_UNFIT },
        { "fd00::2", IFA_F_DEPRECATED, PM_V6_UNFIT },
        { "fe80::2", 0, PM_V6_UNFIT },
        { "fe80::2", IFA_F_PERMANENT, PM_V6_UNFIT },
        { "::1", IFA_F_PERMANENT, PM_V6_UNFIT },
        { "::", 0, PM_V6_UNFIT },
        { "ff02::1", 0, PM_V6_UNFIT },
        { "::ffff:10.0.0.1", 0, PM_V6_UNFIT },
        { "fec0::1", 0, PM_V6_UNFIT }, /* site-local, long deprecated */
    };
    uint8_t a[16];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v6_bytes(cases[i].addr, a);
        ck_assert_msg(pm_v6_kind_of(a, cases[i].flags) == cases[i].kind, "%s flags %#x",
                      cases[i].addr, cases[i].flags);
    }
    /* best first: the order is the preference */
    ck_assert_int_lt(PM_V6_STABLE, PM_V6_STABLE_ULA);
    ck_assert_int_lt(PM_V6_STABLE_ULA, PM_V6_TEMPORARY);
    ck_assert_int_lt(PM_V6_TEMPORARY_ULA, PM_V6_UNFIT);
    ck_assert_str_eq(pm_v6_kind_name(PM_V6_TEMPORARY), "temporary");
    ck_assert_str_eq(pm_v6_kind_name(PM_V6_UNFIT), "unfit");
    ck_assert_str_eq(pm_v6_kind_name((pm_v6_kind)42), "unfit");
}
END_TEST

/* What a router may give as its external address although no Internet
 * host can have it: named; public, private and CGN addresses are not. */
START_TEST(not_external_addresses)
{
    static const char *const junk[] = { "0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.0.9",
                                        "169.254.0.1", "224.0.0.1", "239.255.255.250",
                                        "240.0.0.1", "255.255.255.255" };
    static const char *const fine[] = { "198.51.100.7", "10.0.0.1", "192.168.1.1",
                                        "100.64.1.1", "172.16.0.1", "1.1.1.1", "223.255.255.255" };
    pm_addr a;

    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        ck_assert_int_eq(pm_addr_parse(junk[i], &a), 0);
        ck_assert_msg(pm_addr_not_external(a.u.v4) != NULL, "%s", junk[i]);
    }
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        ck_assert_int_eq(pm_addr_parse(fine[i], &a), 0);
        ck_assert_msg(pm_addr_not_external(a.u.v4) == NULL, "%s", fine[i]);
    }
    ck_assert_str_eq(pm_addr_not_external(0), "none: the router is not connected");
}
END_TEST

/* The subnet test behind portmap_request.internal_address */
START_TEST(in_prefix)
{
    pm_addr lan = parsed("10.77.0.2"), v6 = parsed("2001:db8:77::2");
    pm_addr x;

    x = parsed("10.77.0.9");
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 24), 1);
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 32), 0);
    x = parsed("10.77.1.9");
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 24), 0);
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 23), 1);  /* 10.77.0.0/23 */
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 0), 1);
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 33), 0);  /* no such prefix */
    x = parsed("10.77.0.130");
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 25), 0);  /* the 25th bit differs */
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 24), 1);
    x = parsed("2001:db8:77::abcd");
    ck_assert_int_eq(pm_addr_in_prefix(&x, &v6, 64), 1);
    ck_assert_int_eq(pm_addr_in_prefix(&x, &v6, 120), 0);
    ck_assert_int_eq(pm_addr_in_prefix(&x, &lan, 0), 0);   /* the other family */
    x = parsed("2001:db8:78::2");
    ck_assert_int_eq(pm_addr_in_prefix(&x, &v6, 47), 0);   /* 0x77 and 0x78 part at bit 45 */
    ck_assert_int_eq(pm_addr_in_prefix(&x, &v6, 44), 1);
    x = (pm_addr){ 0 };
    ck_assert_int_eq(pm_addr_in_prefix(&x, &x, 0), 0);     /* none is in nothing */
}
END_TEST

static Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("forms");
    tcase_add_test(tc, parse_either_family);
    tcase_add_test(tc, parse_zones);
    tcase_add_test(tc, text_forms);
    tcase_add_test(tc, ipv4_text_as_inet_ntop);
    tcase_add_test(tc, equality);
    tcase_add_test(tc, sockaddr_round_trip);
    tcase_add_test(tc, pcp_form_round_trip);
    tcase_add_test(tc, v6_fitness);
    tcase_add_test(tc, not_external_addresses);
    tcase_add_test(tc, in_prefix);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(addr_suite)
