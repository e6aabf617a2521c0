/*
 * Time to mapped: from portmap_request_mapping() until the mapping is
 * usable (mapped, external address known), next to the bare protocol
 * exchange with no library and the reference tool, interleaved run by
 * run so that noise on the machine hits them alike. Runs in the lab's
 * LAN namespace (bench/run.sh puts it there).
 *
 * usage: bench_mapped pcp|upnp|natpmp|none [RUNS] [TIMEOUT_MS]
 *   pcp     the full lab router (miniupnpd: PCP, NAT-PMP, UPnP)
 *   upnp    the lab's UPnP-only router
 *   natpmp  a NAT-PMP-only fake router in the router namespace (lab
 *           profile none; LAB_NETNS_RTR names the namespace)
 *   none    no router at all (profile none): time to the failure, with
 *           the client's timeout set to TIMEOUT_MS (default 2000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "bench.h"
#include "bench_gw.h"

#define PORT_BASE 30000
#define REPLY_WAIT_MS 3000

/* Every timed item starts after the same quiet time: how long the CPUs
 * have idled changes how fast a sleeping thread wakes up (tens of us on
 * a VM), which at a 0.2 ms round trip is no noise to leave to chance. */
static void settle(void)
{
    usleep(BENCH_SETTLE_MS * 1000);
}

/* ---- libportmap ---- */

typedef struct lib_result {
    double ms;
    int err;
} lib_result;

/* The engine thread's start (1.8-4 ms on a KVM guest, a cost of
 * portmap_open(), see bench_cold) is waited for: timing starts at the
 * request. */
static portmap_client *open_client(int timeout_ms)
{
    portmap_settings s;
    portmap_client *c = NULL;
    pid_t before[256];
    int n = bench_threads(before, 256);

    portmap_default_settings(&s);
    if (timeout_ms > 0)
        s.timeout_ms = timeout_ms;
    if (portmap_open(&c, &s) != PORTMAP_OK)
        return NULL;
    bench_new_thread(before, n);
    return c;
}

/* One request on client c, timed from the call to the wait's return. */
static lib_result lib_request(portmap_client *c, unsigned port)
{
    lib_result res = { -1, PORTMAP_ERR_SYSTEM };
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;
    double t0;

    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    settle();
    t0 = bench_now_ms();
    if (portmap_request_mapping(c, &r, &m) != PORTMAP_OK)
        return res;
    res.err = portmap_mapping_wait(m, 0, &info);
    res.ms = bench_now_ms() - t0;
    /* usable means the address to hand out is known */
    if (res.err == PORTMAP_OK && !info.external_address[0])
        res.err = PORTMAP_ERR_PROTOCOL;
    return res;
}

/* A fresh client: its first request also probes every protocol. */
static lib_result lib_fresh(unsigned port, int timeout_ms)
{
    lib_result res = { -1, PORTMAP_ERR_SYSTEM };
    portmap_client *c = open_client(timeout_ms);

    if (c) {
        res = lib_request(c, port);
        portmap_close(&c); /* releases, untimed */
    }
    return res;
}

/* A client that has mapped before: the router is known. */
static lib_result lib_warm(unsigned port)
{
    lib_result res = { -1, PORTMAP_ERR_SYSTEM };
    portmap_client *c = open_client(0);

    if (c && lib_request(c, port + 5000).err == PORTMAP_OK)
        res = lib_request(c, port);
    portmap_close(&c);
    return res;
}

/* ---- bare exchanges, no library ---- */

/* NAT-PMP: the public address request and the mapping request go out
 * together (two sockets); timed until both answered. With known_addr,
 * the mapping request alone. */
