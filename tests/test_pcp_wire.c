/* Suite: PCP wire format (libportmap/proto/pcp/pcp_wire.c). */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto/pcp/pcp_wire.h"

static const uint8_t nonce[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static size_t make_map_reply(uint8_t *b, uint8_t result, uint32_t lifetime, uint32_t epoch,
                             uint16_t iport, uint16_t eport, const char *ext)
{
    memset(b, 0, 60);
    b[0] = 2;
    b[1] = 0x80 | 1;
    b[3] = result;
    b[4] = (uint8_t)(lifetime >> 24); b[5] = (uint8_t)(lifetime >> 16);
    b[6] = (uint8_t)(lifetime >> 8); b[7] = (uint8_t)lifetime;
    b[8] = (uint8_t)(epoch >> 24); b[9] = (uint8_t)(epoch >> 16);
    b[10] = (uint8_t)(epoch >> 8); b[11] = (uint8_t)epoch;
    memcpy(b + 24, nonce, 12);
    b[36] = 17;
    b[40] = (uint8_t)(iport >> 8); b[41] = (uint8_t)iport;
    b[42] = (uint8_t)(eport >> 8); b[43] = (uint8_t)eport;
    struct in_addr a;
    inet_pton(AF_INET, ext, &a);
    pm_pcp_addr_from_ipv4(b + 44, a.s_addr);
    return 60;
}

START_TEST(encode_map_layout)
{
    pm_pcp_request r = { .opcode = PM_PCP_OP_MAP, .lifetime = 7200, .protocol = 17,
                         .internal_port = 27015, .external_port = 27016 };
    uint8_t buf[PM_PCP_MAX_MSG];
    struct in_addr a;

    inet_pton(AF_INET, "10.77.0.2", &a);
    pm_pcp_addr_from_ipv4(r.client_addr, a.s_addr);
    memcpy(r.nonce, nonce, 12);
    pm_pcp_addr_from_ipv4(r.external_addr, 0);
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, sizeof(buf)), 60);
    ck_assert_uint_eq(buf[0], 2);
    ck_assert_uint_eq(buf[1], 1); /* request: R bit clear */
    ck_assert_uint_eq((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7], 7200);
    ck_assert_uint_eq(buf[18], 0xff);
    ck_assert_uint_eq(buf[19], 0xff);
    ck_assert_mem_eq(buf + 20, &a.s_addr, 4);
    ck_assert_mem_eq(buf + 24, nonce, 12);
    ck_assert_uint_eq(buf[36], 17);
    ck_assert_uint_eq((buf[40] << 8) | buf[41], 27015);
    ck_assert_uint_eq((buf[42] << 8) | buf[43], 27016);
    ck_assert_uint_eq(buf[54], 0xff); /* ::ffff:0.0.0.0 = no preference */
    ck_assert_uint_eq(buf[56], 0);
}
END_TEST

START_TEST(encode_filter_and_limits)
{
    pm_pcp_request r = { .opcode = PM_PCP_OP_MAP, .n_filters = 1, .prefer_failure = 1 };
    uint8_t buf[PM_PCP_MAX_MSG];

    r.filters[0].prefix_len = 128;
    r.filters[0].remote_port = 80;
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, sizeof(buf)), 60 + 4 + 24);
    ck_assert_uint_eq(buf[60], PM_PCP_OPT_PREFER_FAILURE);
    ck_assert_uint_eq(buf[64], PM_PCP_OPT_FILTER);
    ck_assert_uint_eq((buf[66] << 8) | buf[67], 20);
    ck_assert_uint_eq(buf[69], 128);
    r.n_filters = PM_PCP_MAX_FILTERS + 1;
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, sizeof(buf)), 0);
    r.n_filters = 0;
    r.opcode = PM_PCP_OP_PEER; /* not supported by this encoder */
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, sizeof(buf)), 0);
    r.opcode = PM_PCP_OP_MAP;
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, 30), 0); /* too small a buffer */
    r.opcode = PM_PCP_OP_ANNOUNCE;
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, sizeof(buf)), 24);
}
END_TEST

