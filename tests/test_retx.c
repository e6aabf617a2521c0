/* Suite: retransmission schedule, RFC 6887 8.1.1 (libportmap/sys/retx.c). */
#include <check.h>

#include "check_main.h"
#include "sys/retx.h"

static double fixed;
static double rnd(void *ctx)
{
    (void)ctx;
    return fixed;
}

START_TEST(doubling_without_jitter)
{
    pm_retx r;
    int64_t t = 0;
    int64_t expect = 3000;

    fixed = 0.5; /* factor exactly 1.0 */
    pm_retx_start(&r, &pm_retx_rfc6887, t, rnd, NULL);
    ck_assert_int_eq(r.next_ms, 3000);
    for (int i = 0; i < 8; i++) {
        t = r.next_ms;
        ck_assert_int_eq(pm_retx_advance(&r, t, rnd, NULL), 1);
        expect *= 2;
        ck_assert_int_eq(r.rt_ms, expect);
    }
    /* one more doubling passes MRT: capped at MRT (1024 s) */
    t = r.next_ms;
    pm_retx_advance(&r, t, rnd, NULL);
    ck_assert_int_eq(r.rt_ms, 1024000);
    ck_assert_uint_eq(r.sent, 10);
}
END_TEST

START_TEST(jitter_is_within_ten_percent)
{
    pm_retx r;
    fixed = 0.0; /* RAND = -0.1 */
    pm_retx_start(&r, &pm_retx_rfc6887, 0, rnd, NULL);
    ck_assert_int_eq(r.rt_ms, 2700);
    fixed = 0.99999; /* RAND ~ +0.1 */
    pm_retx_start(&r, &pm_retx_rfc6887, 0, rnd, NULL);
    ck_assert_int_ge(r.rt_ms, 3299);
    ck_assert_int_le(r.rt_ms, 3300);
    /* after the cap, jitter applies to MRT itself */
    fixed = 0.0;
    r.rt_ms = 1024000;
    pm_retx_advance(&r, 0, rnd, NULL);
    ck_assert_int_eq(r.rt_ms, 921600);
}
END_TEST

START_TEST(mrc_and_mrd_bound_it)
{
    pm_retx_params p = { 250, 2000, 3, 0 };
    pm_retx r;
    fixed = 0.5;
    pm_retx_start(&r, &p, 0, rnd, NULL);
    ck_assert_int_eq(pm_retx_advance(&r, 250, rnd, NULL), 1);
    ck_assert_int_eq(pm_retx_advance(&r, 750, rnd, NULL), 1);
    ck_assert_int_eq(pm_retx_advance(&r, 1750, rnd, NULL), 0); /* 3 sends done */

    p = (pm_retx_params){ 250, 2000, 0, 1000 };
    pm_retx_start(&r, &p, 0, rnd, NULL);
    ck_assert_int_eq(pm_retx_advance(&r, 250, rnd, NULL), 1);
    ck_assert_int_eq(r.next_ms, 750);
    ck_assert_int_eq(pm_retx_advance(&r, 750, rnd, NULL), 1);
    ck_assert_int_eq(r.next_ms, 1000); /* clamped to start + MRD */
    ck_assert_int_eq(pm_retx_advance(&r, 1000, rnd, NULL), 0);
    ck_assert_int_eq(pm_retx_expired(&r, 1000), 1);
}
END_TEST

START_TEST(fast_schedule_for_first_contact)
{
    pm_retx r;
    fixed = 0.5;
    pm_retx_start(&r, &pm_retx_fast, 0, rnd, NULL);
    ck_assert_int_eq(r.next_ms, 250);
    pm_retx_advance(&r, 250, rnd, NULL);
    pm_retx_advance(&r, 750, rnd, NULL);
    pm_retx_advance(&r, 1750, rnd, NULL);
    ck_assert_int_eq(r.rt_ms, 2000);
    pm_retx_advance(&r, 3750, rnd, NULL);
    ck_assert_int_eq(r.rt_ms, 2000);
}
END_TEST

static Suite *retx_suite(void)
{
    Suite *s = suite_create("retx");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, doubling_without_jitter);
    tcase_add_test(tc, jitter_is_within_ten_percent);
    tcase_add_test(tc, mrc_and_mrd_bound_it);
    tcase_add_test(tc, fast_schedule_for_first_contact);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(retx_suite)
