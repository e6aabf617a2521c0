/*
 * The public names of errors, methods, states, events and address kinds.
 */
#include "portmap/portmap.h"
#include "sys/addr.h"
#include "sys/util.h"

PORTMAP_API const char *portmap_strerror(int err)
{
    static const char *const msgs[] = {
        [PORTMAP_OK] = "success",
        [PORTMAP_ERR_INVALID_ARGUMENT] = "invalid argument",
        [PORTMAP_ERR_NO_MEMORY] = "out of memory",
        [PORTMAP_ERR_NO_GATEWAY] = "no gateway found or none answered",
        [PORTMAP_ERR_TIMEOUT] = "the gateway did not answer in time",
        [PORTMAP_ERR_CANCELLED] = "cancelled",
        [PORTMAP_ERR_REFUSED] = "the gateway refused the request",
        [PORTMAP_ERR_NOT_AUTHORIZED] = "the gateway does not authorize this mapping",
        [PORTMAP_ERR_NO_RESOURCES] = "the gateway is out of resources",
        [PORTMAP_ERR_UNSUPPORTED] = "the gateway does not support this protocol",
        [PORTMAP_ERR_NETWORK] = "the gateway reported a network failure",
        [PORTMAP_ERR_SYSTEM] = "a system call failed",
        [PORTMAP_ERR_BAD_STATE] = "not allowed in the current state",
        [PORTMAP_ERR_PROTOCOL] = "malformed reply from the gateway",
        [PORTMAP_ERR_WOULD_DEADLOCK] = "blocking call from inside a callback",
        [PORTMAP_ERR_NOT_FOUND] = "no such mapping",
        [PORTMAP_ERR_PORT_IN_USE] = "the external port is already in use",
    };
    if (err < 0 || (size_t)err >= PM_ARRAY_SIZE(msgs) || !msgs[err])
        return "unknown error";
    return msgs[err];
}

PORTMAP_API const char *portmap_method_name(portmap_method m)
{
    switch (m) {
    case PORTMAP_METHOD_AUTO: return "auto";
    case PORTMAP_METHOD_PCP: return "pcp";
    case PORTMAP_METHOD_NATPMP: return "natpmp";
    case PORTMAP_METHOD_UPNP: return "upnp";
    }
    return NULL;
}

PORTMAP_API const char *portmap_state_name(portmap_state s)
{
    switch (s) {
    case PORTMAP_STATE_PENDING: return "pending";
    case PORTMAP_STATE_MAPPED: return "mapped";
    case PORTMAP_STATE_LOST: return "lost";
    case PORTMAP_STATE_FAILED: return "failed";
    case PORTMAP_STATE_RELEASING: return "releasing";
    case PORTMAP_STATE_RELEASED: return "released";
    }
    return NULL;
}

PORTMAP_API const char *portmap_event_name(portmap_event e)
{
    switch (e) {
    case PORTMAP_EVENT_MAPPED: return "mapped";
    case PORTMAP_EVENT_CHANGED: return "changed";
    case PORTMAP_EVENT_LOST: return "lost";
    case PORTMAP_EVENT_RESTORED: return "restored";
    case PORTMAP_EVENT_FAILED: return "failed";
    case PORTMAP_EVENT_RELEASED: return "released";
    }
    return NULL;
}

PORTMAP_API const char *portmap_address_kind_name(portmap_address_kind k)
{
    if (k < PORTMAP_ADDRESS_STABLE || k > PORTMAP_ADDRESS_TEMPORARY_ULA)
        return "";
    return pm_v6_kind_name((pm_v6_kind)(k - 1)); /* see pm_address_kind() */
}
