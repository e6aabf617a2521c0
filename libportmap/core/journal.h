/*
 * The journal: mappings this host holds, across processes (one file per
 * state directory, see journal.c). Each call takes the directory's flock
 * and may fsync: never called with the client lock held.
 *
 * A state directory (or a file in it) that another user could have
 * planted is refused: the call fails with PM_JOURNAL_UNSAFE (or finds
 * nothing) and pm_journal_refusal() says why, for the caller to log.
 */
#ifndef PM_CORE_JOURNAL_H
#define PM_CORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "portmap/portmap.h"
#include "sys/addr.h"

#define PM_JOURNAL_NONCE_LEN 12

typedef struct pm_journal_entry {
    portmap_method method;
    portmap_transport proto;
    uint16_t internal_port;
    uint16_t external_port;
    pm_addr gateway;
    pm_addr local;
    uint8_t nonce[PM_JOURNAL_NONCE_LEN];
    long pid;                 /* 0: detached (left to expire) */
    unsigned long long start_time; /* the pid's start time, clock ticks */
    int64_t expires_unix;
    uint32_t allow_addr;      /* the remote restriction, needed to delete it */
    uint8_t allow_prefix;
    int has_pinhole;          /* UPnP IPv6: the pinhole's UniqueID, to delete it */
    uint16_t pinhole_id;
    /* A mapping for another host of the LAN (local is that host): our own
     * address, which made it and whose orphans it is among; else unset */
    pm_addr by;
} pm_journal_entry;

/* The address of ours whose mapping e is: by for another host's, else local */
static inline const pm_addr *pm_journal_owner(const pm_journal_entry *e)
{
    return e->by.family ? &e->by : &e->local;
}

/* The calls' errors: 0 is success (for find: found) */
#define PM_JOURNAL_ERR (-1)    /* I/O, the lock's wait ran out, memory; find: not found */
#define PM_JOURNAL_UNSAFE (-2) /* the directory or a file in it is refused: not ours, a
                                * symlink, open to others, not a regular file */

/* One edit: put e (replacing the entry of its key: proto, internal_port,
 * local) or remove e's key */
typedef struct pm_journal_op {
    int put;
    pm_journal_entry e;
} pm_journal_op;

/* The edits in order, under one lock, in one load and one store (the
 * engine's batches, see jqueue.c) */
int pm_journal_apply(const char *dir, const pm_journal_op *ops, size_t n);
int pm_journal_put(const char *dir, const pm_journal_entry *e);
int pm_journal_remove(const char *dir, portmap_transport proto, uint16_t internal_port,
                      const pm_addr *local);
int pm_journal_find(const char *dir, portmap_transport proto, uint16_t internal_port,
                    const pm_addr *local, pm_journal_entry *out);
int pm_journal_detach_pid(const char *dir, long pid);
/* Every entry, into *out (malloc'ed, *n of them): 0, or the error. */
int pm_journal_list(const char *dir, pm_journal_entry **out, size_t *n);
/* 1 when the process that wrote e still runs (same pid and start time). */
int pm_journal_entry_held(const pm_journal_entry *e);
/* 1 when some entry is of our address local (made from it, for whatever host) */
int pm_journal_has_local(const char *dir, const pm_addr *local);
/* PORTMAP_HAVE(method) of each method that entries for gateway and local
 * whose process has died were made through; 0 when none (or unreadable). */
unsigned pm_journal_orphan_methods(const char *dir, const pm_addr *gateway, const pm_addr *local);
/* Take over (for pid) the entries for gateway and local, made through one
 * of methods (PORTMAP_HAVE bits), whose process has died; up to max
 * copied to out, the number returned. Drops expired entries nobody holds
 * on the way. One load and at most one store for every method. */
size_t pm_journal_claim_orphans(const char *dir, const pm_addr *gateway, const pm_addr *local,
                                unsigned methods, long pid, pm_journal_entry *out, size_t max);
/* 1 when a live process (same pid and start time) holds this mapping. */
int pm_journal_held(const char *dir, portmap_transport proto, uint16_t internal_port,
                    const pm_addr *local);
/* $PORTMAP_STATE_DIR, /run/portmap (root), $XDG_RUNTIME_DIR/portmap or
 * /tmp/portmap-<uid>; malloc'ed. */
char *pm_journal_default_dir(void);
/* Why the last journal call of this thread refused the state directory
 * (any call: has_local, held and claim_orphans cannot return it), or
 * NULL when it did not. */
const char *pm_journal_refusal(void);
/* Journal files stored (renamed into place) by this process so far: the
 * tests' count of writes, to check that edits are batched */
unsigned long pm_journal_stores(void);

#endif
