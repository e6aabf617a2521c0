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

#include "sys/addr.h"

/* Caps on what is read from the router; real descriptions are under 10 KiB */
#define PM_UPNP_DESC_MAX (128 * 1024)
#define PM_UPNP_SOAP_MAX (64 * 1024)

/*
 * A root description holds up to two services we use, each read on its
 * own: the WAN connection service (WANIPConnection or WANPPPConnection)
 * maps IPv4 ports, the IPv6 firewall control service opens IPv6 pinholes.
 * A router may offer either without the other, so one missing or broken
 * does not hide the other. Both control URLs are resolved against the
 * location like miniupnpc does, and their hosts are as written (scope 0):
 * the caller sets the zone of a link-local host and checks that the host
 * is the gateway before using either.
 */
typedef struct pm_igd_desc {
    /* the WAN connection service: has_wan is 1 exactly when the status is
     * PM_DESC_OK; without it ctl_addr is unset, never the gateway */
    int has_wan;
    pm_addr ctl_addr;
    uint16_t ctl_port;
    char ctl_path[256];
    char service[128];         /* urn:...:service:WANIPConnection:2 */
    char service_name[48];     /* WANIPConnection:2 */
    int version;               /* 1 or 2 */
    char control_url[96];      /* as written, for messages (may be cut) */
    /* WANIPv6FirewallControl, read whatever the status: has_fw is 1 when
     * the description lists it with a usable control URL; without it
     * fw_addr is unset */
    int has_fw;
    pm_addr fw_addr;
    uint16_t fw_port;
    char fw_path[256];
    char fw_service[128];      /* urn:...:service:WANIPv6FirewallControl:1 */
    char fw_control_url[96];   /* as written, for messages (may be cut) */
} pm_igd_desc;

/* The status speaks of the WAN connection service only, as before the
 * firewall service was read: a caller that maps ports goes on as it did,
 * one that wants pinholes looks at has_fw whatever the status. */
typedef enum pm_desc_status {
    PM_DESC_OK = 0,
    PM_DESC_NO_SERVICE,        /* no WANIPConnection or WANPPPConnection */
    PM_DESC_BAD_URL,           /* its control URL missing or not http://literal/ */
} pm_desc_status;

/* Read a root description fetched from location (a URL without a zone):
 * the first WAN connection service and the IPv6 firewall control service,
 * their control URLs resolved against location. */
pm_desc_status pm_upnp_desc_parse(const char *body, size_t len, const char *location,
                                  pm_igd_desc *out);

/* A SOAP reply with HTTP status: 0 on success (the value named want, if
 * any, copied into out, "" when absent), else the fault's UPnP error
 * code, or 501 when the fault carries no valid one. */
int pm_soap_result(const char *body, size_t len, int status, const char *want, char *out,
                   size_t out_len);

/* A SOAP fault's errorDescription (what the router said, in its words)
 * into out, blanks around it and control characters dropped; "" when it
 * has none. */
void pm_soap_fault_text(const char *body, size_t len, char *out, size_t out_len);

/* A decimal port 1..65535 and nothing else; 0 otherwise. */
uint16_t pm_upnp_port(const char *s);

/* AddPinhole's UniqueID (ui2): a decimal number 0..65535, blanks around
 * it allowed as for every number read here, nothing else. Returns 0 with
 * *out set, or -1. */
int pm_upnp_unique_id(const char *s, uint16_t *out);

/* A GetFirewallStatus reply with HTTP status: 0 with *enabled and
 * *inbound_allowed set (0 or 1) from FirewallEnabled and
 * InboundPinholeAllowed; the fault's UPnP error code as pm_soap_result
 * gives it; or -1 when a 200 reply lacks either value or has one that is
 * not a UPnP boolean ("1", "0", and the older "true", "false", "yes",
 * "no" in any case): a malformed reply, not a status. */
int pm_upnp_fw_status_parse(const char *body, size_t len, int status, int *enabled,
                            int *inbound_allowed);

/* The library's error for a WANIPv6FirewallControl reply code (a fault's
 * UPnP error code, 0 for success, -1 for a malformed reply), and in *why
 * (may be NULL) a short static English reason naming the fault. */
portmap_error pm_upnp_pinhole_error(int code, const char **why);

/* One GetGenericPortMappingEntry reply. Returns 0 with *e filled (ours set
 * by comparing with mine), or the fault's UPnP error code (713 and 714
 * end the table). */
int pm_upnp_entry_parse(const char *body, size_t len, int status, const char *mine,
                        portmap_router_entry *e);

#endif
