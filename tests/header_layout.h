/*
 * The layout of the public types, as header_c99.c and header_cxx.cc each
 * see it: a C++ program must agree with the C library on every size and
 * offset, or the two pass each other garbage.
 */
#ifndef PM_HEADER_LAYOUT_H
#define PM_HEADER_LAYOUT_H

#include <stddef.h>

#include <portmap/portmap.h>

/* X(name, value) for each size and offset compared */
#define PM_HEADER_LAYOUT(X)                                                      \
    X("sizeof(portmap_error)", sizeof(portmap_error))                            \
    X("sizeof(portmap_method)", sizeof(portmap_method))                          \
    X("sizeof(portmap_family)", sizeof(portmap_family))                          \
    X("sizeof(portmap_address_kind)", sizeof(portmap_address_kind))              \
    X("sizeof(portmap_transport)", sizeof(portmap_transport))                    \
    X("sizeof(portmap_log_level)", sizeof(portmap_log_level))                    \
    X("sizeof(portmap_state)", sizeof(portmap_state))                            \
    X("sizeof(portmap_event)", sizeof(portmap_event))                            \
    X("sizeof(portmap_settings)", sizeof(portmap_settings))                      \
    X("portmap_settings.log_callback", offsetof(portmap_settings, log_callback)) \
    X("portmap_settings.reserved", offsetof(portmap_settings, reserved))         \
    X("sizeof(portmap_discovery)", sizeof(portmap_discovery))                    \
    X("portmap_discovery.family", offsetof(portmap_discovery, family))           \
    X("portmap_discovery.reserved", offsetof(portmap_discovery, reserved))       \
    X("sizeof(portmap_mapping_info)", sizeof(portmap_mapping_info))              \
    X("portmap_mapping_info.lifetime", offsetof(portmap_mapping_info, lifetime)) \
    X("portmap_mapping_info.reserved", offsetof(portmap_mapping_info, reserved)) \
    X("sizeof(portmap_request)", sizeof(portmap_request))                        \
    X("portmap_request.callback", offsetof(portmap_request, callback))           \
    X("portmap_request.reserved", offsetof(portmap_request, reserved))           \
    X("sizeof(portmap_counters)", sizeof(portmap_counters))                      \
    X("portmap_counters.reserved", offsetof(portmap_counters, reserved))         \
    X("sizeof(portmap_router_entry)", sizeof(portmap_router_entry))              \
    X("portmap_router_entry.reserved", offsetof(portmap_router_entry, reserved))

#define PM_HEADER_LAYOUT_VALUE(name, value) value,
#define PM_HEADER_LAYOUT_NAME(name, value) name,

#ifdef __cplusplus
extern "C" {
#endif

/* The sizes and offsets as the C99 translation unit sees them, in the
 * order of PM_HEADER_LAYOUT; their number in *n. */
const size_t *pm_header_layout_c99(size_t *n);

#ifdef __cplusplus
}
#endif

#endif