static double bare_natpmp(const char *gw, unsigned port, int known_addr)
{
    uint8_t addr_req[2] = { 0, 0 }, map_req[12] = { 0, 1 }, rsp[64];
    int fa, fm, got = known_addr ? 1 : 0;
    double t0, t = -1;

    bench_put16(map_req + 4, port);
    bench_put16(map_req + 6, port);
    bench_put32(map_req + 8, 3600);
    settle();
    t0 = bench_now_ms();
    fa = bench_udp_to(gw, 5351);
    fm = bench_udp_to(gw, 5351);
    if (fa < 0 || fm < 0 || (!known_addr && send(fa, addr_req, 2, 0) != 2) ||
        send(fm, map_req, 12, 0) != 12)
        goto out;
    while (got != 3) {
        struct pollfd p[2] = { { .fd = fa, .events = POLLIN }, { .fd = fm, .events = POLLIN } };
        if (poll(p, 2, REPLY_WAIT_MS) <= 0)
            goto out;
        for (int i = 0; i < 2; i++) {
            ssize_t n = p[i].revents ? recv(p[i].fd, rsp, sizeof(rsp), 0) : 0;
            if (n >= 12 && rsp[3] == 0 && rsp[1] == (i ? 129 : 128))
                got |= 1 << i;
        }
    }
    t = bench_now_ms() - t0;
    bench_put32(map_req + 8, 0);
    bench_put16(map_req + 6, 0);
    if (send(fm, map_req, 12, 0) == 12)
        bench_recv_wait(fm, rsp, sizeof(rsp), REPLY_WAIT_MS);
out:
    if (fa >= 0)
        close(fa);
    if (fm >= 0)
        close(fm);
    return t;
}

static int tcp_exchange(const char *ip, int port, const char *req, char *resp, size_t cap)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    size_t len = 0;

    inet_pton(AF_INET, ip, &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (send(fd, req, strlen(req), 0) < 0) {
        close(fd);
        return -1;
    }
    resp[0] = '\0';
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char *body, *cl;
        ssize_t n;
        if (poll(&p, 1, REPLY_WAIT_MS) <= 0)
            break;
        n = recv(fd, resp + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        resp[len] = '\0';
        /* whole once Content-Length bytes of body are in */
        body = strstr(resp, "\r\n\r\n");
        cl = strcasestr(resp, "Content-Length:");
        if (body && cl && strlen(body + 4) >= strtoul(cl + 15, NULL, 10))
            break;
    }
    close(fd);
    return (int)len;
}

static int soap(const char *gw, int port, const char *path, const char *action, const char *args,
                char *resp, size_t cap)
{
    char body[1536], req[2560];

    snprintf(body, sizeof(body),
             "<?xml version=\"1.0\"?><s:Envelope "
             "xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
             "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
             "<u:%s xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\">%s</u:%s>"
             "</s:Body></s:Envelope>", action, args, action);
    snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/xml\r\n"
             "SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:2#%s\"\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", path, gw, port, action,
             strlen(body), body);
    if (tcp_exchange(gw, port, req, resp, cap) <= 0 || !strstr(resp, " 200 "))
        return -1;
    return 0;
}

static int upnp_http_port;
static char upnp_ctl[256];

static double bare_soap_add(const char *gw, unsigned port, double t0)
{
    char buf[4096], args[640];
    double t;

    snprintf(args, sizeof(args),
             "<NewRemoteHost></NewRemoteHost><NewExternalPort>%u</NewExternalPort>"
             "<NewProtocol>UDP</NewProtocol><NewInternalPort>%u</NewInternalPort>"
             "<NewInternalClient>%s</NewInternalClient><NewEnabled>1</NewEnabled>"
             "<NewPortMappingDescription>bare</NewPortMappingDescription>"
             "<NewLeaseDuration>3600</NewLeaseDuration>", port, port, BENCH_LAN_IP);
    if (soap(gw, upnp_http_port, upnp_ctl, "AddPortMapping", args, buf, sizeof(buf)) != 0)
        return -1;
    t = bench_now_ms() - t0;
    snprintf(args, sizeof(args), "<NewRemoteHost></NewRemoteHost><NewExternalPort>%u"
             "</NewExternalPort><NewProtocol>UDP</NewProtocol>", port);
    soap(gw, upnp_http_port, upnp_ctl, "DeletePortMapping", args, buf, sizeof(buf));
    return t;
}

/* One M-SEARCH answer, one GET of the description, one AddPortMapping;
 * blocking sockets, parsing only what is needed. The mapping is deleted
 * afterwards, untimed. */
