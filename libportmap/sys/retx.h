/*
 * Retransmission schedule (RFC 6887 8.1.1): IRT, then doubling with
 * +-10 % jitter, capped at MRT, bounded by MRC sends and MRD duration.
 */
#ifndef PM_RETX_H
#define PM_RETX_H

#include <stdint.h>

typedef struct pm_retx_params {
    int64_t irt_ms;   /* initial retransmission time */
    int64_t mrt_ms;   /* maximum retransmission time; 0 = no cap */
    unsigned mrc;     /* maximum sends; 0 = unlimited */
    int64_t mrd_ms;   /* maximum duration; 0 = unlimited */
} pm_retx_params;

/* RFC 6887 8.1.1: IRT 3 s, MRT 1024 s, no MRC/MRD (renewals). */
extern const pm_retx_params pm_retx_rfc6887;
/* First contact: 250 ms doubling up to 2 s, so a lost datagram costs a
 * quarter second; the caller's timeout bounds it (via mrd). */
extern const pm_retx_params pm_retx_fast;

typedef struct pm_retx {
    pm_retx_params p;
    int64_t start_ms;
    int64_t rt_ms;    /* current interval */
    int64_t next_ms;  /* when to send again */
    unsigned sent;
} pm_retx;

/* Random factor source: returns a value uniformly in [0, 1). */
typedef double (*pm_rand_fn)(void *ctx);

/* Record the first send at now_ms and compute the next time. */
void pm_retx_start(pm_retx *r, const pm_retx_params *p, int64_t now_ms, pm_rand_fn rnd, void *ctx);

/* Called when next_ms has passed and a retransmission was sent. Returns 1
 * and advances next_ms, or 0 when the schedule is exhausted (MRC or MRD):
 * then next_ms is the time to give up (start + MRD, or now). */
int pm_retx_advance(pm_retx *r, int64_t now_ms, pm_rand_fn rnd, void *ctx);

/* 1 when the schedule allows no more sends at now_ms. */
int pm_retx_expired(const pm_retx *r, int64_t now_ms);

#endif
