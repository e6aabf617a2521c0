/* Suite: epoch validation, RFC 6887 8.5 and RFC 6886 3.6 (libportmap/sys/epoch.c). */
#include <check.h>

#include "check_main.h"
#include "sys/epoch.h"

START_TEST(pcp_first_is_valid_and_steady_time_is_valid)
{
    pm_epoch e = { 0 };
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 5000, 1000), 1);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 5100, 101000), 1);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 5100, 101500), 1);
}
END_TEST

START_TEST(pcp_backwards)
{
    pm_epoch e = { 0 };
    pm_epoch_check_pcp(&e, 5000, 0);
    /* one second back is reordering, tolerated */
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 4999, 0), 1);
    pm_epoch_check_pcp(&e, 5000, 0);
    /* more than a second back: the server restarted */
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 4998, 0), 0);
    /* a reboot: epoch starts again from a few seconds */
    pm_epoch_check_pcp(&e, 100000, 0);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 3, 60000), 0);
}
END_TEST

START_TEST(pcp_clock_rates)
{
    pm_epoch e = { 0 };
    /* client_delta 100 s. server_delta 100 - 100/16 - 2 = 91.75 is the edge */
    pm_epoch_check_pcp(&e, 1000, 0);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 1092, 100000), 1);
    pm_epoch_check_pcp(&e, 1000, 0);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 1091, 100000), 0);
    /* server running fast: client_delta + 2 < server_delta - server_delta/16 */
    pm_epoch_check_pcp(&e, 1000, 0);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 1108, 100000), 1);
    pm_epoch_check_pcp(&e, 1000, 0);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 1200, 100000), 0);
}
END_TEST

START_TEST(natpmp_seven_eighths)
{
    pm_epoch e = { 0 };
    ck_assert_int_eq(pm_epoch_check_natpmp(&e, 1000, 0), 1);
    /* 100 s elapsed: expect >= 1000 + 87.5 - 2 = 1085.5 */
    ck_assert_int_eq(pm_epoch_check_natpmp(&e, 1086, 100000), 1);
    pm_epoch_check_natpmp(&e, 1000, 0);
    ck_assert_int_eq(pm_epoch_check_natpmp(&e, 1085, 100000), 0);
    /* epoch going backwards by more than the slack */
    pm_epoch_check_natpmp(&e, 1000, 0);
    ck_assert_int_eq(pm_epoch_check_natpmp(&e, 997, 0), 0);
    pm_epoch_check_natpmp(&e, 1000, 0);
    ck_assert_int_eq(pm_epoch_check_natpmp(&e, 998, 0), 1);
}
END_TEST

START_TEST(extreme_values_do_not_overflow)
{
    pm_epoch e = { 0 };
    pm_epoch_check_pcp(&e, 0xffffffffu, 0);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 0, 1000), 0);
    /* 136 years of server time against 146 million years of client time:
     * the server is far behind, so a reset (and no overflow: UBSan runs
     * this suite in CI) */
    pm_epoch_check_natpmp(&e, 0, 0);
    ck_assert_int_eq(pm_epoch_check_natpmp(&e, 0xffffffffu, INT64_MAX / 2), 0);
    pm_epoch_check_natpmp(&e, 0, INT64_MIN / 2);
    ck_assert_int_eq(pm_epoch_check_natpmp(&e, 0, INT64_MAX), 0);
    pm_epoch_check_pcp(&e, 0, INT64_MIN);
    ck_assert_int_eq(pm_epoch_check_pcp(&e, 0xffffffffu, INT64_MAX), 0);
}
END_TEST

/* A router a second old restarts: 1 s, then 0 s after 1.6 s passes both
 * checks (within their slack) but is a clock that stood still. */
START_TEST(young_router_restart_is_stalled)
{
    pm_epoch e = { 0 };

    ck_assert(!pm_epoch_stalled(&e, 0, 0)); /* nothing recorded yet */
    ck_assert(pm_epoch_check_natpmp(&e, 1, 10000));
    ck_assert(pm_epoch_stalled(&e, 0, 11600));
    ck_assert(pm_epoch_stalled(&e, 1, 11600));   /* stood still */
    ck_assert(!pm_epoch_stalled(&e, 2, 11600));  /* went on */
    ck_assert(!pm_epoch_stalled(&e, 1, 11000));  /* too soon to tell: the same second */
    ck_assert(pm_epoch_check_natpmp(&e, 1, 11600)); /* the check's slack lets it through */
    ck_assert(!pm_epoch_stalled(&e, 3, 14000));
}
END_TEST

static Suite *epoch_suite(void)
{
    Suite *s = suite_create("epoch");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, pcp_first_is_valid_and_steady_time_is_valid);
    tcase_add_test(tc, pcp_backwards);
    tcase_add_test(tc, pcp_clock_rates);
    tcase_add_test(tc, natpmp_seven_eighths);
    tcase_add_test(tc, extreme_values_do_not_overflow);
    tcase_add_test(tc, young_router_restart_is_stalled);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(epoch_suite)
