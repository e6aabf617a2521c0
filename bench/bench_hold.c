/*
 * Holding many mappings: N mappings with a short lease on the fake router
 * (bench_gw.c, in the lab router's namespace, profile none) for a while,
 * measuring the client's engine thread alone:
 *   - CPU per renewal: the thread's CPU clock over renewals done, over the
 *     whole hold and per minute of it (median and spread);
 *   - memory: VmRSS before the client, with it, with the N mappings and
 *     at the end; malloc's bytes in use (mallinfo2) likewise;
 *   - wake-ups: the thread's voluntary context switches. The engine only
 *     ever sleeps in poll() (the lock is not contended: nobody calls into
 *     the client during the hold), so each is one wake-up. Whenever the
 *     mappings' infos say nothing is due for a while, the switches are
 *     counted from shortly after to shortly before the next renewal: in
 *     these quiet windows the count must stay 0. Over the whole hold they
 *     are set against renewals, and against the wake-ups that could have a
 *     reason (one per request sent and one per reply, an upper bound).
 * Runs in the lab's LAN namespace (bench/run.sh puts it there).
 *
 * usage: bench_hold [-n MAPPINGS] [-t SECONDS] [-l LIFETIME] [-p pcp|natpmp]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "bench.h"
#include "bench_gw.h"

#define PORT_BASE 20000
#define WINDOW_S 60
#define QUIET_MARGIN_MS 100  /* a quiet window keeps this far from deadlines */
#define ROUND_MS 200         /* a renewal round is over by then */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

typedef struct snap {
    double t_ms;
    int64_t cpu_ns;
    long vol, invol;
    portmap_counters k;
} snap;

static void take(portmap_client *c, pid_t engine, snap *s, int with_counters)
{
    s->t_ms = bench_now_ms();
    s->cpu_ns = bench_thread_cpu_ns(engine);
    bench_thread_switches(engine, &s->vol, &s->invol);
    /* the counters take the client's lock: not while counting wake-ups
     * in the quiet window */
    if (with_counters)
        portmap_get_counters(c, &s->k);
}

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void sleep_until(double t_ms)
{
    double left = t_ms - bench_now_ms();
    if (left > 0) {
        time_t s = (time_t)(left / 1000);
        struct timespec ts = { s, (long)((left - (double)s * 1000) * 1e6) };
        nanosleep(&ts, NULL);
    }
}

/* ms until the earliest renewal of any mapping, 0 while one is under way
 * (the infos are read under the client's lock, outside quiet windows). */
static double next_due_ms(portmap_mapping **maps, int n)
{
    double due = -1;
    for (int i = 0; i < n; i++) {
        portmap_mapping_info info;
        portmap_mapping_get_info(maps[i], &info);
        if (info.state != PORTMAP_STATE_MAPPED || info.refresh_in_ms < 0)
            return 0;
        if (due < 0 || info.refresh_in_ms < due)
            due = (double)info.refresh_in_ms;
    }
    return due < 0 ? 0 : due;
}

static void row(const char *what, const char *value)
{
    printf("| %-52s | %24s |\n", what, value);
}

