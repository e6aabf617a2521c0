/* What the lab tests share; see lab_support.h. */
#include "lab_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

const char *lab, *probe, *cli, *game_server, *event_pipe, *spoof;
char lab_state_dir[] = "/tmp/pm-lab-state-XXXXXX";
static char lab_changed_file[64];
static char lab_knobs_file[64];

wait_events lab_events = WAIT_EVENTS_INIT;

int lab_setup(void)
{
    lab = getenv("LAB");
    probe = getenv("LAB_PROBE");
    cli = getenv("PORTMAP_CLI");
    spoof = getenv("LAB_SPOOF");
    game_server = getenv("GAME_SERVER");
    event_pipe = getenv("EVENT_PIPE");
    if (!lab || !probe || !cli || !game_server || !event_pipe) {
        fprintf(stderr, "test_lab: set LAB, LAB_PROBE, PORTMAP_CLI, GAME_SERVER and EVENT_PIPE "
                        "(meson test runs tests/lab/run-lab-tests.sh with them)\n");
        return -1;
    }
    /* The library and the CLI share this journal. */
    if (!mkdtemp(lab_state_dir))
        return -1;
    setenv("PORTMAP_STATE_DIR", lab_state_dir, 1);
    snprintf(lab_changed_file, sizeof(lab_changed_file), "%s/lab-changed", lab_state_dir);
    snprintf(lab_knobs_file, sizeof(lab_knobs_file), "%s/router-knobs", lab_state_dir);
    return 0;
}

void lab_teardown(void)
{
    run("rm -rf '%s'", lab_state_dir);
}

int lab_upnp_only(void)
{
    return lab_router() == LAB_UPNP;
}

lab_router_kind lab_router(void)
{
    const char *profile = getenv("LAB_PROFILE");

    if (!profile || !strcmp(profile, "full"))
        return LAB_FULL;
    if (!strcmp(profile, "pmp-only"))
        return LAB_PMP;
    if (!strcmp(profile, "none"))
        return LAB_NONE;
    return LAB_UPNP; /* upnp-only, igdv1 */
}

int run(const char *fmt, ...)
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

/* The marker is a file: each test runs in a process of its own. */
/* A marker file for the next test's fixture */
static void mark(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

void lab_changed(void)
{
    mark(lab_changed_file);
}

void lab_restored(void)
{
    unlink(lab_changed_file);
}

void lab_router_knobs_changed(void)
{
    mark(lab_knobs_file);
}

void lab_router_knobs_restored(void)
{
    unlink(lab_knobs_file);
}

static void tidy_lab(void)
{
    if (access(lab_knobs_file, F_OK) == 0) {
        run("'%s' router-restart", lab);
        lab_router_knobs_restored();
    }
    if (access(lab_changed_file, F_OK) != 0)
        return;
    run("'%s' loss 0; '%s' spoofer down; '%s' router2 down; '%s' cgnat off; '%s' hairpin on",
        lab, lab, lab, lab, lab);
    /* lab_check's firewall in front of the router; a test's drop of
     * PCP/NAT-PMP (test_lab_map.c) */
    run("ip netns exec ${LAB_PREFIX:-pm}-rtr nft delete table ip labdrop 2>/dev/null;"
        "ip netns exec ${LAB_PREFIX:-pm}-rtr nft delete table ip silent5351 2>/dev/null");
    lab_restored();
}

TCase *lab_tcase(Suite *s, int upnp_only)
{
    TCase *tc = tcase_create(upnp_only ? "upnp_router" : "full_router");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, tidy_lab, NULL);
    suite_add_tcase(s, tc);
    return tc;
}

int has_rule(const char *proto, unsigned port)
{
    return run("'%s' has-rule %s %u", lab, proto, port) == 0;
}

int count_rules(const char *proto, unsigned first, unsigned count)
{
    char cmd[1024], line[256], p[8];
    unsigned port;
    int n = 0;
    FILE *f;

    snprintf(cmd, sizeof(cmd), "'%s' rules", lab);
    ck_assert_ptr_nonnull(f = popen(cmd, "r"));
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%7s %u", p, &port) == 2 && !strcmp(p, proto) && port >= first &&
            port < first + count)
            n++;
    ck_assert_int_eq(pclose(f), 0);
    return n;
}

