/*
 * Two builds of the library side by side: the warm client's time to
 * mapped (as bench_mapped's "warm client") with library A and library B,
 * loaded into one process, run after run in alternating order. On a
 * shared machine the load moves by more than a change under test between
 * two runs of bench/run.sh; here both see the same minutes.
 *
 * usage: bench_ab [fresh] RUNS LIB_A LIB_B   (paths of libportmap.so
 *        builds; in the lab's LAN namespace, full router, as run.sh runs
 *        the others)
 *   fresh: the fresh client's time to mapped instead (as bench_mapped's
 *          "fresh client": a client just opened, its engine thread
 *          started), next to a bare PCP MAP round trip in each run, the
 *          floor of both
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "bench.h"

#define PORT_BASE 34000

/* The calls used, from one build. */
typedef struct lib {
    const char *path;
    void (*default_settings)(portmap_settings *);
    int (*open)(portmap_client **, const portmap_settings *);
    void (*request_init)(portmap_request *);
    int (*request_mapping)(portmap_client *, const portmap_request *, portmap_mapping **);
    int (*wait)(portmap_mapping *, int, portmap_mapping_info *);
    int (*close)(portmap_client **);
} lib;

/* RTLD_LOCAL: each build keeps its own symbols. */
static int load(lib *l, const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

    l->path = path;
    if (!h) {
        fprintf(stderr, "bench_ab: %s\n", dlerror());
        return -1;
    }
    *(void **)&l->default_settings = dlsym(h, "portmap_default_settings");
    *(void **)&l->open = dlsym(h, "portmap_open");
    *(void **)&l->request_init = dlsym(h, "portmap_request_init");
    *(void **)&l->request_mapping = dlsym(h, "portmap_request_mapping");
    *(void **)&l->wait = dlsym(h, "portmap_mapping_wait");
    *(void **)&l->close = dlsym(h, "portmap_close");
    if (!l->default_settings || !l->open || !l->request_init || !l->request_mapping ||
        !l->wait || !l->close) {
        fprintf(stderr, "bench_ab: %s lacks a portmap_ call\n", path);
        return -1;
    }
    return 0;
}

/* A client that has mapped one port maps another: that one is timed,
 * from the request to the wait's return, the external address known. */
static double warm(const lib *l, unsigned port)
{
    portmap_settings s;
    portmap_client *c = NULL;
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;
    double t0, ms = -1;

    l->default_settings(&s);
    if (l->open(&c, &s) != PORTMAP_OK)
        return -1;
    l->request_init(&r);
    r.internal_port = (uint16_t)(port + 1000);
    if (l->request_mapping(c, &r, &m) != PORTMAP_OK || l->wait(m, 0, NULL) != PORTMAP_OK)
        goto out;
    r.internal_port = (uint16_t)port;
    usleep(BENCH_SETTLE_MS * 1000); /* as bench_mapped: the same quiet time before */
    t0 = bench_now_ms();
    if (l->request_mapping(c, &r, &m) == PORTMAP_OK && l->wait(m, 0, &info) == PORTMAP_OK &&
        info.external_address[0])
        ms = bench_now_ms() - t0;
out:
    l->close(&c); /* releases, untimed */
    return ms;
}

/* A client just opened (its engine thread started, as bench_mapped
 * waits for it) maps one port: timed from the request to the wait's
 * return, the external address known. */
static double fresh(const lib *l, unsigned port)
{
    portmap_settings s;
    portmap_client *c = NULL;
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;
    pid_t before[256];
    int n = bench_threads(before, 256);
    double t0, ms = -1;

    l->default_settings(&s);
    if (l->open(&c, &s) != PORTMAP_OK)
        return -1;
    bench_new_thread(before, n);
    l->request_init(&r);
    r.internal_port = (uint16_t)port;
    usleep(BENCH_SETTLE_MS * 1000);
    t0 = bench_now_ms();
    if (l->request_mapping(c, &r, &m) == PORTMAP_OK && l->wait(m, 0, &info) == PORTMAP_OK &&
        info.external_address[0])
        ms = bench_now_ms() - t0;
    l->close(&c); /* releases, untimed */
    return ms;
}

int main(int argc, char **argv)
{
    int is_fresh = argc > 1 && !strcmp(argv[1], "fresh");
    char **arg = argv + is_fresh;
    int runs = argc - is_fresh > 1 ? atoi(arg[1]) : 0, na = 0, nb = 0, nf = 0;
    const char *what = is_fresh ? "fresh client" : "warm client";
    const char *title = is_fresh ? "Fresh client" : "Warm client";
    char row[64];
    lib libs[2];
    double *a, *b, *floor;
    bench_stats sa, sb, sf;

    if (argc - is_fresh != 4 || runs < 1) {
        fprintf(stderr, "usage: bench_ab [fresh] RUNS LIB_A LIB_B\n");
        return 2;
    }
    if (load(&libs[0], arg[2]) != 0 || load(&libs[1], arg[3]) != 0)
        return 1;
    a = calloc((size_t)runs, sizeof(*a));
    b = calloc((size_t)runs, sizeof(*b));
    floor = calloc((size_t)runs, sizeof(*floor));
    if (!a || !b || !floor)
        return 1;
    bench_state_dir("ab");
    for (int i = 0; i < runs; i++) {
        unsigned port = PORT_BASE + (unsigned)(i % 100);
        double f;
        /* alternating: neither is always the one after the other */
        for (int k = 0; k < 2; k++) {
            int which = (i + k) % 2;
            unsigned p = port + (unsigned)which * 200;
            double ms = is_fresh ? fresh(&libs[which], p) : warm(&libs[which], p);
            if (ms < 0)
                fprintf(stderr, "bench_ab: run %d: %s did not map\n", i, libs[which].path);
            else if (which == 0)
                a[na++] = ms;
            else
                b[nb++] = ms;
        }
        if (is_fresh && (f = bench_bare_pcp(BENCH_RTR_IP, port + 400, 0)) >= 0)
            floor[nf++] = f;
    }
    sa = bench_stats_of(a, na);
    sb = bench_stats_of(b, nb);
    sf = bench_stats_of(floor, nf);
    printf("%s, time to mapped, two builds in one process, %d runs, alternating\n\n", title,
           runs);
    printf("- A: %s\n- B: %s\n\n", arg[2], arg[3]);
    bench_table_head("", "ms");
    if (is_fresh)
        bench_table_row("bare PCP MAP round trip (floor)", &sf, &sf);
    snprintf(row, sizeof(row), "A: libportmap, %s", what);
    bench_table_row(row, &sa, is_fresh ? &sf : &sa);
    snprintf(row, sizeof(row), "B: libportmap, %s", what);
    bench_table_row(row, &sb, is_fresh ? &sf : &sa);
    printf("\n");
    free(a);
    free(b);
    free(floor);
    return na == runs && nb == runs ? 0 : 1;
}
