/*
 * Lab suite lab_signals: SIGINT (Ctrl-C) ends every command of the CLI
 * within a moment, even while it waits for a router that says nothing,
 * and a request releases what it held first.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_support.h"

/* Generous bound on "within a moment" (the aim is 1 s): far below the
 * commands' --timeout 30, so a command that waits for its timeout fails. */
#define SIGNAL_BOUND_MS 5000

/* `portmap-cli ARGS --timeout 30` with its output to /dev/null; its pid. */
static pid_t start_cli(const char *args)
{
    char cmd[512];
    pid_t pid;

    snprintf(cmd, sizeof(cmd), "exec '%s' %s --timeout 30 >/dev/null 2>&1", cli, args);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(pid, 0);
    return pid;
}

/* SIGINT to pid after it has waited wait_ms: how long it took to end, its
 * status in *st; -1 if it was still running after the bound (then
 * killed). */
static int64_t interrupt_after(pid_t pid, int wait_ms, int *st)
{
    int64_t t0;

    usleep((useconds_t)wait_ms * 1000);
    ck_assert_int_eq(waitpid(pid, st, WNOHANG), 0); /* still waiting */
    kill(pid, SIGINT);
    for (t0 = now_ms(); now_ms() - t0 < SIGNAL_BOUND_MS; usleep(10 * 1000))
        if (waitpid(pid, st, WNOHANG) == pid)
            return now_ms() - t0;
    kill(pid, SIGKILL);
    waitpid(pid, st, 0);
    return -1;
}

static const char *const waiting_commands[] = {
    "request 27160 udp", "request 27161 udp 27162 tcp --once", "discover", "external-ip",
    "list", "audit", "cleanup", "release 27163 udp", "check 27164 tcp",
};

/* The router drops everything from the LAN: each command would wait 30 s. */
START_TEST(ctrl_c_ends_every_waiting_command)
{
    const size_t n = sizeof(waiting_commands) / sizeof(waiting_commands[0]);
    int64_t took[sizeof(waiting_commands) / sizeof(waiting_commands[0])];
    int st[sizeof(waiting_commands) / sizeof(waiting_commands[0])];

    lab_changed();
    ck_assert_int_eq(run("'%s' loss 100", lab), 0);
    for (size_t i = 0; i < n; i++) {
        took[i] = interrupt_after(start_cli(waiting_commands[i]), 1500, &st[i]);
        fprintf(stderr, "  Ctrl-C during '%s': ended in %lld ms\n", waiting_commands[i],
                (long long)took[i]);
    }
    ck_assert_int_eq(run("'%s' loss 0", lab), 0);
    lab_restored();
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(took[i] >= 0, "'%s' still ran %d ms after SIGINT", waiting_commands[i],
                      SIGNAL_BOUND_MS);
        ck_assert_msg(WIFEXITED(st[i]), "'%s' died of a signal", waiting_commands[i]);
    }
}
END_TEST

/* A held mapping, and then the router goes silent: Ctrl-C still ends the
 * request within a moment (the release cannot be confirmed); the journal
 * keeps the entry, and the next cleanup, once the router answers again,
 * removes the rule. */
START_TEST(ctrl_c_with_a_silent_router_leaves_nothing_behind)
{
    char *argv[] = { "portmap-cli", "request", "27165", "udp", "-4", "--timeout", "30", NULL };
    char line[1024], out[1024];
    int64_t took;
    FILE *f;
    int st;
    pid_t pid = cli_start(argv, &f);

    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_msg(strstr(line, "mapped udp"), "output: %s", line);
    fclose(f);
    lab_changed();
    ck_assert_int_eq(run("'%s' loss 100", lab), 0);
    took = interrupt_after(pid, 200, &st);
    ck_assert_int_eq(run("'%s' loss 0", lab), 0);
    lab_restored();
    fprintf(stderr, "  Ctrl-C of a held request, router silent: ended in %lld ms\n",
            (long long)took);
    ck_assert_msg(took >= 0, "still running %d ms after SIGINT", SIGNAL_BOUND_MS);
    ck_assert(has_rule("udp", 27165)); /* the release could not reach the router */
    ck_assert_int_eq(cli_all(out, sizeof(out), "cleanup"), 0);
    ck_assert_str_eq(out, "released 1 mapping left by dead processes\n");
    ck_assert(!has_rule("udp", 27165));
}
END_TEST

Suite *lab_signals_suite(int upnp_only)
{
    Suite *s = suite_create("lab_signals");
    TCase *tc = lab_tcase(s, upnp_only);

    tcase_add_test(tc, ctrl_c_ends_every_waiting_command);
    tcase_add_test(tc, ctrl_c_with_a_silent_router_leaves_nothing_behind);
    return s;
}
