/*
 * Run a shell command line and keep what it printed: the tests that drive
 * the real portmap-cli (its usage errors, the lab's outside check).
 */
#ifndef PM_TEST_CAPTURE_H
#define PM_TEST_CAPTURE_H

#include <stddef.h>

/* sh -c "fmt... 2>&1": the first len - 1 bytes of both streams in out
 * (the rest read and dropped, so the command never dies of a full pipe),
 * and its exit code; -1 when it could not run or was killed. */
int capture_run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
