/*
 * Suite: lab integration. Runs inside the lab's LAN namespace (see
 * tests/lab/run-lab-tests.sh) against a real miniupnpd in the router
 * namespace. Each test checks what the router really did: the DNAT rule
 * in nft, and a WAN host reaching a service on this host through it.
 *
 * Environment: LAB (path of lab.sh), LAB_PROBE (lab-probe), PORTMAP_CLI,
 * GAME_SERVER and EVENT_PIPE (the examples), LAB_SPOOF (lab-spoof).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <portmap/portmap.h>

#include "check_main.h"

#define WAN_ADDR "11.77.0.1"
#define WAN2_ADDR "12.77.0.1" /* the second router's (lab.sh router2) */
#define LAN6_ADDR "2001:db8:77:1::2" /* the LAN host's stable IPv6 address */

static const char *lab, *probe, *cli, *game_server, *event_pipe, *spoof;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int has_rule(const char *proto, unsigned port)
{
    return run("'%s' has-rule %s %u", lab, proto, port) == 0;
}

static int has_pinhole(const char *proto, const char *addr, unsigned port)
{
    return run("'%s' has-pinhole %s %s %u", lab, proto, addr, port) == 0;
}

/* Gone within 5 s: miniupnpd 2.3.1 will not delete a renewed PCP pinhole,
 * so the library cuts its lease to the router's minimum (the lab's is
 * 1 s) and the router lets it run out. */
static int pinhole_gone(const char *proto, const char *addr, unsigned port)
{
    for (int i = 0; i < 50; i++) {
        if (!has_pinhole(proto, addr, port))
            return 1;
        usleep(100000);
    }
    return 0;
}

/* A failed assertion ends a test at once (its process exits without
 * running atexit handlers): a test that changes the lab (second host,
 * second router) says so in this file until it has put everything back,
 * and the next test tidies up after one that could not. */
static char state_dir[] = "/tmp/pm-lab-state-XXXXXX"; /* the journal's, and ours */
static char lab_changed_file[64];

static void lab_changed(void)
{
    FILE *f = fopen(lab_changed_file, "w");
    if (f)
        fclose(f);
}

static void lab_restored(void)
{
    unlink(lab_changed_file);
}

static void tidy_lab(void)
{
    if (access(lab_changed_file, F_OK) != 0)
        return;
    run("'%s' loss 0; '%s' spoofer down; '%s' router2 down", lab, lab, lab);
    lab_restored();
}

static void on_log(void *user, portmap_log_level level, const char *msg)
{
    fprintf(stderr, "  [portmap %d] %s\n", level, msg);
}

static portmap_client *open_client(portmap_method only, int timeout_ms)
{
    portmap_settings s;
    portmap_client *c = NULL;

    portmap_default_settings(&s);
    if (only)
        s.methods[0] = only;
    s.timeout_ms = timeout_ms;
    s.log_callback = on_log;
    s.log_level = PORTMAP_LOG_INFO;
    ck_assert_int_eq(portmap_open(&c, &s), PORTMAP_OK);
    return c;
}

/* An echo service on this (LAN) host for the WAN host to reach. */
typedef struct echo {
    int fd;
    int tcp;
    pthread_t th;
} echo;