/* RFC 6887 13.1: THIRD_PARTY carries the host mapped for, first of the
 * options (a server that does not know it stops there, 7.3) */
START_TEST(encode_third_party)
{
    pm_pcp_request r = { .opcode = PM_PCP_OP_MAP, .n_filters = 1, .third_party = 1 };
    uint8_t buf[PM_PCP_MAX_MSG];
    struct in_addr a;

    inet_pton(AF_INET, "10.77.0.7", &a);
    pm_pcp_addr_from_ipv4(r.third_party_addr, a.s_addr);
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, sizeof(buf)), 60 + 20 + 24);
    ck_assert_uint_eq(buf[60], PM_PCP_OPT_THIRD_PARTY);
    ck_assert_uint_eq(buf[61], 0);
    ck_assert_uint_eq((buf[62] << 8) | buf[63], 16);
    ck_assert_mem_eq(buf + 64, r.third_party_addr, 16);
    ck_assert_uint_eq(buf[80], PM_PCP_OPT_FILTER);
    /* a buffer with room for all but the option */
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, 60 + 24 + 19), 0);
    /* without it, nothing is added */
    r.third_party = 0;
    ck_assert_uint_eq(pm_pcp_encode_request(&r, buf, sizeof(buf)), 60 + 24);
    ck_assert_uint_eq(buf[60], PM_PCP_OPT_FILTER);
}
END_TEST

/* The reply's THIRD_PARTY: its address, which must be the one asked for */
START_TEST(decode_third_party)
{
    uint8_t b[128];
    pm_pcp_response r;
    size_t len = make_map_reply(b, 0, 60, 1, 1, 1, "11.77.0.1");
    uint8_t host[16];
    struct in_addr a;

    inet_pton(AF_INET, "10.77.0.7", &a);
    pm_pcp_addr_from_ipv4(host, a.s_addr);
    memset(b + len, 0, 20);
    b[len] = PM_PCP_OPT_THIRD_PARTY;
    b[len + 3] = 16;
    memcpy(b + len + 4, host, 16);
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 20, &r), PM_PCP_DECODE_OK);
    ck_assert_int_eq(r.third_party, 1);
    ck_assert_mem_eq(r.third_party_addr, host, 16);
    /* without the option: none */
    ck_assert_int_eq(pm_pcp_decode_response(b, len, &r), PM_PCP_DECODE_OK);
    ck_assert_int_eq(r.third_party, 0);
    /* a length other than 16 is malformed, cut short too */
    b[len + 3] = 12;
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 16, &r), PM_PCP_DECODE_BAD_OPTION);
    b[len + 3] = 16;
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 16, &r), PM_PCP_DECODE_BAD_OPTION);
}
END_TEST

START_TEST(decode_success)
{
    uint8_t b[64];
    pm_pcp_response r;
    size_t len = make_map_reply(b, 0, 3600, 1234, 27015, 40000, "11.77.0.1");

    ck_assert_int_eq(pm_pcp_decode_response(b, len, &r), PM_PCP_DECODE_OK);
    ck_assert_uint_eq(r.opcode, PM_PCP_OP_MAP);
    ck_assert_uint_eq(r.result, 0);
    ck_assert_uint_eq(r.lifetime, 3600);
    ck_assert_uint_eq(r.epoch, 1234);
    ck_assert_int_eq(r.has_map, 1);
    ck_assert_mem_eq(r.nonce, nonce, 12);
    ck_assert_uint_eq(r.internal_port, 27015);
    ck_assert_uint_eq(r.external_port, 40000);
    ck_assert_int_eq(pm_pcp_addr_is_ipv4(r.external_addr), 1);
    ck_assert_uint_eq(ntohl(pm_pcp_addr_to_ipv4(r.external_addr)), (11u << 24) | (77u << 16) | 1);
}
END_TEST

/* Every truncation of a success reply is rejected, none crashes. */
START_TEST(decode_truncated)
{
    uint8_t full[64];
    size_t len = make_map_reply(full, 0, 60, 1, 1, 1, "11.77.0.1");

    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan/valgrind catch overreads */
        pm_pcp_response r;
        memcpy(copy, full, n);
        ck_assert_int_ne(pm_pcp_decode_response(copy, n, &r), PM_PCP_DECODE_OK);
        free(copy);
    }
}
END_TEST

