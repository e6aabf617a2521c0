/*
 * Small macros every layer uses.
 */
#ifndef PM_SYS_UTIL_H
#define PM_SYS_UTIL_H

#include <stdint.h>

#define PM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PM_MAX(a, b) ((a) > (b) ? (a) : (b))
/* A time (monotonic ms) that never comes: no deadline, no timer. */
#define PM_NEVER INT64_MAX

#endif
