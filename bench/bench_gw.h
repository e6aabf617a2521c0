/* The benchmarks' fake router; see bench_gw.c. */
#ifndef BENCH_GW_H
#define BENCH_GW_H

#include <sys/types.h>

enum {
    BENCH_GW_PCP = 1,    /* PCP and NAT-PMP, as miniupnpd */
    BENCH_GW_NATPMP = 2, /* NAT-PMP only: PCP is answered "unsupported version" */
};

typedef struct bench_gw {
    pid_t pid;
    int hold_fd;
} bench_gw;

/* Start the fake router in the namespace rtr_netns (no miniupnpd may run
 * there, lab profile `none`); returns once it is listening. */
int bench_gw_start(bench_gw *gw, int mode, const char *rtr_netns);
void bench_gw_stop(bench_gw *gw);

#endif