int has_rule2(const char *proto, unsigned port)
{
    return run("'%s' router2 has-rule %s %u", lab, proto, port) == 0;
}

int has_pinhole(const char *proto, const char *addr, unsigned port)
{
    return run("'%s' has-pinhole %s %s %u", lab, proto, addr, port) == 0;
}

/* What wait_rule() and its kind look for. */
typedef struct rule_query {
    int (*has)(const struct rule_query *q);
    const char *proto, *addr;
    unsigned port;
    int present;
} rule_query;

static int query_rule(const rule_query *q)
{
    return has_rule(q->proto, q->port);
}

static int query_rule2(const rule_query *q)
{
    return has_rule2(q->proto, q->port);
}

static int query_pinhole(const rule_query *q)
{
    return has_pinhole(q->proto, q->addr, q->port);
}

static int rule_as_wanted(void *arg)
{
    const rule_query *q = arg;
    return !q->has(q) == !q->present;
}

int wait_rule(const char *proto, unsigned port, int present, int timeout_ms)
{
    rule_query q = { query_rule, proto, NULL, port, present };
    return wait_until(rule_as_wanted, &q, timeout_ms);
}

int wait_rule2(const char *proto, unsigned port, int present, int timeout_ms)
{
    rule_query q = { query_rule2, proto, NULL, port, present };
    return wait_until(rule_as_wanted, &q, timeout_ms);
}

int wait_pinhole(const char *proto, const char *addr, unsigned port, int present, int timeout_ms)
{
    rule_query q = { query_pinhole, proto, addr, port, present };
    return wait_until(rule_as_wanted, &q, timeout_ms);
}

int pinhole_gone(const char *proto, const char *addr, unsigned port)
{
    return wait_pinhole(proto, addr, port, 0, 5000);
}

static void on_log(void *user, portmap_log_level level, const char *msg)
{
    fprintf(stderr, "  [portmap %d] %s\n", level, msg);
}

portmap_client *open_client(portmap_method only, int timeout_ms)
{
    portmap_settings s;
    portmap_client *c = NULL;

    portmap_default_settings(&s);
    if (only)
        s.methods[0] = only;
    s.timeout_ms = timeout_ms;
    s.log_callback = on_log;
    s.log_level = getenv("LAB_DEBUG") ? PORTMAP_LOG_DEBUG : PORTMAP_LOG_INFO;
    ck_assert_int_eq(portmap_open(&c, &s), PORTMAP_OK);
    return c;
}

portmap_mapping *map_counted(portmap_client *c, unsigned port, uint32_t lifetime)
{
    portmap_mapping *m = NULL;
    portmap_mapping_info info;
    portmap_request r;

    wait_events_reset(&lab_events);
    portmap_request_init(&r);
    r.internal_port = (uint16_t)port;
    r.lifetime = lifetime;
    r.callback = wait_events_callback;
    r.user = &lab_events;
    ck_assert_int_eq(portmap_request_mapping(c, &r, &m), PORTMAP_OK);
    ck_assert_int_eq(portmap_mapping_wait(m, 5000, &info), PORTMAP_OK);
    return m;
}

int events(portmap_event ev)
{
    return wait_events_count(&lab_events, ev);
}

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

void echo_start(echo *e, int tcp, unsigned port)
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

void echo_start_on(echo *e, int tcp, unsigned port, const char *addr6)
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

void echo_stop(echo *e)
{
    shutdown(e->fd, SHUT_RDWR);
    close(e->fd);
    pthread_cancel(e->th);
    pthread_join(e->th, NULL);
}

int wan_reaches_at(const char *addr, const char *proto, unsigned ext_port)
{
    return run("ip netns exec ${LAB_PREFIX:-pm}-wan '%s' send %s %s %u hello-%u --timeout 3", probe,
               proto, addr, ext_port, ext_port) == 0;
}

int wan_reaches(const char *proto, unsigned ext_port)
{
    return wan_reaches_at(WAN_ADDR, proto, ext_port);
}

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

pid_t cli_start(char **argv, FILE **out)
{
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(cli, argv);
        _exit(127);
    }
    close(fds[1]);
    *out = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(*out);
    return pid;
}

int cli_run(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = cli_vrun(out, len, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_all(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = cli_vrun(out, len, 1, fmt, ap);
    va_end(ap);
    return rc;
}
