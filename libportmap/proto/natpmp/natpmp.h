/*
 * The NAT-PMP backend's handlers of datagrams already received and
 * checked for their source: no I/O of their own, so tests and fuzzers
 * drive them.
 */
#ifndef PM_PROTO_NATPMP_H
#define PM_PROTO_NATPMP_H

#include "proto/backend.h"
#include "proto/natpmp/natpmp_wire.h"

extern const pm_backend pm_backend_natpmp;

/* A reply already matched to the pending request (opcode and port) */
void pm_natpmp_probe_reply(portmap_client *c, const pm_natpmp_reply *rep, int64_t now);
void pm_natpmp_mapping_reply(portmap_client *c, portmap_mapping *m, const pm_natpmp_reply *rep,
                             int64_t now);
/* A datagram to 224.0.0.1:5350 from the gateway's port 5351. */
void pm_natpmp_announce(portmap_client *c, const uint8_t *buf, size_t len, int64_t now);

#endif