START_TEST(decode_error_without_payload)
{
    uint8_t b[24] = { 2, 0x81, 0, PM_PCP_NOT_AUTHORIZED };
    pm_pcp_response r;

    ck_assert_int_eq(pm_pcp_decode_response(b, sizeof(b), &r), PM_PCP_DECODE_OK);
    ck_assert_int_eq(r.has_map, 0);
    ck_assert_uint_eq(r.result, PM_PCP_NOT_AUTHORIZED);
}
END_TEST

START_TEST(decode_rejects)
{
    uint8_t b[1200];
    pm_pcp_response r;

    make_map_reply(b, 0, 60, 1, 1, 1, "11.77.0.1");
    ck_assert_int_eq(pm_pcp_decode_response(b, 62, &r), PM_PCP_DECODE_UNALIGNED);
    memset(b + 60, 0, sizeof(b) - 60);
    ck_assert_int_eq(pm_pcp_decode_response(b, 1104, &r), PM_PCP_DECODE_LONG);
    b[1] = 1; /* our own request echoed back */
    ck_assert_int_eq(pm_pcp_decode_response(b, 60, &r), PM_PCP_DECODE_NOT_RESPONSE);
    /* A NAT-PMP server's answer to version 2: version 0, result 1. */
    uint8_t pmp[8] = { 0, 0x81, 0, 1, 0, 0, 0, 5 };
    ck_assert_int_eq(pm_pcp_decode_response(pmp, sizeof(pmp), &r), PM_PCP_DECODE_VERSION);
    ck_assert_uint_eq(r.version, 0);
    ck_assert_uint_eq(r.result, PM_PCP_UNSUPP_VERSION);
    ck_assert_int_eq(pm_pcp_decode_response(pmp, 3, &r), PM_PCP_DECODE_SHORT);
}
END_TEST

START_TEST(decode_options)
{
    uint8_t b[128];
    pm_pcp_response r;
    size_t len = make_map_reply(b, 0, 60, 1, 1, 1, "11.77.0.1");

    /* FILTER option, length 20 */
    memset(b + len, 0, 24);
    b[len] = PM_PCP_OPT_FILTER;
    b[len + 3] = 20;
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 24, &r), PM_PCP_DECODE_OK);
    ck_assert_uint_eq(r.n_filters, 1);
    /* option length running past the datagram */
    b[len + 2] = 0x10;
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 24, &r), PM_PCP_DECODE_BAD_OPTION);
    /* wrong length for FILTER */
    b[len + 2] = 0;
    b[len + 3] = 16;
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 20, &r), PM_PCP_DECODE_BAD_OPTION);
    /* unknown option is skipped */
    b[len] = 200;
    b[len + 3] = 4;
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 8, &r), PM_PCP_DECODE_OK);
    /* a header that is cut */
    ck_assert_int_eq(pm_pcp_decode_response(b, len + 4 - 0, &r), PM_PCP_DECODE_BAD_OPTION);
}
END_TEST

START_TEST(result_names)
{
    ck_assert_str_eq(pm_pcp_result_name(2), "NOT_AUTHORIZED");
    ck_assert_str_eq(pm_pcp_result_name(13), "EXCESSIVE_REMOTE_PEERS");
    ck_assert_str_eq(pm_pcp_result_name(99), "UNKNOWN");
}
END_TEST

static Suite *pcp_wire_suite(void)
{
    Suite *s = suite_create("pcp_wire");
    TCase *tc = tcase_create("codec");

    tcase_add_test(tc, encode_map_layout);
    tcase_add_test(tc, encode_filter_and_limits);
    tcase_add_test(tc, encode_third_party);
    tcase_add_test(tc, decode_third_party);
    tcase_add_test(tc, decode_success);
    tcase_add_test(tc, decode_truncated);
    tcase_add_test(tc, decode_error_without_payload);
    tcase_add_test(tc, decode_rejects);
    tcase_add_test(tc, decode_options);
    tcase_add_test(tc, result_names);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(pcp_wire_suite)
