/*
 * Both RFCs compare the server's seconds-since-start with the client's
 * own elapsed time; all arithmetic is in milliseconds and 64 bits so that
 * a 32-bit epoch near its wrap or a hostile value cannot overflow.
 */
#include "epoch.h"

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
        int64_t client_delta = now_ms - e->client_ms;

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

int pm_epoch_check_natpmp(pm_epoch *e, uint32_t server_s, int64_t now_ms)
{
    int ok = 1;

    if (e->valid) {
        int64_t expected = (int64_t)e->server_s * 1000 + (now_ms - e->client_ms) * 7 / 8;
        if ((int64_t)server_s * 1000 < expected - 2000)
            ok = 0;
    }
    record(e, server_s, now_ms);
    return ok;
}
