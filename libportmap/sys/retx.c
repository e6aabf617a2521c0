#include "sys/retx.h"

const pm_retx_params pm_retx_rfc6887 = { 3000, 1024000, 0, 0 };
const pm_retx_params pm_retx_fast = { 250, 2000, 0, 0 };

/* RAND in [-0.1, +0.1) as the RFC asks. */
static int64_t jitter(int64_t base, pm_rand_fn rnd, void *ctx)
{
    double f = 1.0 + (rnd(ctx) * 0.2 - 0.1);
    int64_t v = (int64_t)((double)base * f);
    return v > 0 ? v : 1;
}

static void clamp_to_mrd(pm_retx *r)
{
    if (r->p.mrd_ms > 0 && r->next_ms > r->start_ms + r->p.mrd_ms)
        r->next_ms = r->start_ms + r->p.mrd_ms;
}

void pm_retx_start(pm_retx *r, const pm_retx_params *p, int64_t now_ms, pm_rand_fn rnd, void *ctx)
{
    r->p = *p;
    r->start_ms = now_ms;
    r->sent = 1;
    r->rt_ms = jitter(p->irt_ms, rnd, ctx);
    r->next_ms = now_ms + r->rt_ms;
    clamp_to_mrd(r);
}

int pm_retx_expired(const pm_retx *r, int64_t now_ms)
{
    if (r->p.mrc && r->sent >= r->p.mrc)
        return 1;
    if (r->p.mrd_ms > 0 && now_ms >= r->start_ms + r->p.mrd_ms)
        return 1;
    return 0;
}

int pm_retx_advance(pm_retx *r, int64_t now_ms, pm_rand_fn rnd, void *ctx)
{
    if (pm_retx_expired(r, now_ms)) {
        r->next_ms = now_ms;
        return 0;
    }
    r->sent++;
    r->rt_ms = jitter(2 * r->rt_ms, rnd, ctx);
    if (r->p.mrt_ms > 0 && r->rt_ms > r->p.mrt_ms)
        r->rt_ms = jitter(r->p.mrt_ms, rnd, ctx);
    r->next_ms = now_ms + r->rt_ms;
    clamp_to_mrd(r);
    return 1;
}
