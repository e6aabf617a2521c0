/*
 * What the router says over UPnP, read into plain structs: the device
 * description, SOAP replies and faults, and one entry of the mapping
 * table. Pure functions over bytes already received (miniupnpc's XML
 * parsers underneath); upnp.c does the exchanges, the fuzz targets call
 * these same functions.
 */
#ifndef PM_UPNP_REPLY_H
#define PM_UPNP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "portmap/portmap.h"

/* Caps on what is read from the router; real descriptions are under 10 KiB */
#define PM_UPNP_DESC_MAX (128 * 1024)
#define PM_UPNP_SOAP_MAX (64 * 1024)

typedef struct pm_igd_desc {
    uint32_t ctl_addr;         /* network order */
    uint16_t ctl_port;
    char ctl_path[256];
    char service[128];         /* urn:...:service:WANIPConnection:2 */
    char service_name[48];     /* WANIPConnection:2 */
    int version;               /* 1 or 2 */
    char control_url[96];      /* as written, for messages (may be cut) */
} pm_igd_desc;

typedef enum pm_desc_status {
    PM_DESC_OK = 0,
    PM_DESC_NO_SERVICE,        /* no WANIPConnection or WANPPPConnection */
    PM_DESC_BAD_URL,           /* control URL missing or not http://IPv4/ */
} pm_desc_status;

/* Read a root description fetched from location: the first WAN
 * connection service and its control URL, resolved against location. */
pm_desc_status pm_upnp_desc_parse(const char *body, size_t len, const char *location,
                                  pm_igd_desc *out);

/* A SOAP reply with HTTP status: 0 on success (the value named want, if
 * any, copied into out, "" when absent), else the fault's UPnP error
 * code, or 501 when the fault carries no valid one. */
int pm_soap_result(const char *body, size_t len, int status, const char *want, char *out,
                   size_t out_len);

/* A decimal port 1..65535 and nothing else; 0 otherwise. */
uint16_t pm_upnp_port(const char *s);

/* One GetGenericPortMappingEntry reply. Returns 0 with *e filled (ours set
 * by comparing with mine), or the fault's UPnP error code (713 and 714
 * end the table). */
int pm_upnp_entry_parse(const char *body, size_t len, int status, const char *mine,
                        portmap_router_entry *e);

#endif