static void *echo_main(void *arg)
{
    echo *e = arg;
    char buf[256];
    struct pollfd p = { .fd = e->fd, .events = POLLIN };

    while (poll(&p, 1, 15000) > 0) {
        if (e->tcp) {
            int s = accept(e->fd, NULL, NULL);
            ssize_t n;
            if (s < 0)
                break;
            n = recv(s, buf, sizeof(buf), 0);
            if (n > 0)
                send(s, buf, (size_t)n, MSG_NOSIGNAL);
            close(s);
        } else {
            struct sockaddr_storage from;
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(e->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
            if (n > 0)
                sendto(e->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        }
    }
    return NULL;
}

/* Dual stack: reached over IPv4 through a mapping, over IPv6 through a
 * pinhole. */
static void echo_start(echo *e, int tcp, unsigned port)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                               .sin6_addr = IN6ADDR_ANY_INIT };
    int one = 1, zero = 0;

    e->tcp = tcp;
    e->fd = socket(AF_INET6, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    ck_assert_int_ge(e->fd, 0);
    setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(e->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    ck_assert_int_eq(bind(e->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (tcp)
        ck_assert_int_eq(listen(e->fd, 4), 0);
    ck_assert_int_eq(pthread_create(&e->th, NULL, echo_main, e), 0);
}

/* IPv6 only, on one address of ours */
static void echo_start_on(echo *e, int tcp, unsigned port, const char *addr6)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
    int one = 1;

    e->tcp = tcp;
    e->fd = socket(AF_INET6, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    ck_assert_int_ge(e->fd, 0);
    setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_int_eq(inet_pton(AF_INET6, addr6, &sa.sin6_addr), 1);
    ck_assert_int_eq(bind(e->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (tcp)
        ck_assert_int_eq(listen(e->fd, 4), 0);
    ck_assert_int_eq(pthread_create(&e->th, NULL, echo_main, e), 0);
}

static void echo_stop(echo *e)
{
    shutdown(e->fd, SHUT_RDWR);
    close(e->fd);
    pthread_cancel(e->th);
    pthread_join(e->th, NULL);
}

static int wan_reaches_at(const char *addr, const char *proto, unsigned ext_port)
{
    return run("ip netns exec ${LAB_PREFIX:-pm}-wan '%s' send %s %s %u hello-%u --timeout 3", probe,
               proto, addr, ext_port, ext_port) == 0;
}

static int wan_reaches(const char *proto, unsigned ext_port)
{
    return wan_reaches_at(WAN_ADDR, proto, ext_port);
}

/* Map, check the rule and reachability from the WAN, release, check gone. */
static void map_and_check(portmap_method method, portmap_transport proto, unsigned port)
{
    const char *pname = proto == PORTMAP_TCP ? "tcp" : "udp";
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;
    echo e;

    echo_start(&e, proto == PORTMAP_TCP, port);
    portmap_request_init(&r);
    r.protocol = proto;
    r.internal_port = (uint16_t)port;
    r.lifetime = 600;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, method);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_uint_ne(info.external_port, 0);
    ck_assert_uint_gt(info.lifetime, 0);
    ck_assert_msg(has_rule(pname, info.external_port), "no DNAT rule for %s %u", pname,
                  info.external_port);
    ck_assert_msg(wan_reaches(pname, info.external_port), "WAN host cannot reach %s %u", pname,
                  info.external_port);
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert_ptr_null(m);
    ck_assert_msg(!has_rule(pname, info.external_port), "rule still there after release");
    ck_assert_msg(!wan_reaches(pname, info.external_port), "still reachable after release");
    echo_stop(&e);
    portmap_close(&c);
    ck_assert_ptr_null(c);
}

/* allow: with the WAN host as the one allowed it gets through; with
 * another address in its place it does not, though the mapping is there.
 * Reachability is the only honest check: miniupnpd 2.3.1 applies the
 * remote host in its filter rule but lists it as "" in its table. (UPnP
 * only: it confirms a PCP FILTER but its nftables rules do not apply it;
 * the FILTER on the wire is checked in test_fakegw.) */
static void allow_check(portmap_method method, unsigned port)
{
    static const char *const allowed[] = { "11.77.0.2", "11.77.0.99" };
    portmap_client *c = open_client(method, 5000);
    echo e;

    echo_start(&e, 1, port);
    for (int i = 0; i < 2; i++) {
        portmap_mapping *m = NULL;
        portmap_mapping_info info;
        portmap_request r;

        portmap_request_init(&r);
        r.protocol = PORTMAP_TCP;
        r.internal_port = (uint16_t)port;
        r.lifetime = 600;
        r.allow = allowed[i];
        ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
        ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
        ck_assert(has_rule("tcp", info.external_port));
        ck_assert_msg(wan_reaches("tcp", info.external_port) == (i == 0),
                      "allow %s: the WAN host 11.77.0.2 %s", allowed[i],
                      i == 0 ? "cannot connect" : "connects all the same");
        /* the release names the remote host, or the router keeps the entry */
        ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
        ck_assert_msg(!has_rule("tcp", info.external_port), "rule left after release");
    }
    echo_stop(&e);
    portmap_close(&c);
}

START_TEST(upnp_allow_is_enforced) { allow_check(PORTMAP_METHOD_UPNP, 27120); }
END_TEST

START_TEST(pcp_udp) { map_and_check(PORTMAP_METHOD_PCP, PORTMAP_UDP, 27015); }
END_TEST
START_TEST(pcp_tcp) { map_and_check(PORTMAP_METHOD_PCP, PORTMAP_TCP, 27016); }
END_TEST
START_TEST(natpmp_udp) { map_and_check(PORTMAP_METHOD_NATPMP, PORTMAP_UDP, 27017); }
END_TEST
START_TEST(natpmp_tcp) { map_and_check(PORTMAP_METHOD_NATPMP, PORTMAP_TCP, 27018); }
END_TEST

START_TEST(discover_prefers_pcp)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 5000);
    portmap_discovery d;
    char ip[PORTMAP_ADDRSTRLEN];

    ck_assert_int_eq(portmap_discover(c, &d, 0, 5000), PORTMAP_OK);
    ck_assert_str_eq(d.gateway, "10.77.0.1");
    ck_assert_str_eq(d.local_address, "10.77.0.2");
    ck_assert_str_eq(d.external_address, WAN_ADDR);
    ck_assert(d.methods & PORTMAP_HAVE(PORTMAP_METHOD_PCP));
    ck_assert(d.methods & PORTMAP_HAVE(PORTMAP_METHOD_NATPMP));
    ck_assert(d.methods & PORTMAP_HAVE(PORTMAP_METHOD_UPNP));
    ck_assert_int_eq(d.upnp_version, 2);
    ck_assert_int_eq(d.preferred, PORTMAP_METHOD_PCP);
    ck_assert_int_eq(d.pcp_version, 2);
    ck_assert_int_eq(portmap_external_ip(c, ip, sizeof(ip), 5000), PORTMAP_OK);
    ck_assert_str_eq(ip, WAN_ADDR);
    portmap_close(&c);
}
END_TEST

START_TEST(external_ip_over_pcp_only)
{
    portmap_client *c = open_client(PORTMAP_METHOD_PCP, 5000);
    char ip[PORTMAP_ADDRSTRLEN];

    ck_assert_int_eq(portmap_external_ip(c, ip, sizeof(ip), 5000), PORTMAP_OK);
    ck_assert_str_eq(ip, WAN_ADDR);
    portmap_close(&c);
    /* the probe mapping of the discard port was deleted again */
    ck_assert(!has_rule("udp", 9));
}
END_TEST

/* A router reboot (chains flushed, leases gone) while a mapping is held:
 * the library must put it back by itself within limit_ms of the router
 * answering again. Returns the client's counters for the caller's checks. */
static portmap_counters reboot_and_wait(portmap_method method, unsigned port, uint32_t lifetime,
                                        int64_t limit_ms)
{
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_counters k;
    portmap_request r;
    int64_t t0;

    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    r.lifetime = lifetime;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert(has_rule("udp", info.external_port));
    ck_assert_int_eq(run("'%s' router-crash", lab), 0);
    ck_assert_msg(!has_rule("udp", info.external_port), "the crash did not flush the rules");
    /* miniupnpd's BOOTID.UPNP.ORG is its start time in seconds: a reboot
     * within the second of the previous test's would keep it */
    usleep(1100000);
    ck_assert_int_eq(run("'%s' router-start", lab), 0); /* returns once it answers */
    t0 = now_ms();
    while (!has_rule("udp", info.external_port) && now_ms() - t0 < limit_ms)
        usleep(100000);
    ck_assert_msg(has_rule("udp", info.external_port), "%s mapping not back within %lld ms",
                  portmap_method_name(method), (long long)limit_ms);
    fprintf(stderr, "  %s: back %lld ms after the router answered again\n",
            portmap_method_name(method), (long long)(now_ms() - t0));
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_get_counters(c, &k), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(!has_rule("udp", info.external_port));
    portmap_close(&c);
    return k;
}

/* A short lease: a renewal, due within 5/8 of 20 s, finds the reboot at
 * the latest. */
static void survive_reboot(portmap_method method, unsigned port)
{
    reboot_and_wait(method, port, 20, 20000);
}

/* With leases far from renewal, only the router's announcement when it
 * comes back (miniupnpd sends a PCP ANNOUNCE to 224.0.0.1:5350, and SSDP
 * NOTIFY with a new BOOTID.UPNP.ORG, the only one on a UPnP-only router)
 * can bring the mappings back quickly; whatever their protocol, in 10 s. */
static void announced_reboot(portmap_method method, unsigned port)
{
    portmap_counters k = reboot_and_wait(method, port, 7200, 10000);
    ck_assert_uint_ge(k.announcements, 1);
}

START_TEST(pcp_announced_reboot) { announced_reboot(PORTMAP_METHOD_PCP, 27022); }
END_TEST
START_TEST(natpmp_announced_reboot) { announced_reboot(PORTMAP_METHOD_NATPMP, 27023); }
END_TEST
START_TEST(upnp_announced_reboot) { announced_reboot(PORTMAP_METHOD_UPNP, 27024); }
END_TEST

/* Events seen by a mapping's callback (engine thread), with the external
 * address of the last one. */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int ev_count[PORTMAP_EVENT_FAILED + 1];
static char ev_addr[PORTMAP_ADDRSTRLEN];

static void count_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                        void *user)
{
    (void)m;
    (void)user;
    pthread_mutex_lock(&ev_lock);
    if ((unsigned)ev <= PORTMAP_EVENT_FAILED)
        ev_count[ev]++;
    snprintf(ev_addr, sizeof(ev_addr), "%s", info->external_address);
    pthread_mutex_unlock(&ev_lock);
}

static int events(portmap_event ev)
{
    int n;
    pthread_mutex_lock(&ev_lock);
    n = ev_count[ev];
    pthread_mutex_unlock(&ev_lock);
    return n;
}

static portmap_mapping *map_counted(portmap_client *c, unsigned port, uint32_t lifetime)
{
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;

    pthread_mutex_lock(&ev_lock);
    memset(ev_count, 0, sizeof(ev_count));
    pthread_mutex_unlock(&ev_lock);
    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    r.lifetime = lifetime;
    r.callback = count_event;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    return m;
}

/* The router's external address changes: a CHANGED event within 10 s of
 * its announcement, with the new address, and again when it goes back. */
static void address_change(portmap_method method, unsigned port)
{
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m = map_counted(c, port, 7200);
    portmap_mapping_info info;
    int64_t t0;

    ck_assert_int_eq(run("ip netns exec ${LAB_PREFIX:-pm}-rtr sh -c 'ip addr del " WAN_ADDR "/24 dev wan0 && "
                         "ip addr add 11.77.0.9/24 dev wan0'"), 0);
    t0 = now_ms();
    while (events(PORTMAP_EVENT_CHANGED) < 1 && now_ms() - t0 < 10000)
        usleep(100000);
    fprintf(stderr, "  %s: address change seen after %lld ms\n", portmap_method_name(method),
            (long long)(now_ms() - t0));
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    run("ip netns exec ${LAB_PREFIX:-pm}-rtr sh -c 'ip addr del 11.77.0.9/24 dev wan0; ip addr add " WAN_ADDR
        "/24 dev wan0'");
    ck_assert_msg(events(PORTMAP_EVENT_CHANGED) >= 1, "no CHANGED event within 10 s");
    ck_assert_str_eq(info.external_address, "11.77.0.9");
    t0 = now_ms();
    while (events(PORTMAP_EVENT_CHANGED) < 2 && now_ms() - t0 < 10000)
        usleep(100000);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    portmap_close(&c);
}

START_TEST(pcp_address_change) { address_change(PORTMAP_METHOD_PCP, 27025); }
END_TEST
START_TEST(natpmp_address_change) { address_change(PORTMAP_METHOD_NATPMP, 27026); }
END_TEST
START_TEST(upnp_address_change) { address_change(PORTMAP_METHOD_UPNP, 27027); }
END_TEST

/* 30 % of the datagrams to the router are dropped: 100 mappings made one
 * after another all succeed, retransmission doing the work, and each is
 * released again (miniupnpd 2.3.1 in debug mode slows down badly past
 * about 60 rules, so they are not all held at once). */
START_TEST(mappings_under_packet_loss)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 10000);
    portmap_mapping_info info;
    portmap_counters k;
    int made = 0, released = 0;

    ck_assert_int_eq(run("'%s' loss 30", lab), 0);
    for (int i = 0; i < 100; i++) {
        portmap_mapping *m = NULL;
        portmap_request r;
        portmap_request_init(&r);
        r.protocol = i % 2 ? PORTMAP_TCP : PORTMAP_UDP;
        r.internal_port = (uint16_t)(28000 + i);
        r.lifetime = 600;
        ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
        if (portmap_mapping_wait(m, 10000, &info) == PORTMAP_OK)
            made++;
        else
            fprintf(stderr, "  mapping %d failed: %s\n", i, portmap_strerror(info.last_error));
        released += portmap_mapping_release(&m, 10000) == PORTMAP_OK;
    }
    ck_assert_int_eq(portmap_get_counters(c, &k), PORTMAP_OK);
    fprintf(stderr, "  100 mappings under 30 %% loss: %d made, %d released, %llu requests, "
            "%llu retransmissions\n", made, released, (unsigned long long)k.requests_sent,
            (unsigned long long)k.retransmissions);
    ck_assert_int_eq(run("'%s' loss 0", lab), 0);
    ck_assert_int_eq(made, 100);
    ck_assert_int_eq(released, 100);
    ck_assert_uint_gt(k.retransmissions, 0);
    ck_assert_int_eq(run("'%s' rules | grep -q ' 280[0-9][0-9] '", lab), 1); /* none left */
    portmap_close(&c);
}
END_TEST

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* The router is silent for 60 s: the mapping is reported lost once, the
 * process stays idle while it retries with backoff, and it is restored
 * when the router answers again. */
START_TEST(router_down_for_a_minute)
{
    portmap_client *c = open_client(PORTMAP_METHOD_PCP, 5000);
    portmap_mapping *m = map_counted(c, 27028, 10);
    portmap_mapping_info info;
    double cpu0;
    int64_t t0;

    ck_assert_int_eq(run("'%s' loss 100", lab), 0);
    t0 = now_ms();
    cpu0 = cpu_seconds();
    while (now_ms() - t0 < 60000)
        usleep(250000);
    double cpu = cpu_seconds() - cpu0;
    ck_assert_int_eq(run("'%s' loss 0", lab), 0);
    fprintf(stderr, "  60 s without the router: %.3f s of CPU (%.2f %%), lost events %d\n", cpu,
            cpu / 60 * 100, events(PORTMAP_EVENT_LOST));
    ck_assert_int_eq(events(PORTMAP_EVENT_LOST), 1);
    ck_assert_msg(cpu < 0.6, "busy while waiting: %.3f s of CPU in 60 s", cpu);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_LOST);
    t0 = now_ms();
    /* the backoff is capped, so the next try comes within the cap */
    while (events(PORTMAP_EVENT_RESTORED) < 1 && now_ms() - t0 < 70000)
        usleep(200000);
    fprintf(stderr, "  restored %lld ms after the router came back\n", (long long)(now_ms() - t0));
    ck_assert_int_eq(events(PORTMAP_EVENT_RESTORED), 1);
    ck_assert(has_rule("udp", 27028));
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    portmap_close(&c);
}
END_TEST

