/*
 * What every backend shares: the table of backends, their lazily made
 * state, and small helpers for reporting to the host.
 */
#include <stdarg.h>
#include <stdio.h>

#include "proto/backend.h"

extern const pm_backend pm_backend_pcp;
extern const pm_backend pm_backend_natpmp;
extern const pm_backend pm_backend_upnp;

const pm_backend *const pm_backends_default[PORTMAP_METHOD_COUNT] = {
    [PORTMAP_METHOD_PCP] = &pm_backend_pcp,
    [PORTMAP_METHOD_NATPMP] = &pm_backend_natpmp,
    [PORTMAP_METHOD_UPNP] = &pm_backend_upnp,
};

void pm_result_detail(pm_result *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
}

short pm_revents(const pm_dispatch *d, int fd)
{
    if (fd < 0)
        return 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->fds[i].fd == fd)
            return d->fds[i].revents;
    return 0;
}

void *pm_backend_state(portmap_client *c, portmap_method method)
{
    const pm_backend *b = pm_backend_of(c, method);

    if (!b)
        return NULL;
    if (!c->bstate[method] && b->state_new)
        c->bstate[method] = b->state_new();
    return c->bstate[method];
}

void pm_backend_state_drop(portmap_client *c, portmap_method method)
{
    const pm_backend *b = pm_backend_of(c, method);

    if (!b)
        return;
    if (c->bstate[method] && b->state_free)
        b->state_free(c->bstate[method]);
    c->bstate[method] = NULL;
}

int pm_backend_has_family(const pm_backend *b, int fam)
{
    return b && (b->families & (1u << fam)) != 0;
}

int pm_backend_can_allow(const pm_backend *b, uint8_t prefix)
{
    if (prefix == 0)
        return 1;
    if (!b)
        return 0;
    return b->allow == PM_ALLOW_PREFIX || (b->allow == PM_ALLOW_HOST && prefix == 32);
}

void pm_host_unavailable(portmap_client *c, int fam, portmap_method method, int64_t now,
                         const char *fmt, ...)
{
    char why[PM_REASON_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    c->host->probe_done(c, fam, method, PM_AVAIL_NO, why, now);
}

int pm_backend_can_serve(const pm_backend *b, const portmap_mapping *m)
{
    if (pm_addr_is_set(&m->third) && (!b || !(b->third_party & (1u << m->fam))))
        return 0;
    if (b && (m->refused_methods & PORTMAP_HAVE(b->method)))
        return 0;
    return pm_backend_can_allow(b, m->allow_prefix);
}

static unsigned add_reply_fd(const portmap_client *c, const portmap_mapping *m, int *fds,
                             const pm_backend **bs, unsigned n)
{
    const pm_backend *b;
    int fd;

    if (!m || m->state != PORTMAP_STATE_PENDING || m->op == PM_OP_NONE || n == PM_FAMS)
        return n;
    b = pm_backend_of(c, m->op_method);
    if (!b || !b->reply_fd || (fd = b->reply_fd((portmap_client *)c, m)) < 0)
        return n;
    for (unsigned i = 0; i < n; i++)
        if (fds[i] == fd)
            return n;
    fds[n] = fd;
    bs[n] = b;
    return n + 1;
}

unsigned pm_backend_reply_fds(const portmap_client *c, const portmap_mapping *m,
                              int fds[PM_FAMS], const pm_backend *bs[PM_FAMS])
{
    return add_reply_fd(c, m->twin, fds, bs, add_reply_fd(c, m, fds, bs, 0));
}
