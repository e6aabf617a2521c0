/*
 * The public headers in a strict C99 program (tests/meson.build builds it
 * with -std=c99 -pedantic -Werror -Wall -Wextra, no _GNU_SOURCE). Built
 * once per header with PM_HEADER naming it, first, so that each header
 * includes what it needs; a header that is not clean C99 breaks the build.
 *
 * With PM_HEADER_MAIN, a test: the version macros agree with the library
 * it links, and no header in include/portmap/ (PM_HEADER_DIR) was left out
 * of the list built here (PM_HEADER_LIST).
 */
#ifdef PM_HEADER_MAIN
#define _POSIX_C_SOURCE 200809L /* opendir(); the header checks are built without it */
#endif
#include PM_HEADER
#include <portmap/common.h>
#include <portmap/portmap.h>
#include <portmap/version.h>

#include "header_layout.h"

static const size_t layout[] = { PM_HEADER_LAYOUT(PM_HEADER_LAYOUT_VALUE) };

const size_t *pm_header_layout_c99(size_t *n)
{
    *n = sizeof(layout) / sizeof(layout[0]);
    return layout;
}

#ifdef PM_HEADER_MAIN
#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* 1 if name (a header's file name) is a word of PM_HEADER_LIST */
static int listed(const char *name)
{
    const char *list = PM_HEADER_LIST, *p = list;
    size_t len = strlen(name);

    while ((p = strstr(p, name)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
            return 1;
        p += len;
    }
    return 0;
}

int main(void)
{
    unsigned want = PORTMAP_API_VERSION;
    int failed = 0;
    struct dirent *e;
    DIR *d;

    if (portmap_version_api() != want) {
        fprintf(stderr, "header version %u.%u.%u, library %u.%u.%u\n", (want >> 16) & 0xff,
                (want >> 8) & 0xff, want & 0xff, (portmap_version_api() >> 16) & 0xff,
                (portmap_version_api() >> 8) & 0xff, portmap_version_api() & 0xff);
        failed = 1;
    }
    d = opendir(PM_HEADER_DIR);
    if (!d) {
        perror(PM_HEADER_DIR);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 2 && !strcmp(e->d_name + len - 2, ".h") && !listed(e->d_name)) {
            fprintf(stderr, "%s/%s is not compiled by this test: add it to public_headers "
                            "in tests/meson.build\n", PM_HEADER_DIR, e->d_name);
            failed = 1;
        }
    }
    closedir(d);
    if (!failed)
        printf("public headers (%s): C99 clean, version %s\n", PM_HEADER_LIST, portmap_version());
    return failed;
}
#endif
