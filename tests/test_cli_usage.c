/*
 * portmap-cli's usage errors, which come before any network I/O: an
 * unknown command is named, help COMMAND, options a command does not take,
 * a port given twice; and the bash completion's per-command options. Each
 * case runs the real executable (PORTMAP_CLI) and fails it on a timeout.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "check_main.h"

/* timeout: a usage error that went on to ask a router would hang here */
#define CLI "timeout 5 '" PORTMAP_CLI "' "

START_TEST(unknown_command_is_named)
{
    char out[4096];

    ck_assert_int_eq(capture_run(out, sizeof(out), CLI "bogus"), 2);
    ck_assert_msg(!strncmp(out, "portmap-cli: unknown command 'bogus'\nusage: ", 44), "%s", out);
    ck_assert_int_eq(capture_run(out, sizeof(out), CLI "bogus --help"), 2);
    ck_assert_msg(strstr(out, "unknown command 'bogus'"), "%s", out);
    ck_assert_int_eq(capture_run(out, sizeof(out), CLI ""), 2); /* no command: the usage alone */
    ck_assert_msg(!strncmp(out, "usage: ", 7), "%s", out);
}
END_TEST

START_TEST(help_command)
{
    char out[4096];

    ck_assert_int_eq(capture_run(out, sizeof(out), CLI "help audit"), 0);
    ck_assert_msg(!strncmp(out, "usage: portmap-cli audit [--prune]", 34), "%s", out);
    ck_assert_int_eq(capture_run(out, sizeof(out), CLI "help"), 0);
    ck_assert_msg(strstr(out, "commands:") && strstr(out, "serve-check"), "%s", out);
    ck_assert_int_eq(capture_run(out, sizeof(out), CLI "help bogus"), 2);
    ck_assert_msg(strstr(out, "unknown command 'bogus'"), "%s", out);
    ck_assert_int_eq(capture_run(out, sizeof(out), CLI "check --help"), 0);
    ck_assert_msg(strstr(out, "--via CHECKER"), "%s", out);
}
END_TEST

START_TEST(options_of_other_commands_refused)
{
    static const char *const cases[][2] = {
        { "request 80 tcp --prune", "--prune is not an option of request" },
        { "audit --once", "--once is not an option of audit" },
        { "check 80 tcp --lifetime 60", "--lifetime is not an option of check" },
        { "release 80 tcp --via 1.2.3.4", "--via is not an option of release" },
        { "serve-check --json", "--json is not an option of serve-check" },
        { "list --listen 0.0.0.0", "--listen is not an option of list" },
        { "--allow 1.2.3.4 discover", "--allow is not an option of discover" },
        { "discover extra", "discover takes no arguments, not 'extra'" },
        { "--bogus list", "unknown option '--bogus'" },
        { "list --timeout", "--timeout needs a value" },
        { "request 80 tcp --ports 80", "--ports is not an option of request" },
        { "audit --ports 90-80", "--ports takes PORT or LOW-HIGH" },
        { "list --interface no-such-if0", "no interface 'no-such-if0'" },
        { "list --interface lo --gateway 10.0.0.1", "--interface and --gateway both" },
    };
    char out[4096];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = capture_run(out, sizeof(out), CLI "%s", cases[i][0]);
        ck_assert_msg(rc == 2 && strstr(out, cases[i][1]), "%s: exit %d: %s", cases[i][0], rc, out);
    }
}
END_TEST

START_TEST(port_twice_in_a_request)
{
    char out[4096];

    ck_assert_int_eq(capture_run(out, sizeof(out), CLI "request 80 tcp 81 udp 80 tcp --once"), 2);
    ck_assert_msg(strstr(out, "'80 tcp' is given twice"), "%s", out);
}
END_TEST

/* The completion offers each command its own options only. */
START_TEST(completion_per_command)
{
    char out[4096];

    ck_assert_int_eq(capture_run(out, sizeof(out),
                         "bash -c 'source \"" COMPLETION "\"; "
                         "c() { COMPREPLY=(); COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
                         "_portmap_cli; echo \"${COMPREPLY[*]}\"; }; "
                         "c portmap-cli audit --pru; c portmap-cli request 80 tcp --p; "
                         "c portmap-cli serve-check --l; c portmap-cli help ser'"), 0);
    ck_assert_str_eq(out, "--prune\n--protocol\n--listen\nserve-check\n");
}
END_TEST

static Suite *cli_usage_suite(void)
{
    Suite *s = suite_create("cli_usage");
    TCase *tc = tcase_create("usage");

    tcase_add_test(tc, unknown_command_is_named);
    tcase_add_test(tc, help_command);
    tcase_add_test(tc, options_of_other_commands_refused);
    tcase_add_test(tc, port_twice_in_a_request);
    tcase_add_test(tc, completion_per_command);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(cli_usage_suite)