START_TEST(pcp_router_reboot) { survive_reboot(PORTMAP_METHOD_PCP, 27020); }
END_TEST
START_TEST(natpmp_router_reboot) { survive_reboot(PORTMAP_METHOD_NATPMP, 27021); }
END_TEST

START_TEST(close_releases_everything)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 5000);
    portmap_mapping *m[3];
    portmap_request r;

    for (int i = 0; i < 3; i++) {
        portmap_request_init(&r);
        r.protocol = i == 1 ? PORTMAP_TCP : PORTMAP_UDP;
        r.internal_port = (uint16_t)(27030 + i);
        ck_assert_int_eq(portmap_request_mapping(c, &r, &m[i]), PORTMAP_OK);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(portmap_mapping_wait(m[i], 5000, NULL), PORTMAP_OK);
    ck_assert(has_rule("tcp", 27031));
    portmap_close(&c); /* release_on_close defaults to on */
    ck_assert(!has_rule("udp", 27030));
    ck_assert(!has_rule("tcp", 27031));
    ck_assert(!has_rule("udp", 27032));
}
END_TEST

START_TEST(no_gateway_fails_within_timeout)
{
    portmap_settings s;
    portmap_client *c = NULL;
    portmap_mapping *m = NULL;
    portmap_request r;
    int64_t t0 = now_ms();
    int rc;

    portmap_default_settings(&s);
    s.gateway = "10.77.0.99"; /* on the lab LAN, nobody there */
    s.timeout_ms = 2000;
    ck_assert_int_eq(portmap_open(&c, &s), PORTMAP_OK);
    portmap_request_init(&r);
    r.internal_port = 27040;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    rc = portmap_mapping_wait(m, 0, NULL);
    ck_assert_int_eq(rc, PORTMAP_ERR_NO_GATEWAY);
    ck_assert_int_lt(now_ms() - t0, 2600);
    portmap_close(&c);
}
END_TEST

/* Run the CLI with printf-style arguments; return its exit code and its
 * output: the first line only, or with all set every line (up to len). */
static int cli_vrun(char *out, size_t len, int all, const char *fmt, va_list ap)
{
    char cmd[1024], args[512];
    size_t n = 0;
    FILE *p;
    int st;

    vsnprintf(args, sizeof(args), fmt, ap);
    snprintf(cmd, sizeof(cmd), "'%s' %s", cli, args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    while (n < len - 1 && fgets(out + n, (int)(len - n), p) && all)
        n = strlen(out);
    /* the rest unread would kill the CLI with SIGPIPE (e.g. its IPv6 line
     * after the IPv4 one) */
    while (fgets(cmd, sizeof(cmd), p))
        ;
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cli_run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cli_run(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = cli_vrun(out, len, 0, fmt, ap);
    va_end(ap);
    return rc;
}

static int cli_all(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cli_all(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = cli_vrun(out, len, 1, fmt, ap);
    va_end(ap);
    return rc;
}

static void cli_once_then_release(const char *method, unsigned port)
{
    char line[1024], want[64];

    ck_assert_int_eq(cli_run(line, sizeof(line), "request %u udp --protocol %s --once --json", port,
                             method), 0);
    ck_assert_msg(strstr(line, "\"event\":\"mapped\""), "unexpected output: %s", line);
    snprintf(want, sizeof(want), "\"method\":\"%s\"", method);
    ck_assert_msg(strstr(line, want), "unexpected output: %s", line);
    ck_assert_msg(strstr(line, "\"external_address\":\"" WAN_ADDR "\""), "output: %s", line);
    snprintf(want, sizeof(want), "\"internal_port\":%u", port);
    ck_assert_msg(strstr(line, want), "unexpected output: %s", line);
    ck_assert(strstr(line, "\"lifetime\":"));
    ck_assert(strstr(line, "\"external_port\":"));
    ck_assert_msg(has_rule("udp", port), "--once left no rule");
    ck_assert_int_eq(cli_run(line, sizeof(line), "release %u udp", port), 0);
    ck_assert_msg(!has_rule("udp", port), "release left the rule");
}

START_TEST(cli_pcp_once) { cli_once_then_release("pcp", 27050); }
END_TEST
START_TEST(cli_natpmp_once) { cli_once_then_release("natpmp", 27051); }
END_TEST

START_TEST(cli_holds_until_sigint)
{
    char cmd[512], line[1024];
    int fds[2];
    pid_t pid;
    FILE *f;
    int st;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", "27052", "tcp", "--json", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    /* by default both families: the NAT mapping, then the pinhole */
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "\"event\":\"mapped\"") && strstr(line, "\"family\":\"ipv4\""),
                  "output: %s", line);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "\"event\":\"mapped\"") && strstr(line, "\"family\":\"ipv6\""),
                  "output: %s", line);
    ck_assert(has_rule("tcp", 27052));
    ck_assert(has_pinhole("tcp", LAN6_ADDR, 27052));
    kill(pid, SIGINT);
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
        ck_assert_msg(strstr(line, "\"event\":\"released\""), "output: %s", line);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(!has_rule("tcp", 27052));
    ck_assert(pinhole_gone("tcp", LAN6_ADDR, 27052));
    fclose(f);
    (void)cmd;
}
END_TEST

/* Several ports held together, all released on SIGTERM. */
START_TEST(cli_holds_several_until_sigterm)
{
    char line[1024];
    int fds[2], st, mapped = 0, released = 0;
    pid_t pid;
    FILE *f;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", "27054", "udp", "27055", "tcp", "27056", "udp", "--json",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    /* each port in both families */
    while (mapped < 6 && fgets(line, sizeof(line), f))
        mapped += strstr(line, "\"event\":\"mapped\"") != NULL;
    ck_assert_int_eq(mapped, 6);
    ck_assert(has_rule("udp", 27054) && has_rule("tcp", 27055) && has_rule("udp", 27056));
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27054) && has_pinhole("tcp", LAN6_ADDR, 27055));
    kill(pid, SIGTERM);
    while (fgets(line, sizeof(line), f))
        released += strstr(line, "\"event\":\"released\"") != NULL;
    ck_assert_int_eq(released, 6);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(!has_rule("udp", 27054) && !has_rule("tcp", 27055) && !has_rule("udp", 27056));
    ck_assert(pinhole_gone("udp", LAN6_ADDR, 27054) && pinhole_gone("tcp", LAN6_ADDR, 27055) &&
              pinhole_gone("udp", LAN6_ADDR, 27056));
    fclose(f);
}
END_TEST

/* audit flags an exposed RDP port and a stale mapping; --prune removes
 * only the stale one, not the one a running process holds. */
START_TEST(cli_audit_and_prune)
{
    char line[1024], out[8192] = "";
    int fds[2], st;
    size_t len = 0;
    pid_t holder;
    FILE *f, *p;

    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27096 udp --once"), 0);
    ck_assert_int_eq(pipe(fds), 0);
    holder = fork();
    if (holder == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", "3389", "tcp", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f)); /* mapped */

    snprintf(line, sizeof(line), "'%s' audit", cli);
    p = popen(line, "r");
    while (len < sizeof(out) - 1 && fgets(out + len, (int)(sizeof(out) - len), p))
        len = strlen(out);
    st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "audit must exit 1: %s", out);
    ck_assert_msg(strstr(out, "tcp 3389") && strstr(out, "RDP"), "no RDP finding: %s", out);
    ck_assert_msg(strstr(out, "udp 27096") && strstr(out, "stale"), "no stale finding: %s", out);
    ck_assert_msg(!strstr(out, "3389: stale"), "a held mapping was called stale: %s", out);

    ck_assert_int_eq(cli_run(line, sizeof(line), "audit --prune"), 1); /* RDP stays flagged */
    ck_assert(!has_rule("udp", 27096));
    ck_assert(has_rule("tcp", 3389));

    kill(holder, SIGTERM);
    ck_assert_int_eq(waitpid(holder, &st, 0), holder);
    fclose(f);
    ck_assert(!has_rule("tcp", 3389));
    ck_assert_int_eq(cli_run(line, sizeof(line), "audit"), 0);
}
END_TEST

START_TEST(cli_allow_needs_a_protocol_that_can)
{
    char out[1024];
    int rc = cli_run(out, sizeof(out), "request 27121 tcp --protocol natpmp --allow 11.77.0.2 --once 2>&1");

    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "--allow") && strstr(out, "NAT-PMP"), "%s", out);
    ck_assert(!has_rule("tcp", 27121));
    rc = cli_run(out, sizeof(out), "request 27121 tcp --allow 11.77.0.5/24 --once 2>&1");
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(out, "--allow"), "%s", out);
}
END_TEST

