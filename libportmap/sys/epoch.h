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

#endif
