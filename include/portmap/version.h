/*
 * libportmap version macros.
 *
 * PORTMAP_API_VERSION_MAJOR is the ABI generation: meson reads it from this
 * file and uses it as the soversion, so it changes only on an ABI break.
 * MINOR grows when symbols are added (each addition gets a new node in
 * libportmap.sym), PATCH on fixes.
 */
#ifndef PORTMAP_VERSION_H
#define PORTMAP_VERSION_H

#define PORTMAP_API_VERSION_MAJOR 0
#define PORTMAP_API_VERSION_MINOR 6
#define PORTMAP_API_VERSION_PATCH 0

#define PORTMAP_API_VERSION \
    ((PORTMAP_API_VERSION_MAJOR << 16) | (PORTMAP_API_VERSION_MINOR << 8) | PORTMAP_API_VERSION_PATCH)

#endif /* PORTMAP_VERSION_H */