START_TEST(cli_no_gateway_error)
{
    char out[2048];
    int64_t t0 = now_ms();
    int rc = cli_all(out, sizeof(out), "request 27053 udp --gateway 10.77.0.99 --timeout 2 2>&1");

    ck_assert_msg(rc == 3, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "no gateway answered") && strstr(out, "10.77.0.99"), "%s", out);
    /* each protocol's own reason, never a made-up one */
    ck_assert_msg(strstr(out, "PCP: no answer within 2.0 s"), "%s", out);
    ck_assert_msg(!strstr(out, "success") && !strstr(out, "not asked"), "%s", out);
    ck_assert_int_lt(now_ms() - t0, 3000);
}
END_TEST

/* check: open only when a connection to the external address comes back
 * to a listener here through the router; closed when nothing listens or
 * when the router has no mapping (a local listener alone is not enough). */
static void cli_check(const char *proto, unsigned port)
{
    int tcp = !strcmp(proto, "tcp"), rc;
    char line[1024];
    echo e;

    ck_assert_int_eq(cli_run(line, sizeof(line), "request %u %s --once", port, proto), 0);
    echo_start(&e, tcp, port);
    rc = cli_run(line, sizeof(line), "check %u %s --json", port, proto);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, line);
    ck_assert_msg(strstr(line, "\"state\":\"open\"") && strstr(line, "\"mapping\":true") &&
                      strstr(line, "\"listening\":true") &&
                      strstr(line, "\"reached_this_host\":true"),
                  "not open: %s", line);
    echo_stop(&e);
    ck_assert_int_eq(cli_run(line, sizeof(line), "check %u %s", port, proto), 1);
    ck_assert_msg(!strncmp(line, "port ", 5) && strstr(line, " is closed at " WAN_ADDR) &&
                      strstr(line, "nothing on this host"),
                  "not closed: %s", line);
    ck_assert_int_eq(cli_run(line, sizeof(line), "release %u %s", port, proto), 0);

    echo_start(&e, tcp, port); /* listening, but no mapping */
    ck_assert_int_eq(cli_run(line, sizeof(line), "check %u %s --json", port, proto), 1);
    ck_assert_msg(strstr(line, "\"state\":\"closed\"") && strstr(line, "\"mapping\":false"),
                  "no mapping, yet: %s", line);
    echo_stop(&e);
}

START_TEST(cli_check_tcp) { cli_check("tcp", 27097); }
END_TEST
START_TEST(cli_check_udp) { cli_check("udp", 27098); }
END_TEST

/* Another LAN host's mapping is flagged and never pruned. The other host is
 * a second address on this namespace's link, used only while upnpc (the
 * reference client) talks to the router from it, since secure_mode lets a
 * host map only to itself. */
static int as_other_host(const char *upnpc_args)
{
    int rc;
    if (run("ip addr add 10.77.0.3/24 dev lan0 && ip route replace 10.77.0.1/32 dev lan0 src 10.77.0.3"))
        return -1;
    rc = run("upnpc -u http://10.77.0.1:5000/rootDesc.xml %s >/dev/null 2>&1", upnpc_args);
    run("ip route del 10.77.0.1/32 dev lan0; ip addr del 10.77.0.3/24 dev lan0");
    return rc;
}

START_TEST(cli_audit_other_host)
{
    char line[1024], out[8192] = "";
    size_t len = 0;
    FILE *p;
    int st;

    ck_assert_int_eq(as_other_host("-e other-host -a 10.77.0.3 27091 27091 tcp 600"), 0);
    ck_assert(has_rule("tcp", 27091));
    snprintf(line, sizeof(line), "'%s' audit --prune --json", cli);
    p = popen(line, "r");
    while (len < sizeof(out) - 1 && fgets(out + len, (int)(sizeof(out) - len), p))
        len = strlen(out);
    st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "audit must exit 1: %s", out);
    ck_assert_msg(strstr(out, "\"internal_client\":\"10.77.0.3\"") &&
                      strstr(out, "\"other_host\":true") && strstr(out, "another host"),
                  "no other-host finding: %s", out);
    ck_assert_msg(has_rule("tcp", 27091), "--prune removed another host's mapping");
    ck_assert_int_eq(as_other_host("-d 27091 tcp"), 0);
    ck_assert(!has_rule("tcp", 27091));
}
END_TEST

START_TEST(cli_discover_external_ip_list)
{
    char out[8192];

    ck_assert_int_eq(cli_all(out, sizeof(out), "discover --json"), 0);
    ck_assert_msg(strstr(out, "\"gateway\":\"10.77.0.1\"") && strstr(out, "\"local_address\":\"10.77.0.2\"") &&
                      strstr(out, "\"external_address\":\"" WAN_ADDR "\"") &&
                      strstr(out, "\"pcp\":true,\"pcp_version\":2,\"natpmp\":true,\"upnp\":true") &&
                      strstr(out, "\"upnp_version\":2") && strstr(out, "\"nat\":\"nat\""),
                  "discover: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "discover"), 0);
    ck_assert_msg(strstr(out, "verdict: behind NAT") && strstr(out, "upnp yes (IGD v2"), "%s", out);

    ck_assert_int_eq(cli_all(out, sizeof(out), "external-ip"), 0);
    ck_assert_str_eq(out, WAN_ADDR "\n");

    ck_assert_int_eq(cli_all(out, sizeof(out), "request 27094 tcp --once --protocol upnp --description cli-list"), 0);
    ck_assert_int_eq(cli_all(out, sizeof(out), "list --json"), 0);
    ck_assert_msg(strstr(out, "{\"protocol\":\"tcp\",\"external_port\":27094,\"internal_client\":\"10.77.0.2\","
                              "\"internal_port\":27094,\"description\":\"cli-list\",\"lease\":"),
                  "list: %s", out);
    ck_assert_msg(strstr(out, "\"ours\":true}"), "list: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "release 27094 tcp --json"), 0);
    ck_assert_msg(strstr(out, "\"event\":\"released\""), "release: %s", out);
    ck_assert_int_eq(cli_all(out, sizeof(out), "list --json"), 0);
    ck_assert_msg(!strstr(out, "27094"), "still listed after release: %s", out);
}
END_TEST

/* A holder killed with SIGKILL cannot release; its journal entry can. */
static void kill_holder(const char *method, unsigned port)
{
    char line[1024], portstr[16];
    int fds[2], st;
    pid_t pid;
    FILE *f;

    snprintf(portstr, sizeof(portstr), "%u", port);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(cli, cli, "request", portstr, "udp", "--protocol", method, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "mapped udp"), "output: %s", line);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    fclose(f);
    ck_assert_msg(has_rule("udp", port), "the killed holder's rule should still be there");
}

START_TEST(cli_cleanup_after_sigkill)
{
    char out[1024];

    kill_holder("pcp", 27092);
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27092));
    /* the NAT mapping and the pinhole */
    ck_assert_int_eq(cli_all(out, sizeof(out), "cleanup"), 0);
    ck_assert_str_eq(out, "released 2 mappings left by dead processes\n");
    ck_assert(!has_rule("udp", 27092));
    ck_assert(pinhole_gone("udp", LAN6_ADDR, 27092));
    ck_assert_int_eq(cli_all(out, sizeof(out), "cleanup --json"), 0);
    ck_assert_str_eq(out, "{\"released\":0}\n");
}
END_TEST

/* No command needed: the next client to find the router releases it. */
START_TEST(next_client_releases_what_a_killed_one_left)
{
    portmap_client *c;
    portmap_discovery d;
    int i;

    kill_holder("upnp", 27093);
    kill_holder("natpmp", 27089);
    c = open_client(PORTMAP_METHOD_AUTO, 3000);
    ck_assert_int_eq(portmap_discover(c, &d, 0, 3000), PORTMAP_OK);
    for (i = 0; i < 50 && (has_rule("udp", 27093) || has_rule("udp", 27089)); i++)
        usleep(100000);
    ck_assert_msg(!has_rule("udp", 27093), "UPnP orphan still mapped");
    ck_assert_msg(pinhole_gone("udp", LAN6_ADDR, 27093), "UPnP orphan's pinhole still open");
    ck_assert_msg(!has_rule("udp", 27089), "NAT-PMP orphan still mapped");
    portmap_close(&c);
}
END_TEST

/* The router's daemon is down: every command fails within its timeout. */
START_TEST(cli_router_down_error)
{
    char out[2048];
    int64_t t0, took;
    int rc;

    ck_assert_int_eq(run("'%s' router-stop", lab), 0);
    t0 = now_ms();
    rc = cli_all(out, sizeof(out), "request 27099 udp --timeout 2 2>&1");
    took = now_ms() - t0;
    ck_assert_int_eq(run("'%s' router-start", lab), 0);
    ck_assert_msg(rc == 3, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "no gateway answered") && strstr(out, "10.77.0.1"), "%s", out);
    ck_assert_msg(strstr(out, "refused") && !strstr(out, "success"), "%s", out);
    /* every protocol was refused at once: the answer is known, no timeout
     * is waited out (ICMP rate limits aside, well under a second) */
    ck_assert_msg(took < 1500, "took %lld ms", (long long)took);
}
END_TEST

