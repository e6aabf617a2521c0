/*
 * Suite: the UPnP backend's poll plumbing (proto/upnp/upnp.c): what it
 * asks the engine to wait for, and until when. The engine sleeps in
 * ppoll() until the earliest deadline the backends give; a deadline in
 * the past that the following dispatch does not act on makes it poll
 * with a zero timeout again and again (a busy loop). The state is set
 * by hand on a bare client (no thread); the sockets are real but never
 * connected, which is what a connect whose SYN was lost looks like.
 */
#include <check.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "core/core.h"
#include "proto/upnp/upnp.h"

static portmap_client *c;
static upnp_state *st;
static char dir[64];

static void setup(void)
{
    portmap_settings set;
    upnp_states *all;

    strcpy(dir, "/tmp/pm-upnp-poll-XXXXXX"); /* never written: the client wants one */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    portmap_default_settings(&set);
    set.state_dir = dir;
    ck_assert_int_eq(pm_client_new(&c, &set, NULL, 1), PORTMAP_OK);
    all = pm_backend_state(c, PORTMAP_METHOD_UPNP);
    ck_assert_ptr_nonnull(all);
    st = &all->fam[PM_V4];
}

static void teardown(void)
{
    pm_client_free(c); /* closes the sockets set below */
    ck_assert_int_eq(rmdir(dir), 0);
}

/* The search is out and its resend is due at resend_at; the description
 * of the first answer is being fetched, its connect pending until
 * http_deadline. */
static void search_then_connect(int64_t resend_at, int64_t http_deadline)
{
    c->net[PM_V4].avail[PORTMAP_METHOD_UPNP] = PM_AVAIL_PROBING;
    st->ssdp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(st->ssdp_fd, 0);
    st->searching = 1;
    st->ssdp_retx.next_ms = resend_at;
    st->desc.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(st->desc.fd, 0);
    st->desc.state = PM_HTTPC_CONNECTING;
    st->desc.deadline = http_deadline;
}

static int64_t poll_deadline(struct pollfd *fds, size_t *n)
{
    int64_t deadline = PM_NEVER;

    *n = pm_backend_upnp.add_pollfds(c, fds, 8, &deadline);
    return deadline;
}

static short events_of(const struct pollfd *fds, size_t n, int fd)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i].fd == fd)
            return fds[i].events;
    return 0;
}

/* A connect that is pending waits for POLLOUT until its own deadline,
 * not until the search's resend, which is held while it lasts. */
START_TEST(pending_connect_waits_for_its_deadline)
{
    int64_t now = 100000;
    struct pollfd fds[8];
    size_t n;

    search_then_connect(now - 10, now + 2000);
    ck_assert_int_eq(poll_deadline(fds, &n), now + 2000);
    ck_assert_int_eq(events_of(fds, n, st->desc.fd), POLLOUT);
    ck_assert_int_eq(events_of(fds, n, st->ssdp_fd), POLLIN);
}
END_TEST

/* Rounds with nothing ready (poll timed out, no revents) do not change
 * what is waited for: the deadline stays ahead of now, so each poll
 * sleeps (a spinning engine would see it at or before now every time). */
START_TEST(rounds_without_events_do_not_spin)
{
    int64_t now = 100000;
    struct pollfd fds[8];
    size_t n;

    search_then_connect(now - 10, now + 2000);
    for (int round = 0; round < 100; round++, now += 5) {
        int64_t deadline = poll_deadline(fds, &n);
        ck_assert_int_gt(deadline, now);
        for (size_t i = 0; i < n; i++)
            fds[i].revents = 0;
        pm_backend_upnp.dispatch(c, fds, n, now);
        ck_assert(pm_http_active(&st->desc));
    }
}
END_TEST

/* Once the description's exchange is over (failed), the search's own
 * timer counts again. */
START_TEST(search_timer_counts_again_after_the_exchange)
{
    int64_t now = 100000;
    struct pollfd fds[8];
    size_t n;

    search_then_connect(now + 300, now + 2000);
    close(st->desc.fd);
    st->desc.fd = -1;
    st->desc.state = PM_HTTPC_FAILED;
    ck_assert_int_eq(poll_deadline(fds, &n), now + 300);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("upnp_poll");
    TCase *tc = tcase_create("deadlines");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pending_connect_waits_for_its_deadline);
    tcase_add_test(tc, rounds_without_events_do_not_spin);
    tcase_add_test(tc, search_timer_counts_again_after_the_exchange);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(suite)