static double bare_upnp(const char *gw, unsigned port)
{
    char buf[16384], req[512], path[256], ctl[256];
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(1900) };
    int fd, lport = 0;
    double t0;
    ssize_t n;
    char *p;

    settle();
    t0 = bench_now_ms();
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    inet_pton(AF_INET, gw, &to.sin_addr);
    snprintf(req, sizeof(req), "M-SEARCH * HTTP/1.1\r\nHOST: %s:1900\r\nMAN: \"ssdp:discover\"\r\n"
             "MX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n\r\n", gw);
    if (sendto(fd, req, strlen(req), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
        close(fd);
        return -1;
    }
    n = bench_recv_wait(fd, (uint8_t *)buf, sizeof(buf) - 1, REPLY_WAIT_MS);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strcasestr(buf, "LOCATION:");
    if (!p || sscanf(p + 9, " http://%*[^:]:%d%255s", &lport, path) != 2)
        return -1;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path,
             gw, lport);
    if (tcp_exchange(gw, lport, req, buf, sizeof(buf)) <= 0)
        return -1;
    p = strstr(buf, "WANIPConnection:");
    p = p ? strstr(p, "<controlURL>") : NULL;
    if (!p || sscanf(p + 12, "%255[^<]", ctl) != 1)
        return -1;
    upnp_http_port = lport;
    snprintf(upnp_ctl, sizeof(upnp_ctl), "%s", ctl);
    return bare_soap_add(gw, port, t0);
}

/* The AddPortMapping call alone, the control URL known (from the last
 * bare_upnp()). */
static double bare_upnp_warm(const char *gw, unsigned port)
{
    if (!upnp_ctl[0])
        return -1;
    settle();
    return bare_soap_add(gw, port, bench_now_ms());
}

/* ---- reference tools ---- */

static double tool_natpmpc(const char *gw, unsigned port)
{
    char ps[16];
    snprintf(ps, sizeof(ps), "%u", port);
    char *add[] = { "natpmpc", "-g", (char *)gw, "-a", ps, ps, "udp", "3600", NULL };
    char *del[] = { "natpmpc", "-g", (char *)gw, "-a", ps, ps, "udp", "0", NULL };
    double t;
    settle();
    t = bench_run(add, NULL);
    bench_run(del, NULL);
    return t;
}

static double tool_upnpc(unsigned port)
{
    char ps[16];
    snprintf(ps, sizeof(ps), "%u", port);
    char *add[] = { "upnpc", "-r", ps, "UDP", NULL };
    char *del[] = { "upnpc", "-d", ps, "UDP", NULL };
    double t;
    settle();
    t = bench_run(add, NULL);
    bench_run(del, NULL);
    return t;
}

/* ---- a fresh process ---- */

static const char *self_exe = "/proc/self/exe";

/* In the child (a new process, exec'ed): open, map port, and write the
 * monotonic time it was mapped at to fd; the mapping is released after. */
static int child_map(unsigned port, int fd)
{
    portmap_client *c = NULL;
    portmap_mapping *m = NULL;
    portmap_request r;
    char line[64];
    int rc, n;

    if (portmap_open(&c, NULL) != PORTMAP_OK)
        return 1;
    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    rc = portmap_request_mapping(c, &r, &m);
    if (rc == PORTMAP_OK)
        rc = portmap_mapping_wait(m, 5000, NULL);
    n = snprintf(line, sizeof(line), "%f\n", rc == PORTMAP_OK ? bench_now_ms() : -1.0);
    if (write(fd, line, (size_t)n) != n)
        rc = -1;
    portmap_close(&c);
    return rc == PORTMAP_OK ? 0 : 1;
}

/* The first mapping of a new process using the library: from fork()
 * to mapped (exec, the libraries' loading, portmap_open(), the request). */
static double lib_process(unsigned port)
{
    char ps[16], fds[16], buf[64] = "";
    double t0, at = -1;
    int p[2], st;
    pid_t pid;

    settle();
    if (pipe(p) != 0)
        return -1;
    snprintf(ps, sizeof(ps), "%u", port);
    snprintf(fds, sizeof(fds), "%d", p[1]);
    t0 = bench_now_ms();
    pid = fork();
    if (pid == 0) {
        execl(self_exe, "bench_mapped", "--child-map", ps, fds, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    if (pid > 0 && read(p[0], buf, sizeof(buf) - 1) > 0)
        at = atof(buf);
    close(p[0]);
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) || at < 0)
        return -1;
    return at - t0;
}

/* portmap-cli request PORT udp --once [-4], the whole process; the
 * mapping released after, outside the timing */
static double cli_process(unsigned port, int v4_only)
{
    const char *cli = getenv("PORTMAP_CLI");
    char ps[16];
    char *req[] = { (char *)cli, "request", ps, "udp", "--once", v4_only ? "-4" : NULL, NULL };
    char *rel[] = { (char *)cli, "release", ps, "udp", NULL };
    double t;

    if (!cli)
        return -1;
    snprintf(ps, sizeof(ps), "%u", port);
    settle();
    t = bench_run(req, NULL);
    bench_run(rel, NULL);
    return t;
}