int main(int argc, char **argv)
{
    int n = 1000, seconds = 300, lifetime = 60, opt;
    const char *proto = "pcp", *ns = getenv("LAB_NETNS_RTR");
    portmap_settings s;
    portmap_client *c = NULL;
    portmap_mapping **maps;
    bench_gw gw;
    pid_t before[256], engine;
    long rss_start, rss_open, rss_mapped, rss_end;
    size_t heap_open, heap_mapped, heap_end;
    double t_mapped, setup_ms, *win;
    int nwin = 0, failed = 0, quiet_windows = 0;
    long quiet_wakes = 0;
    double quiet_ms = 0;
    snap a, w0, end;
    char v[64];

    while ((opt = getopt(argc, argv, "n:t:l:p:")) != -1) {
        switch (opt) {
        case 'n': n = atoi(optarg); break;
        case 't': seconds = atoi(optarg); break;
        case 'l': lifetime = atoi(optarg); break;
        case 'p': proto = optarg; break;
        default:
            fprintf(stderr, "usage: bench_hold [-n MAPPINGS] [-t SECONDS] [-l LIFETIME] "
                            "[-p pcp|natpmp]\n");
            return 2;
        }
    }
    if (n < 1 || n > 40000 || seconds < 1 || lifetime < 4 ||
        (strcmp(proto, "pcp") && strcmp(proto, "natpmp"))) {
        fprintf(stderr, "bench_hold: bad arguments\n");
        return 2;
    }
    bench_state_dir("hold");
    if (bench_gw_start(&gw, BENCH_GW_PCP, ns ? ns : "bn-rtr") != 0)
        return 1;

    rss_start = bench_rss_kib();
    portmap_default_settings(&s);
    /* one protocol: no other probe keeps a deadline in the quiet window */
    s.methods[0] = strcmp(proto, "pcp") ? PORTMAP_METHOD_NATPMP : PORTMAP_METHOD_PCP;
    s.default_lifetime = (uint32_t)lifetime;
    s.timeout_ms = 30000;
    {
        int nb = bench_threads(before, 256);
        if (portmap_open(&c, &s) != PORTMAP_OK) {
            fprintf(stderr, "bench_hold: portmap_open failed\n");
            return 1;
        }
        engine = bench_new_thread(before, nb);
    }
    if (!engine) {
        fprintf(stderr, "bench_hold: no engine thread found\n");
        return 1;
    }
    rss_open = bench_rss_kib();
    heap_open = heap_bytes();

    maps = calloc((size_t)n, sizeof(*maps));
    t_mapped = bench_now_ms();
    for (int i = 0; i < n; i++) {
        portmap_request r;
        portmap_request_init(&r);
        r.internal_port = (uint16_t)(PORT_BASE + i);
        if (portmap_request_mapping(c, &r, &maps[i]) != PORTMAP_OK) {
            fprintf(stderr, "bench_hold: request %d refused\n", i);
            return 1;
        }
    }
    for (int i = 0; i < n; i++) {
        portmap_mapping_info info;
        if (portmap_mapping_wait(maps[i], 60000, &info) != PORTMAP_OK)
            failed++;
    }
    if (failed) {
        fprintf(stderr, "bench_hold: %d of %d mappings failed\n", failed, n);
        return 1;
    }
    setup_ms = bench_now_ms() - t_mapped;
    t_mapped = bench_now_ms();
    rss_mapped = bench_rss_kib();
    heap_mapped = heap_bytes();

    /* The hold. Whenever nothing is due for a while (every mapping's
     * next renewal is known from its info), the engine's switches are
     * counted from shortly after now to shortly before that: the quiet
     * windows, where it must not wake at all. CPU per renewal is also
     * taken per WINDOW_S seconds. */
    win = calloc((size_t)seconds / WINDOW_S + 2, sizeof(double));
    sleep_until(t_mapped + 200);
    take(c, engine, &a, 1);
    w0 = a;
    for (double t_end = a.t_ms + seconds * 1000.0; bench_now_ms() < t_end;) {
        double due = next_due_ms(maps, n), now = bench_now_ms();
        snap q0, q1;

        if (due > QUIET_MARGIN_MS * 3) {
            sleep_until(now + QUIET_MARGIN_MS);
            take(c, engine, &q0, 0);
            sleep_until(MIN(now + due - QUIET_MARGIN_MS, t_end));
            take(c, engine, &q1, 0);
            quiet_wakes += q1.vol - q0.vol;
            quiet_ms += q1.t_ms - q0.t_ms;
            quiet_windows++;
        }
        /* past the deadline and the round it starts */
        sleep_until(MIN(now + MAX(due, 0) + ROUND_MS, t_end));
        if (bench_now_ms() >= w0.t_ms + WINDOW_S * 1000 || bench_now_ms() >= t_end) {
            snap w;
            take(c, engine, &w, 1);
            if (w.k.renewals > w0.k.renewals)
                win[nwin++] = (double)(w.cpu_ns - w0.cpu_ns) / 1e3 /
                              (double)(w.k.renewals - w0.k.renewals);
            w0 = w;
        }
    }
    end = w0;
    rss_end = bench_rss_kib();
    heap_end = heap_bytes();

    uint64_t renewals = end.k.renewals - a.k.renewals;
    uint64_t sent = end.k.requests_sent - a.k.requests_sent;
    uint64_t replies = end.k.responses - a.k.responses;
    long wakes = end.vol - a.vol;
    bench_stats ws = bench_stats_of(win, nwin);

    printf("Holding %d mappings (%s, %d s lease) on the fake router for %d s\n\n", n, proto,
           lifetime, seconds);
    printf("| %-52s | %24s |\n", "", "value");
    printf("|------------------------------------------------------|--------------------------|\n");
    snprintf(v, sizeof(v), "%.0f ms", setup_ms);
    row("time to map all (requests to the last mapped)", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)renewals);
    row("renewals done", v);
    snprintf(v, sizeof(v), "%llu / %llu",
             (unsigned long long)(end.k.retransmissions - a.k.retransmissions),
             (unsigned long long)(end.k.remaps_after_reset - a.k.remaps_after_reset));
    row("retransmissions / mappings lost and made again", v);
    snprintf(v, sizeof(v), "%.1f us",
             renewals ? (double)(end.cpu_ns - a.cpu_ns) / 1e3 / (double)renewals : 0);
    row("engine CPU per renewal, whole hold", v);
    snprintf(v, sizeof(v), "%.1f us", ws.median);
    row("  per minute of the hold: median", v);
    snprintf(v, sizeof(v), "%.1f-%.1f us", ws.p10, ws.p90);
    row("  per minute of the hold: p10-p90", v);
    snprintf(v, sizeof(v), "%.1f-%.1f us", ws.min, ws.max);
    row("  per minute of the hold: min-max", v);
    snprintf(v, sizeof(v), "%.1f ms", (double)(end.cpu_ns - a.cpu_ns) / 1e6);
    row("engine CPU, whole hold", v);
    snprintf(v, sizeof(v), "%ld (%.3f per renewal)", wakes,
             renewals ? (double)wakes / (double)renewals : 0);
    row("engine wake-ups (voluntary switches), whole hold", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)(sent + replies));
    row("  with a reason: requests sent + replies, at most", v);
    snprintf(v, sizeof(v), "%ld", end.invol - a.invol);
    row("  preemptions (involuntary switches)", v);
    snprintf(v, sizeof(v), "%ld", quiet_wakes);
    row("engine wake-ups while nothing was due", v);
    snprintf(v, sizeof(v), "%d, %.0f s (%.0f %%)", quiet_windows, quiet_ms / 1000,
             100 * quiet_ms / (end.t_ms - a.t_ms));
    row("  quiet windows checked: count, time (share of hold)", v);
    snprintf(v, sizeof(v), "%ld KiB", rss_start);
    row("RSS before the client", v);
    snprintf(v, sizeof(v), "%ld KiB", rss_open);
    row("RSS with the client open", v);
    snprintf(v, sizeof(v), "%ld KiB / %ld KiB", rss_mapped, rss_end);
    row("RSS with the mappings made / at the end", v);
    snprintf(v, sizeof(v), "%.2f KiB", (double)(rss_end - rss_open) / n);
    row("RSS per mapping (end - client open) / N", v);
    snprintf(v, sizeof(v), "%.0f B", ((double)heap_end - (double)heap_open) / n);
    row("heap per mapping (malloc in use, end - open) / N", v);
    snprintf(v, sizeof(v), "%.0f B", ((double)heap_mapped - (double)heap_open) / n);
    row("heap per mapping right after mapping", v);
    printf("\n");
    fflush(stdout);

    /* release on close, bounded by close_timeout_ms */
    portmap_close(&c);
    bench_gw_stop(&gw);
    free(maps);
    free(win);
    return 0;
}
