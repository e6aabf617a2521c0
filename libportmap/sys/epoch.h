/*
 * Server epoch validation: the way a client notices that the router lost
 * its mapping state (rebooted) without being told.
 */
#ifndef PM_EPOCH_H
#define PM_EPOCH_H

#include <stdint.h>

typedef struct pm_epoch {
    int valid;               /* a previous value was recorded */
    uint32_t server_s;       /* previous server epoch, seconds */
    int64_t client_ms;       /* local monotonic time it was received */
} pm_epoch;

/* RFC 6887 8.5. Returns 1 when the new epoch is consistent, 0 when the
 * server lost state. Always records the new values. */
int pm_epoch_check_pcp(pm_epoch *e, uint32_t server_s, int64_t now_ms);

/* RFC 6886 3.6 (expected >= previous + 7/8 of elapsed time, 2 s slack).
 * Same contract. */
int pm_epoch_check_natpmp(pm_epoch *e, uint32_t server_s, int64_t now_ms);

/* 1 when, since the last record, the server's clock stood still or went
 * back while ours went on by 1.1 s or more (a second, and the jitter of
 * two replies): a restart too recent for the
 * checks above to tell from slack (a router a second old that restarts
 * says 0 s after 1 s). Records nothing: ask before the check. */
int pm_epoch_stalled(const pm_epoch *e, uint32_t server_s, int64_t now_ms);

#endif
