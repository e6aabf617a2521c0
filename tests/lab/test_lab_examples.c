/*
 * Lab suite lab_examples: the programs in examples/ against the lab's
 * router: game-server (a WAN host exchanges a datagram with it) and
 * event-pipe (events through a pipe into its poll() loop).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_support.h"

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

Suite *lab_examples_suite(int upnp_only)
{
    Suite *s = suite_create("lab_examples");
    TCase *tc = lab_tcase(s, upnp_only);

    tcase_add_test(tc, example_game_server);
    if (upnp_only)
        return s;
    tcase_add_test(tc, example_game_server_upnp);
    tcase_add_test(tc, example_event_pipe);
    return s;
}
