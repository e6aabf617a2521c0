/*
 * The public headers in a strict C++11 program (tests/meson.build builds
 * it with -std=c++11 -pedantic -Werror -Wall -Wextra, once per header with
 * PM_HEADER first). With PM_HEADER_MAIN, a test: it calls the library
 * through the headers (extern "C", so the names link) and compares the
 * size and offset of every public type with what the C99 translation unit
 * (header_c99.c) sees.
 */
#include PM_HEADER
#include <portmap/common.h>
#include <portmap/portmap.h>
#include <portmap/version.h>

#include "header_layout.h"

#ifdef PM_HEADER_MAIN
#include <cstdio>
#include <cstring>

int main()
{
    static const size_t cxx[] = { PM_HEADER_LAYOUT(PM_HEADER_LAYOUT_VALUE) };
    static const char *const names[] = { PM_HEADER_LAYOUT(PM_HEADER_LAYOUT_NAME) };
    size_t n_c99 = 0;
    const size_t *c99 = pm_header_layout_c99(&n_c99);
    const size_t n = sizeof(cxx) / sizeof(cxx[0]);
    portmap_request r;
    int failed = 0;

    if (n_c99 != n) {
        std::fprintf(stderr, "C99 compared %zu sizes and offsets, C++ %zu\n", n_c99, n);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (c99[i] != cxx[i]) {
            std::fprintf(stderr, "%s: %zu in C99, %zu in C++\n", names[i], c99[i], cxx[i]);
            failed = 1;
        }
    }
    /* linked by their C names */
    portmap_request_init(&r);
    if (r.internal_port != 0 || r.callback != NULL ||
        portmap_version_api() != PORTMAP_API_VERSION ||
        std::strcmp(portmap_strerror(PORTMAP_OK), "") == 0) {
        std::fprintf(stderr, "the library does not answer C++ as it should\n");
        failed = 1;
    }
    if (!failed)
        std::printf("public headers: C++11 clean, %zu sizes and offsets as in C99\n", n);
    return failed;
}
#endif