/* The cached discovery follows the routing table. */
START_TEST(discovery_follows_the_default_route)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 1500);
    portmap_discovery d;
    int rc;

    ck_assert_int_eq(portmap_discover(c, &d, 0, 3000), PORTMAP_OK);
    ck_assert_str_eq(d.gateway, "10.77.0.1");
    ck_assert_int_eq(run("ip route replace default via 10.77.0.99"), 0);
    rc = portmap_discover(c, &d, 0, 1500);
    /* restore before any assertion can end the test */
    ck_assert_int_eq(run("ip route replace default via 10.77.0.1"), 0);
    ck_assert_int_eq(rc, PORTMAP_ERR_NO_GATEWAY);
    ck_assert_str_eq(d.gateway, "10.77.0.99");
    ck_assert_uint_eq(d.methods, 0);
    ck_assert_int_eq(portmap_discover(c, &d, 0, 3000), PORTMAP_OK);
    ck_assert_str_eq(d.gateway, "10.77.0.1");
    ck_assert(d.methods & PORTMAP_HAVE(PORTMAP_METHOD_PCP));
    portmap_close(&c);
}
END_TEST

/* The router's table lists what we mapped, by any protocol, as ours. */
START_TEST(router_table_lists_ours)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 5000);
    portmap_mapping *m1 = NULL, *m2 = NULL;
    portmap_router_entry *e = NULL;
    portmap_request r;
    size_t n = 0;
    int found = 0;

    portmap_request_init(&r);
    r.internal_port = 27070;
    r.description = "listed-udp";
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m1), PORTMAP_OK);
    r.protocol = PORTMAP_TCP;
    r.internal_port = 27071;
    r.method = PORTMAP_METHOD_UPNP;
    r.description = "listed-tcp";
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m2), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m1, 5000, NULL), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m2, 5000, NULL), PORTMAP_OK);
    ck_assert_int_eq(portmap_router_mappings(c, &e, &n, 5000), PORTMAP_OK);
    for (size_t i = 0; i < n; i++) {
        if (e[i].internal_port == 27071 && e[i].protocol == PORTMAP_TCP) {
            ck_assert_str_eq(e[i].internal_client, "10.77.0.2");
            ck_assert_str_eq(e[i].description, "listed-tcp");
            ck_assert_int_eq(e[i].ours, 1);
            ck_assert_uint_gt(e[i].lease, 0);
            found |= 1;
        }
        if (e[i].internal_port == 27070 && e[i].protocol == PORTMAP_UDP)
            found |= 2;
    }
    ck_assert_int_eq(found, 3);
    portmap_router_entries_free(e);
    portmap_close(&c);
}
END_TEST

/* ---- the examples (examples/) ---- */

/* Start argv with stdout (and, if in is not NULL, stdin) on pipes. */
static pid_t spawn(char *const argv[], FILE **out, FILE **in)
{
    int o[2], i[2] = { -1, -1 };
    pid_t pid;

    ck_assert_int_eq(pipe(o), 0);
    if (in)
        ck_assert_int_eq(pipe(i), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(o[1], 1);
        if (in)
            dup2(i[0], 0);
        execv(argv[0], argv);
        _exit(127);
    }
    close(o[1]);
    *out = fdopen(o[0], "r");
    if (in) {
        close(i[0]);
        *in = fdopen(i[1], "w");
        setvbuf(*in, NULL, _IOLBF, 0);
    }
    return pid;
}

/* Read lines until one contains want (copied into line); 0 at EOF. */
static int read_until(FILE *f, const char *want, char *line, size_t len)
{
    while (fgets(line, (int)len, f)) {
        fprintf(stderr, "  | %s", line);
        if (strstr(line, want))
            return 1;
    }
    return 0;
}

/* The game server maps its UDP port, the WAN host exchanges a datagram
 * with it through the router, and Ctrl-C releases the mapping. */
static void game_server_check(const char *method, unsigned port)
{
    char sport[16], line[512], addr[64];
    char *argv[] = { (char *)game_server, "--port", sport, "--protocol", (char *)method, NULL };
    unsigned ext = 0;
    int st, released;
    pid_t pid;
    FILE *out;

    snprintf(sport, sizeof(sport), "%u", port);
    pid = spawn(argv, &out, NULL);
    ck_assert_msg(read_until(out, "connect to", line, sizeof(line)), "no \"connect to\" line");
    ck_assert_int_eq(sscanf(strstr(line, "connect to ") + 11, "%63[0-9.]:%u", addr, &ext), 2);
    ck_assert_str_eq(addr, WAN_ADDR);
    ck_assert_msg(strstr(line, method) || !strcmp(method, "auto"), "output: %s", line);
    ck_assert(has_rule("udp", ext));
    ck_assert_msg(wan_reaches("udp", ext), "the WAN host gets no echo from the game server");
    kill(pid, SIGINT);
    released = read_until(out, "event: released (the router confirmed)", line, sizeof(line));
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    fclose(out);
    ck_assert_msg(released, "no confirmed release after SIGINT");
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_msg(!has_rule("udp", ext), "rule left after Ctrl-C");
    ck_assert(!wan_reaches("udp", ext));
}

START_TEST(example_game_server) { game_server_check("auto", 27130); }
END_TEST
START_TEST(example_game_server_upnp) { game_server_check("upnp", 27131); }
END_TEST

/* event-pipe: events reach its poll() loop through the pipe, its stdin
 * commands work next to them, and SIGTERM releases both mappings. */
START_TEST(example_event_pipe)
{
    char *argv[] = { (char *)event_pipe, "27132/tcp", "27133/udp", NULL };
    char line[512];
    int st, mapped = 0, released = 0;
    FILE *out, *in;
    pid_t pid = spawn(argv, &out, &in);

    while (mapped < 2 && fgets(line, sizeof(line), out)) {
        fprintf(stderr, "  | %s", line);
        mapped += strstr(line, " mapped: mapped " WAN_ADDR ":") != NULL;
    }
    ck_assert_int_eq(mapped, 2);
    ck_assert(has_rule("tcp", 27132) && has_rule("udp", 27133));
    fputs("info\n", in);
    ck_assert(read_until(out, "27132/tcp info: mapped " WAN_ADDR, line, sizeof(line)));
    ck_assert(read_until(out, "27133/udp info: mapped " WAN_ADDR, line, sizeof(line)));
    kill(pid, SIGTERM);
    while (fgets(line, sizeof(line), out)) {
        fprintf(stderr, "  | %s", line);
        released += strstr(line, " released: released") != NULL;
    }
    ck_assert_int_eq(released, 2);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    fclose(out);
    fclose(in);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(!has_rule("tcp", 27132) && !has_rule("udp", 27133));
}
END_TEST

/* ---- a hostile host on the LAN (lab.sh spoofer, tests/lab/lab-spoof.c) ---- */

#define FAKE_PORT 6666 /* in every forged reply (with the address 6.6.6.6) */

static pid_t spoofer_pid;
static char spoof_stats[64];

static void spoofer_stop(void)
{
    if (spoofer_pid > 0) {
        kill(spoofer_pid, SIGTERM);
        waitpid(spoofer_pid, NULL, 0);
        spoofer_pid = 0;
    }
    run("'%s' loss 0", lab);
    run("'%s' spoofer down", lab);
    unlink(spoof_stats);
}

static long spoofed_count(const char *kind)
{
    char name[32];
    long n, found = -1;
    FILE *f = fopen(spoof_stats, "r");

    if (!f)
        return -1;
    while (fscanf(f, "%31s %ld", name, &n) == 2)
        if (!strcmp(name, kind))
            found = n;
    fclose(f);
    return found;
}

static void spoofer_start(void)
{
    int64_t t0;

    ck_assert_msg(spoof && *spoof, "LAB_SPOOF is not set");
    lab_changed();
    ck_assert_int_eq(run("'%s' spoofer up", lab), 0);
    snprintf(spoof_stats, sizeof(spoof_stats), "%s/spoofed", state_dir);
    unlink(spoof_stats);
    spoofer_pid = fork();
    ck_assert_int_ge(spoofer_pid, 0);
    if (spoofer_pid == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "exec ip netns exec ${LAB_PREFIX:-pm}-lan2 '%s' --victim 10.77.0.2 "
                 "--gateway 10.77.0.1 --stats '%s' --timeout 60", spoof, spoof_stats);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    t0 = now_ms();
    while (spoofed_count("http") < 0 && now_ms() - t0 < 3000)
        usleep(20000);
    ck_assert_msg(spoofed_count("http") == 0, "lab-spoof did not start");
}

/* A second host forges replies (from its own address; from the gateway's
 * with a wrong nonce or for another request; SSDP answers pointing at
 * itself) and announcements of a router restart. The router is deaf
 * while the mapping is first asked for, so the forgeries are all the
 * client hears at first: none may be taken, and the real mapping follows.
 * A mapping held from before must not be disturbed either (PCP and
 * NAT-PMP: a forged epoch would make it "lost"). */
