/*
 * The PCP backend's handlers of datagrams already received and checked
 * for their source: no I/O of their own, so tests and fuzzers drive them.
 */
#ifndef PM_PROTO_PCP_H
#define PM_PROTO_PCP_H

#include "proto/backend.h"

extern const pm_backend pm_backend_pcp;

/* A reply from fam's PCP server. */
void pm_pcp_handle(portmap_client *c, int fam, const uint8_t *buf, size_t len, int64_t now);
/* A datagram to the all-hosts group's port 5350 from fam's gateway. */
void pm_pcp_announce(portmap_client *c, int fam, const uint8_t *buf, size_t len, int64_t now);

#endif
