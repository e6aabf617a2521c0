/* Shared runner for the Check suites: one suite per test program. */
#ifndef PM_CHECK_MAIN_H
#define PM_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int pm_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define PM_CHECK_MAIN(suite_fn)            \
    int main(void)                         \
    {                                      \
        return pm_check_run(suite_fn());   \
    }

#endif
