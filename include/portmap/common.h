/*
 * Shared definitions for the libportmap public headers.
 */
#ifndef PORTMAP_COMMON_H
#define PORTMAP_COMMON_H

#ifndef PORTMAP_API
#if defined(PORTMAP_BUILDING_LIBRARY) && defined(__GNUC__)
#define PORTMAP_API __attribute__((visibility("default")))
#else
#define PORTMAP_API
#endif
#endif

/* Room for any textual IPv4 or IPv6 address plus the terminating NUL. */
#define PORTMAP_ADDRSTRLEN 46

#endif /* PORTMAP_COMMON_H */
