/*
 * Time and randomness.
 */
#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "sys/clock.h"
#include "sys/util.h"

int64_t pm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* To the deadline itself: a timeout in whole ms from now would wake up to
 * a millisecond after it, since now is already past pm_now_ms(). */
struct timespec pm_timespec_until(int64_t deadline)
{
    struct timespec now;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = deadline * 1000000 - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    ns = PM_MIN(PM_MAX(ns, 0), (int64_t)600 * 1000000000);
    return (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
}

int pm_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void pm_rng_seed(pm_rng *r)
{
    if (pm_random_bytes(r->s, sizeof(r->s)) != 0)
        r->s[0] = (uint64_t)pm_now_ms() | 1;
    r->s[1] |= 1; /* never all zero: xorshift would stay at zero */
}

double pm_rand_unit(void *rng)
{
    pm_rng *r = rng;
    uint64_t s1 = r->s[0];
    const uint64_t s0 = r->s[1];
    r->s[0] = s0;
    s1 ^= s1 << 23;
    r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return (double)((r->s[1] + s0) >> 11) / 9007199254740992.0;
}