static void spoofed(portmap_method method, unsigned held_port, unsigned port, const char *kind)
{
    portmap_client *c = open_client(method, 8000);
    portmap_mapping *held = NULL, *m = NULL;
    portmap_mapping_info info;
    portmap_counters k;
    portmap_request r;
    int rc;

    if (method != PORTMAP_METHOD_UPNP)
        held = map_counted(c, held_port, 600);
    spoofer_start();
    ck_assert_int_eq(run("'%s' loss 100", lab), 0);
    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    r.lifetime = 600;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    usleep(800000);
    ck_assert_int_eq(run("'%s' loss 0", lab), 0);
    rc = portmap_mapping_wait(m, 8000, &info);
    usleep(600000); /* the forged announcements go on: a client that knows its router now */
    ck_assert_int_eq(rc, PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, method);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_uint_ne(info.external_port, FAKE_PORT);
    ck_assert_msg(has_rule("udp", info.external_port), "no DNAT rule for udp %u", info.external_port);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_uint_ne(info.external_port, FAKE_PORT);

    ck_assert_int_eq(portmap_get_counters(c, &k), PORTMAP_OK);
    fprintf(stderr, "  %s: forged %ld %s replies, %ld announcements; dropped %llu from a wrong "
            "source, %llu unmatched\n", portmap_method_name(method), spoofed_count(kind), kind,
            spoofed_count("announce"), (unsigned long long)k.dropped_wrong_source,
            (unsigned long long)k.dropped_unmatched);
    ck_assert_msg(spoofed_count(kind) > 0, "lab-spoof forged no %s reply", kind);
    ck_assert_msg(spoofed_count("announce") > 0, "lab-spoof announced nothing");
    ck_assert_msg(spoofed_count("http") == 0, "the client fetched lab-spoof's description");
    ck_assert_uint_eq(k.announcements, 0);
    ck_assert_uint_eq(k.remaps_after_reset, 0);
    ck_assert_uint_ge(k.dropped_wrong_source, 1); /* the announcements, at least */
    if (method != PORTMAP_METHOD_UPNP)
        ck_assert_uint_ge(k.dropped_unmatched, 1); /* wrong nonce, wrong request */
    if (held) {
        ck_assert_int_eq(portmap_mapping_get_info(held, &info), PORTMAP_OK);
        ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
        ck_assert_str_eq(info.external_address, WAN_ADDR);
        ck_assert_int_eq(events(PORTMAP_EVENT_LOST), 0);
        ck_assert_int_eq(events(PORTMAP_EVENT_CHANGED), 0);
        ck_assert_int_eq(portmap_mapping_release(&held, 3000), PORTMAP_OK);
    }
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    portmap_close(&c);
    spoofer_stop();
    lab_restored();
}

START_TEST(pcp_ignores_forgeries) { spoofed(PORTMAP_METHOD_PCP, 27100, 27101, "pcp"); }
END_TEST
START_TEST(natpmp_ignores_forgeries) { spoofed(PORTMAP_METHOD_NATPMP, 27102, 27103, "natpmp"); }
END_TEST
START_TEST(upnp_ignores_forgeries) { spoofed(PORTMAP_METHOD_UPNP, 0, 27104, "ssdp"); }
END_TEST

/* ---- roaming: the host moves to another router (lab.sh router2, move-lan) ---- */

static int has_rule2(const char *proto, unsigned port)
{
    return run("'%s' router2 has-rule %s %u", lab, proto, port) == 0;
}

/* Wait up to limit_ms for the n-th CHANGED event with the mapping at addr. */
static int64_t wait_moved(portmap_mapping *m, int n, const char *addr, int64_t limit_ms,
                          portmap_mapping_info *info)
{
    int64_t t0 = now_ms();

    for (;;) {
        ck_assert_int_eq(portmap_mapping_get_info(m, info), PORTMAP_OK);
        if ((events(PORTMAP_EVENT_CHANGED) >= n && info->state == PORTMAP_STATE_MAPPED &&
             !strcmp(info->external_address, addr)) || now_ms() - t0 >= limit_ms)
            return now_ms() - t0;
        usleep(100000);
    }
}

/* The host is unplugged from its router and plugged into another network
 * (new link, address and default route, as after roaming or a DHCP
 * renewal): the library learns it from netlink, drops what it knew of the
 * old router and maps again at the new one, within 10 s, by `there` (the
 * second router runs profile2, "" for the first one's), and again when the
 * host comes back, by `home`. */
static void roam_with(portmap_method method, unsigned port, const char *profile2,
                      portmap_method there, portmap_method home)
{
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m;
    portmap_mapping_info info;
    portmap_counters k;
    int64_t took, t0;
    echo e;

    lab_changed();
    ck_assert_int_eq(run("'%s' router2 up %s%s", lab, *profile2 ? "--profile " : "", profile2), 0);
    echo_start(&e, 0, port);
    m = map_counted(c, port, 600);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, home);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert(has_rule("udp", info.external_port));

    ck_assert_int_eq(run("'%s' move-lan rtr2", lab), 0);
    took = wait_moved(m, 1, WAN2_ADDR, 10000, &info);
    fprintf(stderr, "  %s: mapped at the second router %lld ms after the move (%d lost, %d changed)\n",
            portmap_method_name(method), (long long)took, events(PORTMAP_EVENT_LOST),
            events(PORTMAP_EVENT_CHANGED));
    ck_assert_msg(events(PORTMAP_EVENT_CHANGED) >= 1, "no CHANGED event within 10 s");
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, there);
    ck_assert_str_eq(info.external_address, WAN2_ADDR);
    ck_assert_str_eq(info.internal_address, "10.78.0.2");
    ck_assert_msg(has_rule2("udp", info.external_port), "no rule at the second router for udp %u",
                  info.external_port);
    ck_assert_msg(wan_reaches_at(WAN2_ADDR, "udp", info.external_port),
                  "WAN host cannot reach udp %u at " WAN2_ADDR, info.external_port);

    /* What is heard of the new router: its restart (on a UPnP-only one,
     * only its SSDP NOTIFY, whose group is joined per interface) */
    ck_assert_int_eq(run("'%s' router2 crash", lab), 0);
    ck_assert(!has_rule2("udp", info.external_port));
    usleep(1100000); /* a new BOOTID.UPNP.ORG: miniupnpd's is its start time in seconds */
    ck_assert_int_eq(run("'%s' router2 start", lab), 0);
    t0 = now_ms();
    while (!has_rule2("udp", info.external_port) && now_ms() - t0 < 10000)
        usleep(100000);
    ck_assert_msg(has_rule2("udp", info.external_port),
                  "the second router's restart went unnoticed for 10 s");
    ck_assert_int_eq(portmap_get_counters(c, &k), PORTMAP_OK);
    ck_assert_uint_ge(k.announcements, 1);

    ck_assert_int_eq(run("'%s' move-lan rtr", lab), 0);
    took = wait_moved(m, 2, WAN_ADDR, 10000, &info);
    fprintf(stderr, "  %s: back at the first router after %lld ms\n", portmap_method_name(method),
            (long long)took);
    ck_assert_msg(events(PORTMAP_EVENT_CHANGED) >= 2, "no CHANGED event on the way back");
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, home);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert_str_eq(info.internal_address, "10.77.0.2");
    ck_assert(has_rule("udp", info.external_port));
    ck_assert(wan_reaches("udp", info.external_port));
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(!has_rule("udp", info.external_port));
    portmap_close(&c);
    echo_stop(&e);
    ck_assert_int_eq(run("'%s' router2 down", lab), 0);
    lab_restored();
}

static void roam(portmap_method method, unsigned port)
{
    roam_with(method, port, "", method, method);
}

START_TEST(pcp_follows_the_host_to_another_router) { roam(PORTMAP_METHOD_PCP, 27105); }
END_TEST
START_TEST(natpmp_follows_the_host_to_another_router) { roam(PORTMAP_METHOD_NATPMP, 27106); }
END_TEST
START_TEST(upnp_follows_the_host_to_another_router) { roam(PORTMAP_METHOD_UPNP, 27107); }
END_TEST
/* Left to choose, the library asks the new router what it speaks. */
START_TEST(auto_takes_what_the_other_router_speaks)
{
    roam_with(PORTMAP_METHOD_AUTO, 27108, "upnp-only", PORTMAP_METHOD_UPNP, PORTMAP_METHOD_PCP);
}
END_TEST

/* ---- UPnP-only routers (profiles upnp-only and igdv1) ---- */

static int igd_version(void)
{
    const char *p = getenv("LAB_PROFILE");
    return p && !strcmp(p, "igdv1") ? 1 : 2;
}

START_TEST(upnp_udp) { map_and_check(PORTMAP_METHOD_UPNP, PORTMAP_UDP, 27060); }
END_TEST
START_TEST(upnp_tcp) { map_and_check(PORTMAP_METHOD_UPNP, PORTMAP_TCP, 27061); }
END_TEST

START_TEST(auto_uses_upnp)
{
    portmap_client *c = open_client(PORTMAP_METHOD_AUTO, 5000);
    portmap_discovery d;
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;
    char svc[48];

    ck_assert_int_eq(portmap_discover(c, &d, 0, 5000), PORTMAP_OK);
    ck_assert_uint_eq(d.methods, PORTMAP_HAVE(PORTMAP_METHOD_UPNP));
    ck_assert_int_eq(d.preferred, PORTMAP_METHOD_UPNP);
    ck_assert_int_eq(d.upnp_version, igd_version());
    snprintf(svc, sizeof(svc), "WANIPConnection:%d", igd_version());
    ck_assert_str_eq(d.upnp_service, svc);
    ck_assert_str_eq(d.external_address, WAN_ADDR);
    ck_assert_int_eq(d.double_nat, 0);
    portmap_request_init(&r);
    r.internal_port = 27062;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert_int_eq(info.method, PORTMAP_METHOD_UPNP);
    ck_assert_str_eq(info.external_address, WAN_ADDR);
    ck_assert(has_rule("udp", info.external_port));
    portmap_close(&c);
    ck_assert(!has_rule("udp", info.external_port));
}
END_TEST

