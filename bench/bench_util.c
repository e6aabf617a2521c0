#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double bench_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Linear interpolation between the closest ranks. */
static double quantile(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (v[i + 1] - v[i]) * (pos - i);
}

bench_stats bench_stats_of(double *v, int n)
{
    bench_stats s = { .n = n };
    if (n <= 0)
        return s;
    qsort(v, (size_t)n, sizeof(*v), cmp);
    s.median = quantile(v, n, 0.5);
    s.p10 = quantile(v, n, 0.1);
    s.p90 = quantile(v, n, 0.9);
    s.min = v[0];
    s.max = v[n - 1];
    return s;
}

void bench_table_head(const char *first_col, const char *unit)
{
    char h[64];
    snprintf(h, sizeof(h), "%s (%s)", first_col, unit);
    printf("| %-40s | %9s | %9s | %9s | %9s | %9s | %7s |\n", h, "median", "p10", "p90", "min",
           "max", "x ref");
    printf("|------------------------------------------|-----------|-----------|-----------|"
           "-----------|-----------|---------|\n");
}

static void cell(double v)
{
    if (v >= 100)
        printf(" %9.1f |", v);
    else if (v >= 1)
        printf(" %9.2f |", v);
    else
        printf(" %9.3f |", v);
}

void bench_table_row(const char *name, const bench_stats *s, const bench_stats *ref)
{
    printf("| %-40s |", name);
    cell(s->median);
    cell(s->p10);
    cell(s->p90);
    cell(s->min);
    cell(s->max);
    if (ref && ref->median > 0)
        printf(" %6.2fx |\n", s->median / ref->median);
    else
        printf(" %7s |\n", ref ? "-" : "");
    fflush(stdout);
}

double bench_run(char *const argv[], double *cpu_ms)
{
    struct rusage ru;
    double t0 = bench_now_ms(), t;
    int st;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (wait4(pid, &st, 0, &ru) < 0)
        return -1;
    t = bench_now_ms() - t0;
    if (cpu_ms)
        *cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : -1;
}

int bench_enter_netns(const char *name)
{
    char path[256];
    int fd, rc;

    snprintf(path, sizeof(path), "/run/netns/%s", name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

static char state_dir[256];

static void remove_state_dir(void)
{
    char cmd[300];
    if (!state_dir[0])
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", state_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", state_dir);
}

void bench_state_dir(const char *tag)
{
    struct statfs sf;
    const char *base = "/run";

    /* Debian's /run is tmpfs; a container's may be on disk, where every
     * new mapping's journal fsync would be measured instead of the
     * library. */
    if (statfs(base, &sf) != 0 || sf.f_type != TMPFS_MAGIC)
        base = "/dev/shm";
    snprintf(state_dir, sizeof(state_dir), "%s/pm-bench-%s-%d", base, tag, (int)getpid());
    setenv("PORTMAP_STATE_DIR", state_dir, 1);
    atexit(remove_state_dir);
}

long bench_rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

int bench_threads(pid_t *out, int max)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) && n < max)
        if (e->d_name[0] != '.')
            out[n++] = (pid_t)atoi(e->d_name);
    closedir(d);
    return n;
}

int64_t bench_thread_cpu_ns(pid_t tid)
{
    /* The kernel's per-thread CPU clock id (what pthread_getcpuclockid
     * makes): ~tid << 3 | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED. */
    clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 6);
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_thread_switches(pid_t tid, long *vol, long *invol)
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    *vol = *invol = -1;
    while (fgets(line, sizeof(line), f)) {
        sscanf(line, "voluntary_ctxt_switches: %ld", vol);
        sscanf(line, "nonvoluntary_ctxt_switches: %ld", invol);
    }
    fclose(f);
    return *vol >= 0 && *invol >= 0 ? 0 : -1;
}

static char thread_state(pid_t tid)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    f = fopen(path, "re");
    if (!f)
        return '?';
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

pid_t bench_new_thread(const pid_t *before, int n_before)
{
    double deadline = bench_now_ms() + 1000;

    while (bench_now_ms() < deadline) {
        pid_t now[256];
        int n = bench_threads(now, 256);
        for (int i = 0; i < n; i++) {
            int known = 0;
            for (int j = 0; j < n_before; j++)
                known |= now[i] == before[j];
            if (!known && thread_state(now[i]) == 'S')
                return now[i];
        }
        usleep(200);
    }
    return 0;
}
