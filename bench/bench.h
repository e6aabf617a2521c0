/*
 * Helpers shared by the benchmark programs: clocks, the statistics and
 * tables they print, child processes, /proc readings and the lab's
 * namespaces. Nothing here knows libportmap.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_LAN_IP "10.77.0.2"
#define BENCH_RTR_IP "10.77.0.1"

double bench_now_ms(void);
/* Process CPU time (all threads), ms. */
double bench_cpu_ms(void);

/* Median and spread of n samples (sorted in place). */
typedef struct bench_stats {
    int n;
    double median, p10, p90, min, max;
} bench_stats;
bench_stats bench_stats_of(double *v, int n);

/* A table: a header naming the unit, then rows of one sample set each;
 * ref (may be NULL) gives the "x ref" column: median / ref median. */
void bench_table_head(const char *first_col, const char *unit);
void bench_table_row(const char *name, const bench_stats *s, const bench_stats *ref);

/* Run argv with stdout and stderr on /dev/null; wall ms or -1 when it
 * failed. cpu_ms (may be NULL) gets the child's user+system time. */
double bench_run(char *const argv[], double *cpu_ms);

/* Enter the network namespace /run/netns/NAME; 0 on success. */
int bench_enter_netns(const char *name);

/* The state directory for the library's journal: on tmpfs like a real
 * /run, fresh, removed at exit. */
void bench_state_dir(const char *tag);

/* /proc/self/status VmRSS in KiB. */
long bench_rss_kib(void);
/* Thread ids of this process, up to max; returns the count. */
int bench_threads(pid_t *out, int max);
/* The thread that is not among before[] (taken with bench_threads()
 * before portmap_open(): the client's engine), once it has started and
 * sleeps (in poll()); 0 when none did within a second. */
pid_t bench_new_thread(const pid_t *before, int n_before);
/* The thread's CPU time in ns (its per-thread CPU clock). */
int64_t bench_thread_cpu_ns(pid_t tid);
/* voluntary and involuntary context switches of the thread. */
int bench_thread_switches(pid_t tid, long *vol, long *invol);

/* Every timed item starts after this much quiet (bench_mapped.c says why) */
#define BENCH_SETTLE_MS 20

/* bench_bare.c: a UDP socket connected to ip:port (-1 on failure); a
 * datagram within ms (-1 when none); big-endian stores */
int bench_udp_to(const char *ip, int port);
ssize_t bench_recv_wait(int fd, uint8_t *buf, size_t cap, int ms);
void bench_put16(uint8_t *p, unsigned v);
void bench_put32(uint8_t *p, uint32_t v);
/* One bare PCP MAP round trip to gw for UDP port (ms, -1 on failure),
 * from the socket's creation to the success; with probes, the datagrams
 * of a fresh client's probes follow the MAP. The mapping is deleted
 * afterwards, untimed. */
double bench_bare_pcp(const char *gw, unsigned port, int probes);

#endif