START_TEST(upnp_lease_is_refreshed)
{
    portmap_client *c = open_client(PORTMAP_METHOD_UPNP, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;

    portmap_request_init(&r);
    r.internal_port = 27063;
    r.lifetime = 4; /* renewed at 2 s */
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert_uint_eq(info.lifetime, 4);
    ck_assert_int_eq(info.permanent, 0);
    usleep(5500000);
    ck_assert_int_eq(portmap_mapping_get_info(m, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_uint_ge(info.renewals, 2);
    ck_assert(has_rule("udp", 27063)); /* past the first lease: renewed */
    portmap_close(&c);
    ck_assert(!has_rule("udp", 27063));
}
END_TEST

START_TEST(upnp_router_reboot) { survive_reboot(PORTMAP_METHOD_UPNP, 27064); }
END_TEST
START_TEST(cli_upnp_once) { cli_once_then_release("upnp", 27065); }
END_TEST


/* ---- IPv6 pinholes ---- */


/* The LAN host's temporary (privacy) address, which is the kernel's
 * default source and must not be the one opened. */
static void temporary_address(char *buf, size_t len)
{
    char cmd[600];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' addr6 lan temporary", lab);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    buf[0] = '\0';
    if (!fgets(buf, (int)len, p))
        buf[0] = '\0';
    pclose(p);
    buf[strcspn(buf, "\n")] = '\0';
}

/* Open a pinhole, check the router's rule and that the WAN host reaches
 * the service over IPv6, renew, release, check it is closed again. */
static void pinhole_check(portmap_method method, portmap_transport proto, unsigned port)
{
    const char *pname = proto == PORTMAP_TCP ? "tcp" : "udp";
    portmap_client *c = open_client(method, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;
    char temp[64];
    echo e;

    temporary_address(temp, sizeof(temp));
    ck_assert_msg(temp[0], "the lab's LAN host has no temporary IPv6 address");
    /* on the stable address: a UDP echo from a wildcard socket would leave
     * from the temporary one, which the WAN host's socket does not take */
    echo_start_on(&e, proto == PORTMAP_TCP, port, LAN6_ADDR);
    ck_assert_msg(!wan_reaches_at(LAN6_ADDR, pname, port), "reachable before any pinhole");
    portmap_request_init(&r);
    r.protocol = proto;
    r.internal_port = (uint16_t)port;
    r.lifetime = 600;
    r.family = PORTMAP_IPV6;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(info.method, method);
    ck_assert_int_eq(info.family, PORTMAP_IPV6);
    /* the stable address, not the temporary one the kernel prefers */
    ck_assert_str_eq(info.internal_address, LAN6_ADDR);
    ck_assert_int_eq(info.address_kind, PORTMAP_ADDRESS_STABLE);
    ck_assert_str_eq(info.external_address, LAN6_ADDR);
    ck_assert_uint_eq(info.external_port, port);
    ck_assert_uint_gt(info.lifetime, 0);
    ck_assert_msg(has_pinhole(pname, LAN6_ADDR, port), "no pinhole for %s %u", pname, port);
    ck_assert_msg(!has_pinhole(pname, temp, port), "a pinhole for the temporary address");
    ck_assert_msg(wan_reaches_at(LAN6_ADDR, pname, port), "WAN host cannot reach [%s]:%u",
                  LAN6_ADDR, port);
    /* the refresh: PCP MAP again, UPnP UpdatePinhole */
    ck_assert_int_eq(portmap_mapping_renew(m), PORTMAP_OK);
    for (int i = 0; i < 50 && info.renewals == 0; i++) {
        usleep(100000);
        portmap_mapping_get_info(m, &info);
    }
    ck_assert_uint_eq(info.renewals, 1);
    ck_assert_int_eq(info.state, PORTMAP_STATE_MAPPED);
    ck_assert_msg(has_pinhole(pname, LAN6_ADDR, port), "renewal lost the pinhole");
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert_msg(pinhole_gone(pname, LAN6_ADDR, port), "pinhole still there after release");
    ck_assert_msg(!wan_reaches_at(LAN6_ADDR, pname, port), "still reachable after release");
    echo_stop(&e);
    portmap_close(&c);
}

START_TEST(pcp_pinhole_tcp) { pinhole_check(PORTMAP_METHOD_PCP, PORTMAP_TCP, 27140); }
END_TEST
START_TEST(pcp_pinhole_udp) { pinhole_check(PORTMAP_METHOD_PCP, PORTMAP_UDP, 27141); }
END_TEST
START_TEST(upnp_pinhole_tcp) { pinhole_check(PORTMAP_METHOD_UPNP, PORTMAP_TCP, 27142); }
END_TEST
START_TEST(upnp_pinhole_udp) { pinhole_check(PORTMAP_METHOD_UPNP, PORTMAP_UDP, 27143); }
END_TEST

/* Both families for one service: a NAT mapping and a pinhole, one
 * handle, both reported, both released. */
START_TEST(both_families_one_handle)
{
    portmap_client *c = open_client(0, 5000);
    portmap_mapping *m = NULL;
    portmap_mapping_info v4, v6;
    portmap_request r;
    echo e;

    echo_start(&e, 1, 27144);
    portmap_request_init(&r);
    r.protocol = PORTMAP_TCP;
    r.internal_port = 27144;
    r.family = PORTMAP_IPV4_IPV6;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &v4), PORTMAP_OK);
    ck_assert_int_eq(v4.family, PORTMAP_IPV4);
    ck_assert_int_eq(v4.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(portmap_mapping_get_family_info(m, PORTMAP_IPV6, &v6), PORTMAP_OK);
    ck_assert_int_eq(v6.family, PORTMAP_IPV6);
    ck_assert_int_eq(v6.state, PORTMAP_STATE_MAPPED);
    ck_assert_int_eq(v6.method, PORTMAP_METHOD_PCP);
    ck_assert_str_eq(v4.external_address, WAN_ADDR);
    ck_assert_str_eq(v6.external_address, LAN6_ADDR);
    ck_assert(has_rule("tcp", v4.external_port));
    ck_assert(has_pinhole("tcp", LAN6_ADDR, 27144));
    ck_assert(wan_reaches("tcp", v4.external_port));
    ck_assert(wan_reaches_at(LAN6_ADDR, "tcp", 27144));
    ck_assert_int_eq(portmap_mapping_release(&m, 3000), PORTMAP_OK);
    ck_assert(!has_rule("tcp", v4.external_port));
    ck_assert(pinhole_gone("tcp", LAN6_ADDR, 27144));
    echo_stop(&e);
    portmap_close(&c);
}
END_TEST

START_TEST(discover_finds_the_ipv6_router)
{
    portmap_client *c = open_client(0, 5000);
    portmap_discovery d4, d6;

    ck_assert_int_eq(portmap_discover_dual(c, &d4, &d6, PORTMAP_DISCOVER_FRESH, 5000), PORTMAP_OK);
    ck_assert_str_eq(d4.gateway, "10.77.0.1");
    ck_assert_int_eq(d6.family, PORTMAP_IPV6);
    ck_assert_str_eq(d6.gateway, "fe80::1%lan0");
    ck_assert_str_eq(d6.local_address, LAN6_ADDR);
    ck_assert_int_eq(d6.address_kind, PORTMAP_ADDRESS_STABLE);
    ck_assert_uint_eq(d6.methods, PORTMAP_HAVE(PORTMAP_METHOD_PCP) | PORTMAP_HAVE(PORTMAP_METHOD_UPNP));
    ck_assert_str_eq(d6.upnp_service, "WANIPv6FirewallControl:1");
    ck_assert_int_eq(d6.preferred, PORTMAP_METHOD_PCP);
    portmap_close(&c);
}
END_TEST

/* What the issue asks of the command line: -6 --once --json opens a
 * pinhole by each protocol, the WAN host connects, release closes it. */
static void cli_pinhole(const char *method, unsigned port)
{
    char line[1024], want[80];
    echo e;

    echo_start(&e, 1, port);
    ck_assert_int_eq(cli_run(line, sizeof(line), "request %u tcp -6 --once --json --protocol %s",
                             port, method), 0);
    ck_assert_msg(strstr(line, "\"event\":\"mapped\""), "output: %s", line);
    ck_assert_msg(strstr(line, "\"family\":\"ipv6\""), "output: %s", line);
    ck_assert_msg(strstr(line, "\"address_kind\":\"stable\""), "output: %s", line);
    snprintf(want, sizeof(want), "\"method\":\"%s\"", method);
    ck_assert_msg(strstr(line, want), "output: %s", line);
    ck_assert_msg(strstr(line, "\"external_address\":\"" LAN6_ADDR "\""), "output: %s", line);
    snprintf(want, sizeof(want), "\"external_port\":%u", port);
    ck_assert_msg(strstr(line, want), "output: %s", line);
    ck_assert_msg(has_pinhole("tcp", LAN6_ADDR, port), "--once left no pinhole");
    ck_assert_msg(wan_reaches_at(LAN6_ADDR, "tcp", port), "WAN host cannot connect");
    ck_assert_int_eq(cli_run(line, sizeof(line), "release %u tcp", port), 0);
    ck_assert_msg(pinhole_gone("tcp", LAN6_ADDR, port), "release left the pinhole");
    ck_assert_msg(!wan_reaches_at(LAN6_ADDR, "tcp", port), "still reachable after release");
    echo_stop(&e);
}

START_TEST(cli_pinhole_pcp) { cli_pinhole("pcp", 27145); }
END_TEST
START_TEST(cli_pinhole_upnp) { cli_pinhole("upnp", 27146); }
END_TEST

/* UPnP-only routers: IGDv2 opens pinholes; IGDv1 has no
 * WANIPv6FirewallControl, so -6 says so and opens nothing. */
START_TEST(cli_pinhole_upnp_profile)
{
    const char *profile = getenv("LAB_PROFILE");
    char out[4096];
    int rc;

    if (!profile || strcmp(profile, "igdv1") != 0) {
        cli_pinhole("upnp", 27147);
        return;
    }
    rc = cli_all(out, sizeof(out), "request 27147 tcp -6 --once --protocol upnp --timeout 3 2>&1");
    ck_assert_int_eq(rc, 3);
    ck_assert_msg(strstr(out, "IPv6"), "output: %s", out);
    ck_assert(!has_pinhole("tcp", LAN6_ADDR, 27147));
}
END_TEST

/* A pinhole that `--once` left is closed by another process through
 * the journal (UPnP: the router is asked for the pinhole's id again). */
START_TEST(release_port_closes_a_pinhole_left_by_once)
{
    char line[1024];
    portmap_client *c;

    ck_assert_int_eq(cli_run(line, sizeof(line), "request 27148 udp -6 --once --json --protocol upnp"), 0);
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27148));
    c = open_client(0, 5000);
    ck_assert_int_eq(portmap_release_port(c, PORTMAP_UDP, 27148, PORTMAP_METHOD_AUTO, 5000),
                     PORTMAP_OK);
    ck_assert(!has_pinhole("udp", LAN6_ADDR, 27148));
    portmap_close(&c);
}
END_TEST


/* A router power cut flushes its pinholes too: with a long lease, the
 * router's announcement when it is back brings them back within 10 s,
 * both the PCP and the UPnP one, from a client holding both. */
START_TEST(pinholes_come_back_after_a_router_reboot)
{
    portmap_client *c = open_client(0, 5000);
    portmap_mapping *mp = NULL, *mu = NULL;
    portmap_request r;
    int64_t t0;

    portmap_request_init(&r);
    r.internal_port = 27149;
    r.lifetime = 7200;
    r.family = PORTMAP_IPV6;
    r.method = PORTMAP_METHOD_PCP;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &mp), PORTMAP_OK);
    r.internal_port = 27150;
    r.method = PORTMAP_METHOD_UPNP;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &mu), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(mp, 5000, NULL), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(mu, 5000, NULL), PORTMAP_OK);
    ck_assert(has_pinhole("udp", LAN6_ADDR, 27149) && has_pinhole("udp", LAN6_ADDR, 27150));
    ck_assert_int_eq(run("'%s' router-crash", lab), 0);
    ck_assert(!has_pinhole("udp", LAN6_ADDR, 27149) && !has_pinhole("udp", LAN6_ADDR, 27150));
    usleep(1100000); /* a new BOOTID (see reboot_and_wait) */
    ck_assert_int_eq(run("'%s' router-start", lab), 0);
    t0 = now_ms();
    while ((!has_pinhole("udp", LAN6_ADDR, 27149) || !has_pinhole("udp", LAN6_ADDR, 27150)) &&
           now_ms() - t0 < 10000)
        usleep(100000);
    ck_assert_msg(has_pinhole("udp", LAN6_ADDR, 27149), "PCP pinhole not back within 10 s");
    ck_assert_msg(has_pinhole("udp", LAN6_ADDR, 27150), "UPnP pinhole not back within 10 s");
    fprintf(stderr, "  pinholes back %lld ms after the router answered again\n",
            (long long)(now_ms() - t0));
    ck_assert_int_eq(portmap_mapping_release(&mp, 3000), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_release(&mu, 3000), PORTMAP_OK);
    ck_assert(pinhole_gone("udp", LAN6_ADDR, 27149) && pinhole_gone("udp", LAN6_ADDR, 27150));
    portmap_close(&c);
}
END_TEST

