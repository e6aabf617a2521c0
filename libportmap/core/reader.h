/*
 * A caller waiting for its mapping reads its reply itself (reader.c).
 */
#ifndef PM_CORE_READER_H
#define PM_CORE_READER_H

#include "core/api.h"

/* One waiting caller's part: on its stack, for one portmap_mapping_wait(). */
typedef struct pm_reader {
    struct pollfd fds[PM_FAMS + 1]; /* the replies' sockets, then the eventfd */
    const pm_backend *b[PM_FAMS];   /* the backend of each socket */
    unsigned n;
    int reading;              /* this caller is c's reader */
    int failed;               /* ppoll failed: wait as the others do */
    int wake_engine;          /* it dispatched or left: the engine is to be woken */
} pm_reader;

/* pm_api_wait_until for m (and its twin): wait for a change or the
 * deadline, reading the replies' sockets meanwhile when a backend lets a
 * caller read them and no other caller reads. Returns 0 on timeout. Lock
 * held; rd zeroed before the first call. */
int pm_reader_wait(portmap_client *c, portmap_mapping *m, pm_reader *rd, int64_t deadline);
/* The wait is over: give the sockets back to the engine. Lock held. */
void pm_reader_leave(portmap_client *c, pm_reader *rd);
/* Wake the engine if what rd did asks for it: as late as may be (woken
 * while the lock is held for long, it would only wait for the lock): on
 * the way out, last before the unlock; before a wait, after it. */
void pm_reader_done(portmap_client *c, pm_reader *rd);

#endif
