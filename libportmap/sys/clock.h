/*
 * Time and randomness: the monotonic clock every deadline is taken on,
 * nonces from the kernel, and a cheap generator for jitter.
 */
#ifndef PM_SYS_CLOCK_H
#define PM_SYS_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in ms. */
int64_t pm_now_ms(void);
/* The time left until deadline (pm_now_ms() scale) for ppoll(), at
 * least 0 and at most 10 minutes. */
struct timespec pm_timespec_until(int64_t deadline);
/* getrandom(): nonces. 0, or -1 when the kernel gives none. */
int pm_random_bytes(void *buf, size_t len);

/* xorshift128+ state: only for retransmission jitter and refresh
 * spreading, where predictability does no harm. */
typedef struct pm_rng {
    uint64_t s[2];
} pm_rng;

/* Seed from getrandom (from the clock if that fails). */
void pm_rng_seed(pm_rng *r);
/* Uniform in [0, 1); rng is a pm_rng * (a pm_rand_fn, see retx.h). */
double pm_rand_unit(void *rng);

#endif