/* ---- the cases ---- */

enum { C_BARE, C_BARE_PROBES, C_FRESH, C_BARE_WARM, C_WARM, C_TOOL, C_PROC, C_CLI, C_CLI4,
       C_COUNT };

static int check(const char *what, int run, double v, int err)
{
    if (v >= 0 && err == PORTMAP_OK)
        return 0;
    fprintf(stderr, "bench_mapped: run %d: %s failed (%s)\n", run, what,
            err ? portmap_strerror(err) : "no answer");
    return -1;
}

static int time_to_mapped(const char *mode, int runs)
{
    int is_pcp = !strcmp(mode, "pcp"), is_upnp = !strcmp(mode, "upnp");
    double *v[C_COUNT];
    const char *title, *bare_name, *warm_name, *tool_name;
    bench_gw gw = { 0 };
    bench_stats st[C_COUNT];
    int rc = 0;

    if (!is_pcp && !is_upnp) {
        const char *ns = getenv("LAB_NETNS_RTR");
        if (bench_gw_start(&gw, BENCH_GW_NATPMP, ns ? ns : "bn-rtr") != 0)
            return 1;
    }
    for (int k = 0; k < C_COUNT; k++)
        v[k] = calloc((size_t)runs, sizeof(double));
    for (int i = 0; i < runs && rc == 0; i++) {
        unsigned port = PORT_BASE + (unsigned)i * 6;
        lib_result lr;

        /* interleaved, so drift on the machine hits all alike */
        if (is_pcp) {
            v[C_BARE_PROBES][i] = bench_bare_pcp(BENCH_RTR_IP, port + 5, 1);
            rc |= check("bare exchange with probes", i, v[C_BARE_PROBES][i], 0);
        }
        v[C_BARE][i] = is_pcp ? bench_bare_pcp(BENCH_RTR_IP, port, 0)
                     : is_upnp ? bare_upnp(BENCH_RTR_IP, port) : bare_natpmp(BENCH_RTR_IP, port, 0);
        rc |= check("bare exchange", i, v[C_BARE][i], 0);
        lr = lib_fresh(port + 1, 0);
        v[C_FRESH][i] = lr.ms;
        rc |= check("libportmap (fresh client)", i, lr.ms, lr.err);
        v[C_BARE_WARM][i] = is_pcp ? bench_bare_pcp(BENCH_RTR_IP, port + 2, 0)
                          : is_upnp ? bare_upnp_warm(BENCH_RTR_IP, port + 2)
                          : bare_natpmp(BENCH_RTR_IP, port + 2, 1);
        rc |= check("bare exchange (router known)", i, v[C_BARE_WARM][i], 0);
        lr = lib_warm(port + 3);
        v[C_WARM][i] = lr.ms;
        rc |= check("libportmap (warm client)", i, lr.ms, lr.err);
        v[C_TOOL][i] = is_upnp ? tool_upnpc(port + 4) : tool_natpmpc(BENCH_RTR_IP, port + 4);
        rc |= check(is_upnp ? "upnpc -r" : "natpmpc -a", i, v[C_TOOL][i], 0);
        if (is_pcp || is_upnp) {
            v[C_PROC][i] = lib_process(port + 100);
            rc |= check("libportmap (a new process)", i, v[C_PROC][i], 0);
            v[C_CLI][i] = cli_process(port + 101, 0);
            rc |= check("portmap-cli request --once", i, v[C_CLI][i], 0);
            v[C_CLI4][i] = cli_process(port + 102, 1);
            rc |= check("portmap-cli request --once -4", i, v[C_CLI4][i], 0);
        }
    }
    bench_gw_stop(&gw);
    if (rc)
        return 1;
    if (is_pcp) { /* the same exchange: one floor from both places in the run */
        double *pool = calloc((size_t)runs * 2, sizeof(double));
        memcpy(pool, v[C_BARE], (size_t)runs * sizeof(double));
        memcpy(pool + runs, v[C_BARE_WARM], (size_t)runs * sizeof(double));
        st[C_BARE] = st[C_BARE_WARM] = bench_stats_of(pool, runs * 2);
        free(pool);
        for (int k = C_BARE_PROBES; k < C_COUNT; k++)
            if (k != C_BARE_WARM)
                st[k] = bench_stats_of(v[k], runs);
    } else if (!is_upnp) {
        for (int k = 0; k < C_PROC; k++)
            st[k] = bench_stats_of(v[k], runs);
    } else {
        for (int k = 0; k < C_COUNT; k++)
            st[k] = bench_stats_of(v[k], runs);
    }
    title = is_pcp ? "full router (miniupnpd, PCP answers)"
          : is_upnp ? "UPnP-only router (miniupnpd)" : "NAT-PMP-only router (fake gateway)";
    bare_name = is_pcp ? "bare PCP MAP round trip (floor, 2/run)"
              : is_upnp ? "bare M-SEARCH+GET+AddPortMapping (floor)"
              : "bare NAT-PMP address+MAP (floor)";
    warm_name = is_upnp ? "bare AddPortMapping alone (warm floor)"
              : "bare NAT-PMP MAP alone (warm floor)";
    tool_name = is_upnp ? "upnpc -r (whole process)" : "natpmpc -a (whole process)";
    printf("Time to mapped, %s, %d runs each, interleaved\n\n", title, runs);
    bench_table_head("", "ms");
    bench_table_row(bare_name, &st[C_BARE], &st[C_BARE]);
    if (is_pcp)
        bench_table_row("bare MAP, then a fresh client's probes", &st[C_BARE_PROBES], &st[C_BARE]);
    bench_table_row("libportmap, fresh client", &st[C_FRESH], &st[C_BARE]);
    if (!is_pcp)
        bench_table_row(warm_name, &st[C_BARE_WARM], &st[C_BARE_WARM]);
    bench_table_row("libportmap, warm client", &st[C_WARM], &st[C_BARE_WARM]);
    bench_table_row(tool_name, &st[C_TOOL], &st[C_BARE]);
    if (is_pcp || is_upnp) {
        bench_table_row("libportmap, a new process: fork to mapped", &st[C_PROC], &st[C_BARE]);
        bench_table_row("portmap-cli request --once (whole process)", &st[C_CLI], &st[C_BARE]);
        bench_table_row("portmap-cli request --once -4 (whole process)", &st[C_CLI4], &st[C_BARE]);
    }
    printf("\n");
    return 0;
}

