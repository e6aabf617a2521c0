/* Shared main() for the Check suites: one suite per test program. */
#ifndef PM_CHECK_MAIN_H
#define PM_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define PM_CHECK_MAIN(suite_fn)                                   \
    int main(void)                                                \
    {                                                             \
        SRunner *sr = srunner_create(suite_fn());                 \
        int failed;                                               \
        srunner_run_all(sr, CK_NORMAL);                           \
        failed = srunner_ntests_failed(sr);                       \
        srunner_free(sr);                                         \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;              \
    }

#endif
