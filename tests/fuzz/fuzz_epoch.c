/*
 * The server epoch validators against the RFCs' own formulas.
 *
 * Input: records of 9 bytes, each one reply seen by the client:
 *   flags (bit 0: the epoch is a signed offset from the previous one
 *          rather than absolute; bit 1: the time step is in seconds)
 *   time step (u32, the client's monotonic clock only moves forward)
 *   server epoch or offset (u32)
 * Both validators get every record, each with its own state, and each
 * answer must be the one an exact evaluation of the RFC gives.
 *
 * The reference works in exact integers: times in milliseconds, and the
 * RFCs' fractions (1/16, 7/8) cleared by multiplying both sides, so no
 * rounding is involved, whatever the library does.
 */
#include <string.h>

#include "sys/epoch.h"
#include "fuzz.h"

typedef struct ref_state {
    int have;
    int64_t server_ms;       /* previous epoch, in ms */
    int64_t client_ms;       /* when it was received */
} ref_state;

/* RFC 6887 8.5. */
static int ref_pcp(ref_state *st, uint32_t server_s, int64_t now_ms)
{
    int valid = 1;
    int64_t cur = (int64_t)server_s * 1000;

    if (st->have) {
        int64_t client_delta = now_ms - st->client_ms;
        int64_t server_delta = cur - st->server_ms;

        /* "less than the previously received ... by more than one second" */
        if (cur < st->server_ms - 1000) {
            valid = 0;
        } else {
            /* client_delta + 2 < server_delta - server_delta / 16, times 16 */
            if (16 * (client_delta + 2000) < 15 * server_delta)
                valid = 0;
            /* server_delta + 2 < client_delta - client_delta / 16, times 16 */
            if (16 * (server_delta + 2000) < 15 * client_delta)
                valid = 0;
        }
    }
    st->have = 1;
    st->server_ms = cur;
    st->client_ms = now_ms;
    return valid;
}

/* RFC 6886 3.6: the estimate is the previous epoch plus 7/8 of the time
 * elapsed; more than 2 s below it means the gateway lost its state. */
static int ref_natpmp(ref_state *st, uint32_t server_s, int64_t now_ms)
{
    int valid = 1;
    int64_t cur = (int64_t)server_s * 1000;

    if (st->have) {
        int64_t elapsed = now_ms - st->client_ms;
        /* cur < prev + 7/8 elapsed - 2000, times 8 */
        if (8 * cur < 8 * st->server_ms + 7 * elapsed - 16000)
            valid = 0;
    }
    st->have = 1;
    st->server_ms = cur;
    st->client_ms = now_ms;
    return valid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = { data, size };
    pm_epoch pcp, pmp;
    ref_state rpcp = { 0 }, rpmp = { 0 };
    int64_t now = 1000; /* CLOCK_MONOTONIC in ms; any start will do */
    uint32_t server = 0;

    memset(&pcp, 0, sizeof(pcp));
    memset(&pmp, 0, sizeof(pmp));
    /* At most 4096 records: the clock then stays below 2^55 ms, far from
     * overflowing the reference's multiplications. */
    for (int i = 0; i < 4096 && fuzz_left(&in); i++) {
        uint8_t flags = fuzz_u8(&in);
        uint32_t step = fuzz_u32(&in);
        uint32_t value = fuzz_u32(&in);
        int got, want;

        now += (flags & 2) ? (int64_t)step * 1000 : (int64_t)step;
        server = (flags & 1) ? server + value : value; /* u32: wraps like the wire field */

        got = pm_epoch_check_pcp(&pcp, server, now);
        want = ref_pcp(&rpcp, server, now);
        if (got != want)
            fprintf(stderr, "pcp: record %d: epoch %u at %lld ms: library %d, RFC 6887 %d\n", i,
                    server, (long long)now, got, want);
        FUZZ_CHECK(got == want);

        got = pm_epoch_check_natpmp(&pmp, server, now);
        want = ref_natpmp(&rpmp, server, now);
        if (got != want)
            fprintf(stderr, "natpmp: record %d: epoch %u at %lld ms: library %d, RFC 6886 %d\n", i,
                    server, (long long)now, got, want);
        FUZZ_CHECK(got == want);

        /* both record the reply, valid or not */
        FUZZ_CHECK(pcp.valid && pcp.server_s == server && pcp.client_ms == now);
        FUZZ_CHECK(pmp.valid && pmp.server_s == server && pmp.client_ms == now);
    }
    return 0;
}