static int no_router(int runs, int timeout_ms)
{
    double *v = calloc((size_t)runs, sizeof(double));
    int late = 0, wrong = 0, last_err = 0;
    bench_stats st;

    for (int i = 0; i < runs; i++) {
        lib_result lr = lib_fresh(PORT_BASE + (unsigned)i, timeout_ms);
        v[i] = lr.ms;
        last_err = lr.err;
        if (lr.err == PORTMAP_OK || lr.err == PORTMAP_ERR_TIMEOUT)
            wrong++; /* mapped on no router, or the wait ran out first */
        if (lr.ms > timeout_ms)
            late++;
    }
    st = bench_stats_of(v, runs);
    printf("Time to a clear failure, no router (lab profile none), client timeout %d ms, "
           "%d runs\n\n", timeout_ms, runs);
    bench_table_head("", "ms");
    bench_table_row("libportmap request -> failed", &st, NULL);
    printf("\nerror: %s; runs later than the timeout: %d of %d (latest %+.2f ms); "
           "runs without a failure: %d\n\n", portmap_strerror(last_err), late, runs,
           st.max - timeout_ms, wrong);
    return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    int timeout_ms = argc > 3 ? atoi(argv[3]) : 2000;

    if (argc == 4 && !strcmp(argv[1], "--child-map"))
        return child_map((unsigned)atoi(argv[2]), atoi(argv[3]));
    if (runs < 1 || timeout_ms < 1) {
        fprintf(stderr, "usage: bench_mapped pcp|upnp|natpmp|none [RUNS] [TIMEOUT_MS]\n");
        return 2;
    }
    bench_state_dir("mapped");
    if (!strcmp(mode, "none"))
        return no_router(runs, timeout_ms);
    if (!strcmp(mode, "pcp") || !strcmp(mode, "upnp") || !strcmp(mode, "natpmp"))
        return time_to_mapped(mode, runs);
    fprintf(stderr, "usage: bench_mapped pcp|upnp|natpmp|none [RUNS] [TIMEOUT_MS]\n");
    return 2;
}
