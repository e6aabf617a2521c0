/*
 * The client's life: settings, open (the engine thread starts), close
 * (what it holds is released, the thread joined), and the waits that
 * every blocking public call shares (see api.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/api.h"
#include "sys/route.h"

#define PM_DEFAULT_LIFETIME 7200
#define PM_DEFAULT_TIMEOUT_MS 10000
#define PM_DEFAULT_CLOSE_TIMEOUT_MS 2000

PORTMAP_API const char *portmap_version(void)
{
    return PORTMAP_VERSION_STRING;
}

PORTMAP_API unsigned portmap_version_api(void)
{
    return PORTMAP_API_VERSION;
}

PORTMAP_API void portmap_default_settings(portmap_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->default_lifetime = PM_DEFAULT_LIFETIME;
    s->timeout_ms = PM_DEFAULT_TIMEOUT_MS;
    s->release_on_close = 1;
    s->close_timeout_ms = PM_DEFAULT_CLOSE_TIMEOUT_MS;
    s->log_level = PORTMAP_LOG_WARNING;
}

static int set_order(portmap_client *c, const portmap_method *methods)
{
    static const portmap_method def[] = { PORTMAP_METHOD_PCP, PORTMAP_METHOD_NATPMP,
                                          PORTMAP_METHOD_UPNP };
    unsigned seen = 0;

    c->n_order = 0;
    for (unsigned i = 0; i < PORTMAP_METHOD_COUNT && methods[i] != PORTMAP_METHOD_AUTO; i++) {
        portmap_method m = methods[i];
        if ((unsigned)m >= PORTMAP_METHOD_COUNT || (seen & (1u << m)))
            return -1;
        seen |= 1u << m;
        c->order[c->n_order++] = m;
    }
    if (c->n_order == 0) {
        memcpy(c->order, def, sizeof(def));
        c->n_order = PM_ARRAY_SIZE(def);
    }
    return 0;
}

static int validate_settings(const portmap_settings *s)
{
    pm_addr a;

    if (!pm_all_zero(s->reserved, sizeof(s->reserved)))
        return -1;
    if (s->timeout_ms < 0 || s->close_timeout_ms < 0 || s->log_level > PORTMAP_LOG_DEBUG)
        return -1;
    if (s->gateway && pm_addr_parse(s->gateway, &a) != 0)
        return -1;
    return 0;
}

void pm_client_free(portmap_client *c)
{
    /* Events undelivered hold mappings: released while those live */
    pm_events_drop(c);
    pm_mappings_free_all(c);
    for (int i = 0; i < PORTMAP_METHOD_COUNT; i++)
        pm_backend_state_drop(c, (portmap_method)i);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    if (c->nl_fd >= 0)
        close(c->nl_fd);
    if (c->reader_efd >= 0)
        close(c->reader_efd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c->events);
    pm_jq_free(c);
    free(c->pfds);
    free(c->gateway_override);
    free(c->state_dir);
    free(c);
}

static int init_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

int pm_client_new(portmap_client **out, const portmap_settings *s,
                  const pm_backend *const backends[PORTMAP_METHOD_COUNT], int bare)
{
    portmap_client *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c)
        return PORTMAP_ERR_NO_MEMORY;
    c->s = *s;
    c->wake_fd = c->nl_fd = c->reader_efd = -1;
    c->pid = (long)getpid();
    if (!c->s.default_lifetime)
        c->s.default_lifetime = PM_DEFAULT_LIFETIME;
    if (!c->s.timeout_ms)
        c->s.timeout_ms = PM_DEFAULT_TIMEOUT_MS;
    c->s.gateway = NULL;
    c->s.state_dir = NULL;
    c->log = (pm_logger){ s->log_callback, s->log_user, s->log_level };
    c->host = &pm_host_engine;
    memcpy(c->backends, backends ? backends : pm_backends_default, sizeof(c->backends));
    if (set_order(c, s->methods) != 0) {
        free(c);
        return PORTMAP_ERR_INVALID_ARGUMENT;
    }
    pthread_mutex_init(&c->lock, NULL);
    init_cond(&c->cond);
    pm_rng_seed(&c->rng);
    for (int fam = 0; fam < PM_FAMS; fam++)
        c->net[fam].fam = fam;
    c->gateway_override = s->gateway ? strdup(s->gateway) : NULL;
    c->state_dir = s->state_dir ? strdup(s->state_dir) : pm_journal_default_dir();
    if ((s->gateway && !c->gateway_override) || !c->state_dir) {
        pm_client_free(c);
        return PORTMAP_ERR_NO_MEMORY;
    }
    if (!bare) {
        c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        c->nl_fd = pm_route_netlink_open(); /* optional: without it we re-read on demand */
        if (c->wake_fd < 0) {
            pm_client_free(c);
            return PORTMAP_ERR_SYSTEM;
        }
    }
    *out = c;
    return PORTMAP_OK;
}

