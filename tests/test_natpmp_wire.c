/* Suite: NAT-PMP reply validation (libportmap/proto/natpmp/natpmp_wire.c). */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "proto/natpmp/natpmp_wire.h"

START_TEST(public_address_reply)
{
    uint8_t b[12] = { 0, 128, 0, 0, 0, 0, 0x01, 0x00, 11, 77, 0, 1 };
    pm_natpmp_reply r;

    ck_assert_int_eq(pm_natpmp_decode(b, sizeof(b), &r), PM_NATPMP_OK);
    ck_assert_uint_eq(r.opcode, 0);
    ck_assert_uint_eq(r.epoch, 256);
    ck_assert_uint_eq(ntohl(r.public_addr), (11u << 24) | (77u << 16) | 1);
    ck_assert_int_eq(pm_natpmp_decode(b, 11, &r), PM_NATPMP_SHORT);
}
END_TEST

START_TEST(mapping_reply)
{
    uint8_t b[16] = { 0, 129, 0, 0, 0, 0, 0, 9, 0x69, 0x87, 0x69, 0x88, 0, 0, 0x1c, 0x20 };
    pm_natpmp_reply r;

    ck_assert_int_eq(pm_natpmp_decode(b, sizeof(b), &r), PM_NATPMP_OK);
    ck_assert_uint_eq(r.opcode, 1);
    ck_assert_uint_eq(r.internal_port, 27015);
    ck_assert_uint_eq(r.external_port, 27016);
    ck_assert_uint_eq(r.lifetime, 7200);
    for (size_t n = 0; n < sizeof(b); n++)
        ck_assert_int_ne(pm_natpmp_decode(b, n, &r), PM_NATPMP_OK);
}
END_TEST

START_TEST(error_reply_is_header_only)
{
    uint8_t b[8] = { 0, 130, 0, 2, 0, 0, 0, 1 };
    pm_natpmp_reply r;

    ck_assert_int_eq(pm_natpmp_decode(b, sizeof(b), &r), PM_NATPMP_OK);
    ck_assert_uint_eq(r.opcode, 2);
    ck_assert_uint_eq(r.result, 2);
}
END_TEST

START_TEST(rejects)
{
    uint8_t b[1200] = { 1, 128 };
    pm_natpmp_reply r;

    ck_assert_int_eq(pm_natpmp_decode(b, 12, &r), PM_NATPMP_VERSION);
    b[0] = 0;
    b[1] = 1; /* a request, not a reply */
    ck_assert_int_eq(pm_natpmp_decode(b, 12, &r), PM_NATPMP_NOT_REPLY);
    b[1] = 128 + 3; /* unknown opcode */
    ck_assert_int_eq(pm_natpmp_decode(b, 16, &r), PM_NATPMP_NOT_REPLY);
    b[1] = 128;
    ck_assert_int_eq(pm_natpmp_decode(b, 1101, &r), PM_NATPMP_LONG);
}
END_TEST

START_TEST(encode_request)
{
    uint8_t b[12];

    ck_assert_uint_eq(pm_natpmp_encode_map(b, 2, 22, 2222, 60), 12);
    ck_assert_uint_eq(b[1], 2);
    ck_assert_uint_eq((b[4] << 8) | b[5], 22);
    ck_assert_uint_eq((b[6] << 8) | b[7], 2222);
    ck_assert_uint_eq(b[11], 60);
    ck_assert_uint_eq(pm_natpmp_encode_map(b, 0, 0, 0, 0), 2);
}
END_TEST

static Suite *natpmp_wire_suite(void)
{
    Suite *s = suite_create("natpmp_wire");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, public_address_reply);
    tcase_add_test(tc, mapping_reply);
    tcase_add_test(tc, error_reply_is_header_only);
    tcase_add_test(tc, rejects);
    tcase_add_test(tc, encode_request);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(natpmp_wire_suite)