static Suite *upnp_suite(void)
{
    Suite *s = suite_create("lab_upnp");
    TCase *tc = tcase_create("upnp_router");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, upnp_udp);
    tcase_add_test(tc, upnp_tcp);
    tcase_add_test(tc, auto_uses_upnp);
    tcase_add_test(tc, upnp_lease_is_refreshed);
    tcase_add_test(tc, upnp_router_reboot);
    tcase_add_test(tc, upnp_announced_reboot);
    tcase_add_test(tc, cli_upnp_once);
    tcase_add_test(tc, close_releases_everything);
    tcase_add_test(tc, no_gateway_fails_within_timeout);
    tcase_add_test(tc, router_table_lists_ours);
    tcase_add_test(tc, upnp_allow_is_enforced);
    tcase_add_test(tc, example_game_server);
    tcase_add_test(tc, upnp_ignores_forgeries);
    tcase_add_test(tc, upnp_follows_the_host_to_another_router);
    tcase_add_test(tc, cli_pinhole_upnp_profile);
    tcase_add_checked_fixture(tc, tidy_lab, NULL);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *lab_suite(void)
{
    Suite *s = suite_create("lab");
    TCase *tc = tcase_create("full_router");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, pcp_udp);
    tcase_add_test(tc, pcp_tcp);
    tcase_add_test(tc, natpmp_udp);
    tcase_add_test(tc, natpmp_tcp);
    tcase_add_test(tc, discover_prefers_pcp);
    tcase_add_test(tc, external_ip_over_pcp_only);
    tcase_add_test(tc, close_releases_everything);
    tcase_add_test(tc, no_gateway_fails_within_timeout);
    tcase_add_test(tc, cli_pcp_once);
    tcase_add_test(tc, cli_natpmp_once);
    tcase_add_test(tc, cli_upnp_once);
    tcase_add_test(tc, upnp_udp);
    tcase_add_test(tc, router_table_lists_ours);
    tcase_add_test(tc, upnp_allow_is_enforced);
    tcase_add_test(tc, discovery_follows_the_default_route);
    tcase_add_test(tc, cli_holds_until_sigint);
    tcase_add_test(tc, cli_holds_several_until_sigterm);
    tcase_add_test(tc, cli_audit_and_prune);
    tcase_add_test(tc, cli_no_gateway_error);
    tcase_add_test(tc, cli_allow_needs_a_protocol_that_can);
    tcase_add_test(tc, cli_discover_external_ip_list);
    tcase_add_test(tc, cli_check_tcp);
    tcase_add_test(tc, cli_check_udp);
    tcase_add_test(tc, cli_audit_other_host);
    tcase_add_test(tc, cli_router_down_error);
    tcase_add_test(tc, cli_cleanup_after_sigkill);
    tcase_add_test(tc, next_client_releases_what_a_killed_one_left);
    tcase_add_test(tc, pcp_router_reboot);
    tcase_add_test(tc, natpmp_router_reboot);
    tcase_add_test(tc, pcp_announced_reboot);
    tcase_add_test(tc, natpmp_announced_reboot);
    tcase_add_test(tc, upnp_announced_reboot);
    tcase_add_test(tc, pcp_address_change);
    tcase_add_test(tc, natpmp_address_change);
    tcase_add_test(tc, upnp_address_change);
    tcase_add_test(tc, mappings_under_packet_loss);
    tcase_add_test(tc, router_down_for_a_minute);
    tcase_add_test(tc, example_game_server);
    tcase_add_test(tc, example_game_server_upnp);
    tcase_add_test(tc, example_event_pipe);
    tcase_add_test(tc, pcp_ignores_forgeries);
    tcase_add_test(tc, natpmp_ignores_forgeries);
    tcase_add_test(tc, upnp_ignores_forgeries);
    tcase_add_test(tc, pcp_follows_the_host_to_another_router);
    tcase_add_test(tc, natpmp_follows_the_host_to_another_router);
    tcase_add_test(tc, upnp_follows_the_host_to_another_router);
    tcase_add_test(tc, auto_takes_what_the_other_router_speaks);
    tcase_add_test(tc, pcp_pinhole_tcp);
    tcase_add_test(tc, pcp_pinhole_udp);
    tcase_add_test(tc, upnp_pinhole_tcp);
    tcase_add_test(tc, upnp_pinhole_udp);
    tcase_add_test(tc, both_families_one_handle);
    tcase_add_test(tc, discover_finds_the_ipv6_router);
    tcase_add_test(tc, cli_pinhole_pcp);
    tcase_add_test(tc, cli_pinhole_upnp);
    tcase_add_test(tc, release_port_closes_a_pinhole_left_by_once);
    tcase_add_test(tc, pinholes_come_back_after_a_router_reboot);
    tcase_add_checked_fixture(tc, tidy_lab, NULL);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    char *dir = state_dir;
    int rc;

    lab = getenv("LAB");
    probe = getenv("LAB_PROBE");
    cli = getenv("PORTMAP_CLI");
    spoof = getenv("LAB_SPOOF");
    game_server = getenv("GAME_SERVER");
    event_pipe = getenv("EVENT_PIPE");
    if (!lab || !probe || !cli || !game_server || !event_pipe) {
        fprintf(stderr, "test_lab: set LAB, LAB_PROBE, PORTMAP_CLI, GAME_SERVER and EVENT_PIPE "
                        "(meson test runs tests/lab/run-lab-tests.sh with them)\n");
        return 2;
    }
    /* The library and the CLI share this journal. */
    if (!mkdtemp(dir))
        return 2;
    setenv("PORTMAP_STATE_DIR", dir, 1);
    snprintf(lab_changed_file, sizeof(lab_changed_file), "%s/lab-changed", dir);
    {
        const char *profile = getenv("LAB_PROFILE");
        int upnp_only = profile && (!strcmp(profile, "upnp-only") || !strcmp(profile, "igdv1"));
        rc = pm_check_run(upnp_only ? upnp_suite() : lab_suite());
    }
    run("rm -rf '%s'", dir);
    return rc;
}
