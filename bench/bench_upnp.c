/*
 * Time to a working mapping on a UPnP-IGD router, three ways, in one run:
 *   lib   libportmap: portmap_request_mapping() until mapped (fresh client,
 *         method auto: PCP and NAT-PMP are probed too)
 *   floor the bare protocol exchange with no library: one M-SEARCH answer,
 *         one GET of the description, one AddPortMapping SOAP call
 *   upnpc the reference tool, `upnpc -r PORT UDP`
 * Run inside the lab's LAN namespace (bench/run-upnp.sh does).
 * usage: bench_upnp RUNS GATEWAY
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <portmap/portmap.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *name, double *v, int n, double floor_median)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("| %-28s | %8.1f | %8.1f | %8.1f | %6.2fx |\n", name, med, v[0], v[n - 1],
           floor_median > 0 ? med / floor_median : 1.0);
}

/* ---- the bare exchange ---- */

static int tcp_exchange(const char *ip, int port, const char *req, char *resp, size_t cap)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t len = 0;

    inet_pton(AF_INET, ip, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    send(fd, req, strlen(req), 0);
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;
        if (poll(&p, 1, 3000) <= 0)
            break;
        n = recv(fd, resp + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        resp[len] = '\0';
        /* Content-Length complete? */
        char *body = strstr(resp, "\r\n\r\n"), *cl = strcasestr(resp, "Content-Length:");
        if (body && cl && strlen(body + 4) >= strtoul(cl + 15, NULL, 10))
            break;
    }
    close(fd);
    resp[len] = '\0';
    return (int)len;
}

static double bare_once(const char *gw, unsigned port, char *ctl_path, size_t ctl_cap)
{
    char buf[16384], req[2048], path[256], body[1024];
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(1900) };
    int fd = socket(AF_INET, SOCK_DGRAM, 0), lport = 0;
    double t0 = now_ms();
    char *p;

    inet_pton(AF_INET, gw, &to.sin_addr);
    snprintf(req, sizeof(req), "M-SEARCH * HTTP/1.1\r\nHOST: %s:1900\r\nMAN: \"ssdp:discover\"\r\n"
             "MX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n\r\n", gw);
    sendto(fd, req, strlen(req), 0, (struct sockaddr *)&to, sizeof(to));
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    if (poll(&pf, 1, 3000) <= 0)
        return -1;
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strcasestr(buf, "LOCATION:");
    if (!p || sscanf(p + 9, " http://%*[^:]:%d%255s", &lport, path) != 2)
        return -1;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path, gw, lport);
    if (tcp_exchange(gw, lport, req, buf, sizeof(buf)) <= 0)
        return -1;
    /* the control URL of WANIPConnection */
    p = strstr(buf, "WANIPConnection:");
    p = p ? strstr(p, "<controlURL>") : NULL;
    if (!p || sscanf(p + 12, "%255[^<]", ctl_path) != 1)
        return -1;
    (void)ctl_cap;
    snprintf(body, sizeof(body),
             "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
             "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
             "<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\">"
             "<NewRemoteHost></NewRemoteHost><NewExternalPort>%u</NewExternalPort>"
             "<NewProtocol>UDP</NewProtocol><NewInternalPort>%u</NewInternalPort>"
             "<NewInternalClient>10.77.0.2</NewInternalClient><NewEnabled>1</NewEnabled>"
             "<NewPortMappingDescription>bare</NewPortMappingDescription>"
             "<NewLeaseDuration>3600</NewLeaseDuration></u:AddPortMapping></s:Body></s:Envelope>",
             port, port);
    snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/xml\r\n"
             "SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:2#AddPortMapping\"\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", ctl_path, gw, lport, strlen(body), body);
    if (tcp_exchange(gw, lport, req, buf, sizeof(buf)) <= 0 || !strstr(buf, " 200 "))
        return -1;
    return now_ms() - t0;
}

static double lib_once(unsigned port)
{
    portmap_client *c = NULL;
    portmap_mapping *m = NULL;
    portmap_request r;
    double t0, t;

    if (portmap_open(&c, NULL) != PORTMAP_OK)
        return -1;
    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    t0 = now_ms();
    portmap_request_mapping(c, &r, &m);
    if (portmap_mapping_wait(m, 10000, NULL) != PORTMAP_OK) {
        portmap_close(&c);
        return -1;
    }
    t = now_ms() - t0;
    portmap_close(&c); /* releases */
    return t;
}

static double run_cmd(char *const argv[])
{
    double t0 = now_ms();
    int st;
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execvp(argv[0], argv);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? now_ms() - t0 : -1;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20;
    const char *gw = argc > 2 ? argv[2] : "10.77.0.1";
    double *lib = calloc((size_t)runs, sizeof(double)), *bare = calloc((size_t)runs, sizeof(double));
    double *upnpc = calloc((size_t)runs, sizeof(double));
    char ctl[256];
    setenv("PORTMAP_STATE_DIR", "/run/pm-bench-state", 1); /* tmpfs, as /run/portmap */

    for (int i = 0; i < runs; i++) {
        unsigned port = 30000 + (unsigned)i;
        char ps[16];
        /* interleaved, so drift on the machine hits all three alike */
        bare[i] = bare_once(gw, port, ctl, sizeof(ctl));
        snprintf(ps, sizeof(ps), "%u", port);
        char *del[] = { "upnpc", "-d", ps, "UDP", NULL };
        run_cmd(del);
        lib[i] = lib_once(port + 1000);
        snprintf(ps, sizeof(ps), "%u", port + 2000);
        char *add[] = { "upnpc", "-r", ps, "UDP", NULL };
        upnpc[i] = run_cmd(add);
        char *del2[] = { "upnpc", "-d", ps, "UDP", NULL };
        run_cmd(del2);
        if (bare[i] < 0 || lib[i] < 0 || upnpc[i] < 0) {
            fprintf(stderr, "run %d failed (bare %.1f lib %.1f upnpc %.1f)\n", i, bare[i], lib[i], upnpc[i]);
            return 1;
        }
    }
    qsort(bare, (size_t)runs, sizeof(double), cmp);
    double floor_med = runs % 2 ? bare[runs / 2] : (bare[runs / 2 - 1] + bare[runs / 2]) / 2;
    printf("UPnP-only router, %d runs each, milliseconds\n\n", runs);
    printf("| %-28s | %8s | %8s | %8s | %7s |\n", "", "median", "min", "max", "/floor");
    printf("|------------------------------|----------|----------|----------|---------|\n");
    stats("bare exchange (floor)", bare, runs, floor_med);
    stats("libportmap request->mapped", lib, runs, floor_med);
    stats("upnpc -r (whole process)", upnpc, runs, floor_med);
    return 0;
}