PORTMAP_API int portmap_open(portmap_client **out, const portmap_settings *s)
{
    portmap_settings defaults;
    portmap_client *c;
    int rc;

    if (!out)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!s) {
        portmap_default_settings(&defaults);
        s = &defaults;
    }
    if (validate_settings(s) != 0)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    if ((rc = pm_client_new(&c, s, NULL, 0)) != PORTMAP_OK)
        return rc;
    /* The engine's first round reads the IPv4 route (netlink tells it of
     * changes from then on): a first request finds the router known and
     * its datagram leaves without a route read in front of it. */
    c->route_dirty = 1;
    if (pthread_create(&c->thread, NULL, pm_engine_main, c) != 0) {
        pm_client_free(c);
        return PORTMAP_ERR_SYSTEM;
    }
    c->thread_started = 1;
    *out = c;
    return PORTMAP_OK;
}

/* Absolute CLOCK_MONOTONIC time timeout_ms from now, for cond waits. */
static struct timespec abs_deadline(int64_t deadline_ms)
{
    struct timespec ts = { .tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000 };
    return ts;
}

/* Wait for a change or the deadline. Returns 0 on timeout. Lock held. */
int pm_api_wait_until(portmap_client *c, int64_t deadline)
{
    struct timespec ts;
    if (pm_now_ms() >= deadline)
        return 0;
    ts = abs_deadline(deadline);
    pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    return pm_now_ms() < deadline;
}

void pm_api_waiter_enter(portmap_client *c)
{
    c->waiters++;
}

void pm_api_waiter_leave(portmap_client *c)
{
    if (--c->waiters == 0)
        pthread_cond_broadcast(&c->cond);
}

/* Start of a blocking public call: lock, refuse on the engine thread
 * (the callback would wait for itself), count the waiter so close()
 * keeps the client alive until it has left. */
int pm_api_enter(portmap_client *c)
{
    pthread_mutex_lock(&c->lock);
    if (pm_engine_on_thread(c)) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_WOULD_DEADLOCK;
    }
    pm_api_waiter_enter(c);
    return PORTMAP_OK;
}

void pm_api_leave(portmap_client *c)
{
    pm_api_waiter_leave(c);
    pthread_mutex_unlock(&c->lock);
}

static void wait_released(portmap_client *c, int64_t deadline)
{
    for (;;) {
        int busy = 0;
        for (portmap_mapping *m = c->mappings; m; m = m->next)
            busy |= m->state == PORTMAP_STATE_RELEASING;
        if (!busy || c->closed || !pm_api_wait_until(c, deadline))
            return;
    }
}

PORTMAP_API int portmap_close(portmap_client **pc)
{
    portmap_client *c;
    int64_t now;

    if (!pc || !*pc)
        return PORTMAP_OK;
    c = *pc;
    pthread_mutex_lock(&c->lock);
    if (pm_engine_on_thread(c)) {
        pthread_mutex_unlock(&c->lock);
        return PORTMAP_ERR_WOULD_DEADLOCK;
    }
    now = pm_now_ms();
    if (c->s.release_on_close) {
        for (portmap_mapping *m = c->mappings; m; m = m->next)
            pm_mapping_start_release(c, m, now + c->s.close_timeout_ms, now);
    }
    /* Every release under way finishes first, ours or one started earlier
     * (e.g. the external-IP probe's), within close_timeout_ms. */
    pm_engine_wake(c);
    wait_released(c, now + c->s.close_timeout_ms);
    c->stopping = 1;
    pm_wake_waiters(c);
    pm_engine_wake(c);
    pthread_mutex_unlock(&c->lock);

    /* Joined without the lock: the engine delivers its last callbacks. */
    pthread_join(c->thread, NULL);

    pthread_mutex_lock(&c->lock);
    while (c->waiters > 0)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    /* Mappings left on the router are marked as nobody's, so a later
     * cleanup may take them (and `portmap-cli release` can); after the
     * engine's last journal writes. */
    if (!c->s.release_on_close) {
        pm_journal_detach_pid(c->state_dir, (long)getpid());
        pm_jq_check_refusal(c);
    }
    pm_client_free(c);
    *pc = NULL;
    return PORTMAP_OK;
}

int pm_api_timeout(portmap_client *c, int timeout_ms)
{
    return timeout_ms > 0 ? timeout_ms : c->s.timeout_ms;
}

PORTMAP_API int portmap_get_counters(portmap_client *c, portmap_counters *out)
{
    if (!c || !out)
        return PORTMAP_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&c->lock);
    *out = c->counters;
    pthread_mutex_unlock(&c->lock);
    return PORTMAP_OK;
}
