/*
 * Cold start: a new process creates a client and runs a first discovery
 * (every protocol probed; on the full lab router all three answer and the
 * UPnP external address is fetched too). Each run is a fresh process, so
 * loading the libraries counts in the whole-process figures. Runs in the
 * lab's LAN namespace (bench/run.sh puts it there).
 *
 * usage: bench_cold [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "bench.h"

enum { OPEN_WALL, OPEN_CPU, DISC_WALL, DISC_CPU, PROC_WALL, PROC_CPU, N_VALUES };

/* In the child: one open and one discovery, figures on fd out. */
static int child(int out)
{
    portmap_client *c = NULL;
    portmap_discovery d;
    double w0 = bench_now_ms(), c0 = bench_cpu_ms(), w1, c1, w2, c2;
    char line[256];
    int rc, n;

    if (portmap_open(&c, NULL) != PORTMAP_OK)
        return 1;
    w1 = bench_now_ms();
    c1 = bench_cpu_ms();
    rc = portmap_discover(c, &d, 0, 0);
    w2 = bench_now_ms();
    c2 = bench_cpu_ms();
    portmap_close(&c);
    if (rc != PORTMAP_OK || d.methods != (PORTMAP_HAVE(PORTMAP_METHOD_PCP) |
                                          PORTMAP_HAVE(PORTMAP_METHOD_NATPMP) |
                                          PORTMAP_HAVE(PORTMAP_METHOD_UPNP)) ||
        !d.external_address[0]) {
        fprintf(stderr, "bench_cold: discovery: %s, methods 0x%x, address '%s'\n",
                portmap_strerror(rc), d.methods, d.external_address);
        return 1;
    }
    n = snprintf(line, sizeof(line), "%f %f %f %f\n", w1 - w0, c1 - c0, w2 - w1, c2 - c1);
    return write(out, line, (size_t)n) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    int runs = 20;
    double *v[N_VALUES];
    bench_stats st[N_VALUES];

    if (argc > 2 && !strcmp(argv[1], "--child"))
        return child(atoi(argv[2]));
    if (argc > 1)
        runs = atoi(argv[1]);
    if (runs < 1) {
        fprintf(stderr, "usage: bench_cold [RUNS]\n");
        return 2;
    }
    bench_state_dir("cold");
    for (int k = 0; k < N_VALUES; k++)
        v[k] = calloc((size_t)runs, sizeof(double));
    for (int i = 0; i < runs; i++) {
        char fdarg[16], line[256] = "";
        int p[2], st_code;
        struct rusage ru;
        double t0;
        pid_t pid;
        ssize_t got;

        if (pipe(p) != 0)
            return 1;
        t0 = bench_now_ms();
        pid = fork();
        if (pid == 0) {
            close(p[0]);
            snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
            execl("/proc/self/exe", argv[0], "--child", fdarg, (char *)NULL);
            _exit(127);
        }
        close(p[1]);
        got = read(p[0], line, sizeof(line) - 1);
        close(p[0]);
        if (pid < 0 || wait4(pid, &st_code, 0, &ru) < 0 || !WIFEXITED(st_code) ||
            WEXITSTATUS(st_code) != 0 || got <= 0 ||
            sscanf(line, "%lf %lf %lf %lf", &v[OPEN_WALL][i], &v[OPEN_CPU][i], &v[DISC_WALL][i],
                   &v[DISC_CPU][i]) != 4) {
            fprintf(stderr, "bench_cold: run %d failed\n", i);
            return 1;
        }
        v[PROC_WALL][i] = bench_now_ms() - t0;
        v[PROC_CPU][i] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    }
    for (int k = 0; k < N_VALUES; k++)
        st[k] = bench_stats_of(v[k], runs);
    printf("Cold start on the full router, a new process each run, %d runs\n\n", runs);
    bench_table_head("", "ms");
    bench_table_row("portmap_open(), wall", &st[OPEN_WALL], NULL);
    bench_table_row("portmap_open(), CPU", &st[OPEN_CPU], NULL);
    bench_table_row("first portmap_discover(), wall", &st[DISC_WALL], NULL);
    bench_table_row("first portmap_discover(), CPU", &st[DISC_CPU], NULL);
    bench_table_row("whole process (exec to exit), wall", &st[PROC_WALL], NULL);
    bench_table_row("whole process (exec to exit), CPU", &st[PROC_CPU], NULL);
    printf("\n");
    return 0;
}
