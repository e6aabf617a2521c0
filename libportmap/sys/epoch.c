/*
 * Both RFCs compare the server's seconds-since-start with the client's
 * own elapsed time; all arithmetic is in milliseconds and 64 bits so that
 * a 32-bit epoch near its wrap or a hostile value cannot overflow.
 */
#include <stdint.h>

#include "sys/epoch.h"

/* Client time elapsed since the last record, never negative, and small
 * enough that the formulas below cannot overflow (2^50 ms is 35,000 years). */
static int64_t elapsed_ms(const pm_epoch *e, int64_t now_ms)
{
    const int64_t cap = (int64_t)1 << 50;
    if (now_ms <= e->client_ms)
        return 0;
    if (e->client_ms < 0 && now_ms > INT64_MAX + e->client_ms)
        return cap;
    return now_ms - e->client_ms > cap ? cap : now_ms - e->client_ms;
}

static void record(pm_epoch *e, uint32_t server_s, int64_t now_ms)
{
    e->valid = 1;
    e->server_s = server_s;
    e->client_ms = now_ms;
}

int pm_epoch_check_pcp(pm_epoch *e, uint32_t server_s, int64_t now_ms)
{
    int ok = 1;

    if (e->valid) {
        int64_t server_delta = ((int64_t)server_s - (int64_t)e->server_s) * 1000;
        int64_t client_delta = elapsed_ms(e, now_ms);

        /* Going back by up to one second is tolerated: reordering. */
        if (server_delta < -1000)
            ok = 0;
        else if (client_delta + 2000 < server_delta - server_delta / 16 ||
                 server_delta + 2000 < client_delta - client_delta / 16)
            ok = 0;
    }
    record(e, server_s, now_ms);
    return ok;
}

int pm_epoch_stalled(const pm_epoch *e, uint32_t server_s, int64_t now_ms)
{
    return e->valid && server_s <= e->server_s && elapsed_ms(e, now_ms) >= 1100;
}

int pm_epoch_check_natpmp(pm_epoch *e, uint32_t server_s, int64_t now_ms)
{
    int ok = 1;

    if (e->valid) {
        int64_t elapsed = elapsed_ms(e, now_ms);
        int64_t expected = (int64_t)e->server_s * 1000 + elapsed - elapsed / 8; /* 7/8 of it */
        if ((int64_t)server_s * 1000 < expected - 2000)
            ok = 0;
    }
    record(e, server_s, now_ms);
    return ok;
}
