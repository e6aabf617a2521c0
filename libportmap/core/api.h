/*
 * What the public entry points share (client.c, discover.c, request.c,
 * release.c, table.c). Each entry point takes the client lock, does its
 * small piece of work (or waits on the condition variable with a
 * deadline) and wakes the engine; the engine thread does the network
 * work. Journal reads and writes of a caller's thread are made without
 * the lock, after the engine's queued writes (pm_jq_barrier).
 */
#ifndef PM_CORE_API_H
#define PM_CORE_API_H

#include "core/core.h"

/* Wait until the journal holds every write queued so far (lock held):
 * the engine, woken, writes its batch without waiting for more. */
static inline void pm_api_journal_barrier(portmap_client *c, int64_t deadline)
{
    pm_engine_wake(c);
    pm_jq_barrier(c, deadline);
}

static inline int pm_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Wait for a change or the deadline. Returns 0 on timeout. Lock held. */
int pm_api_wait_until(portmap_client *c, int64_t deadline);
void pm_api_waiter_enter(portmap_client *c);
void pm_api_waiter_leave(portmap_client *c);
/* Start of a blocking public call: lock, refuse on the engine thread
 * (the callback would wait for itself), count the waiter so close()
 * keeps the client alive until it has left. */
int pm_api_enter(portmap_client *c);
void pm_api_leave(portmap_client *c);
/* timeout_ms, or the client's when 0 or less */
int pm_api_timeout(portmap_client *c, int timeout_ms);

/* discover.c */
void pm_api_fill_discovery(portmap_client *c, int fam, portmap_discovery *out);
/* The families to discover for work on the journal's entries (see
 * discover.c). Drops the lock while reading the journal. */
unsigned pm_api_journal_fams(portmap_client *c, int64_t now);
/* Probe the families in fams (bits 1 << PM_V4, 1 << PM_V6) at once and
 * wait; the verdict is the families in asked. */
int pm_api_probe_and_wait(portmap_client *c, unsigned fams, unsigned asked, unsigned flags,
                          int64_t deadline);
/* The same, ending the wait as soon as enough(c, arg) (lock held) says
 * what the caller needs is known, before every probe has its verdict */
typedef int (*pm_api_enough_fn)(const portmap_client *c, const void *arg);
int pm_api_probe_and_wait_for(portmap_client *c, unsigned fams, unsigned asked, unsigned flags,
                              int64_t deadline, pm_api_enough_fn enough, const void *arg);
int pm_api_discover(portmap_client *c, unsigned fams, unsigned flags, int64_t deadline);

/* release.c; third: the other host of the LAN the entry maps to, or
 * NULL for this host's (a journal entry's own by says so too) */
portmap_mapping *pm_api_start_delete(portmap_client *c, int fam, portmap_transport protocol,
                                     uint16_t internal_port, portmap_method method,
                                     const pm_journal_entry *e, const pm_addr *third,
                                     const char *allow, int verify_owner, int64_t deadline);
int pm_api_finish_delete(portmap_client *c, portmap_mapping *m, int64_t deadline);
int pm_api_delete_on_router(portmap_client *c, int fam, portmap_transport protocol,
                            uint16_t internal_port, portmap_method method,
                            const pm_journal_entry *e, const char *allow, int verify_owner,
                            int64_t deadline);

#endif
