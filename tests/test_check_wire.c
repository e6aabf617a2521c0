/*
 * portmap-cli's checker protocol (tools/cli/check_wire.c): requests and
 * replies both ways, and what a hostile peer may send.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_wire.h"
#include "check_main.h"

START_TEST(request_round_trip)
{
    cli_check_request r = { .udp = 1, .port = 27015 }, back;
    const char *why;
    char line[CLI_CHECK_LINE_MAX];

    strcpy(r.token, "0123abcdEF456789");
    ck_assert_int_gt(cli_check_format_request(&r, line, sizeof(line)), 0);
    ck_assert_str_eq(line, "PORTMAP-CHECK/1 udp 27015 0123abcdEF456789\n");
    ck_assert_int_eq(cli_check_parse_request(line, &back, &why), 0);
    ck_assert(back.udp && back.port == 27015);
    ck_assert_str_eq(back.token, r.token);
    ck_assert_int_eq(cli_check_parse_request("PORTMAP-CHECK/1 tcp 80\r\n", &back, &why), 0);
    ck_assert(!back.udp && back.port == 80 && !back.token[0]);
}
END_TEST

START_TEST(request_refused)
{
    static const char *const bad[] = {
        "PORTMAP-CHECK/1 tcp 0\n", "PORTMAP-CHECK/1 tcp 65536\n", "PORTMAP-CHECK/1 tcp +80\n",
        "PORTMAP-CHECK/1 sctp 80\n", "PORTMAP-CHECK/2 tcp 80\n", "PORTMAP-CHECK/1 tcp\n",
        "PORTMAP-CHECK/1  tcp 80\n", "PORTMAP-CHECK/1 tcp 80 \n", "",
        /* a token is for UDP, letters and digits, 8 to 64 of them; never an address */
        "PORTMAP-CHECK/1 tcp 80 abcdefgh\n", "PORTMAP-CHECK/1 udp 80 short\n",
        "PORTMAP-CHECK/1 udp 80 11.77.0.2\n", "PORTMAP-CHECK/1 udp 80 abcdefgh extra\n",
        "PORTMAP-CHECK/1 udp 80 abc\tdefgh\n",
    };
    cli_check_request r;
    const char *why = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cli_check_parse_request(bad[i], &r, &why) == -1, "took '%s'", bad[i]);
        ck_assert(why && !strncmp(why, "bad-request", 11));
    }
}
END_TEST

START_TEST(reply_round_trip)
{
    static const cli_verdict all[] = { CLI_V_OPEN, CLI_V_CLOSED, CLI_V_FILTERED,
                                       CLI_V_OPEN_FILTERED };
    cli_check_reply r = { .port = 443 }, back;
    char line[CLI_CHECK_LINE_MAX];

    strcpy(r.address, "2001:db8::1");
    for (size_t i = 0; i < 4; i++) {
        r.verdict = all[i];
        ck_assert_int_gt(cli_check_format_reply(&r, line, sizeof(line)), 0);
        ck_assert_int_eq(cli_check_parse_reply(line, &back), 0);
        ck_assert_int_eq(back.verdict, all[i]);
        ck_assert_str_eq(back.address, "2001:db8::1");
        ck_assert_int_eq(back.port, 443);
    }
    ck_assert_int_eq(cli_check_parse_reply("PORTMAP-CHECK/1 open|filtered 11.77.0.1 53\n", &back), 0);
    ck_assert_int_eq(back.verdict, CLI_V_OPEN_FILTERED);
    ck_assert_int_eq(cli_check_parse_reply("PORTMAP-CHECK/1 error rate-limited wait\x1b[2J\n", &back), 0);
    ck_assert_int_eq(back.verdict, CLI_V_ERROR);
    ck_assert_str_eq(back.error, "rate-limited wait?[2J"); /* no escape reaches the terminal */
    ck_assert_int_eq(cli_check_parse_reply("PORTMAP-CHECK/1 ajar 11.77.0.1 53\n", &back), -1);
    ck_assert_int_eq(cli_check_parse_reply("PORTMAP-CHECK/1 error\n", &back), -1);
    ck_assert_int_eq(cli_check_parse_reply("PORTMAP-CHECK/1 open 11.77.0.1\n", &back), -1);
    ck_assert_int_eq(cli_check_parse_reply("HTTP/1.1 200 OK\r\n", &back), -1);
}
END_TEST

START_TEST(checker_specs)
{
    cli_checker c;

    ck_assert_int_eq(cli_checker_parse("check.example.org", &c), 0);
    ck_assert(c.kind == CLI_CHECKER_NATIVE && c.port == CLI_CHECK_DEFAULT_PORT);
    ck_assert_str_eq(c.host, "check.example.org");
    ck_assert_int_eq(cli_checker_parse("[2001:db8::2]:9000", &c), 0);
    ck_assert_str_eq(c.host, "2001:db8::2");
    ck_assert_int_eq(c.port, 9000);
    ck_assert_int_eq(cli_checker_parse("https://ifconfig.co", &c), 0);
    ck_assert(c.kind == CLI_CHECKER_HTTPS && c.port == 443 && !c.prefix[0]);
    ck_assert_int_eq(cli_checker_parse("http://11.77.0.2:8490/echo/", &c), 0);
    ck_assert(c.kind == CLI_CHECKER_HTTP && c.port == 8490);
    ck_assert_str_eq(c.prefix, "/echo");
    ck_assert_int_eq(cli_checker_parse("2001:db8::2", &c), -1);
    ck_assert_int_eq(cli_checker_parse("host:0", &c), -1);
    ck_assert_int_eq(cli_checker_parse("host:", &c), -1);
    ck_assert_int_eq(cli_checker_parse("host/path", &c), -1);
    ck_assert_int_eq(cli_checker_parse("http://user@host", &c), -1);
    ck_assert_int_eq(cli_checker_parse("http://", &c), -1);
    ck_assert_int_eq(cli_checker_parse("", &c), -1);
}
END_TEST

START_TEST(echoip_answers)
{
    char ip[64], body[128];
    unsigned port;
    int reach;

    ck_assert_int_eq(cli_echoip_parse("{\"ip\":\"11.77.0.1\",\"port\":443,\"reachable\":true}", ip,
                                      sizeof(ip), &port, &reach), 0);
    ck_assert_str_eq(ip, "11.77.0.1");
    ck_assert(port == 443 && reach == 1);
    ck_assert_int_eq(cli_echoip_parse("{\n  \"ip\": \"2001:db8::1\",\n  \"port\": 80,\n"
                                      "  \"reachable\": false\n}\n", ip, sizeof(ip), &port, &reach), 0);
    ck_assert(port == 80 && reach == 0);
    ck_assert_int_eq(cli_echoip_format(body, sizeof(body), "11.77.0.1", 22, 1), 46);
    ck_assert_int_eq(cli_echoip_parse(body, ip, sizeof(ip), &port, &reach), 0);
    ck_assert_int_eq(cli_echoip_parse("{\"ip\":\"<script>\",\"port\":1,\"reachable\":true}", ip,
                                      sizeof(ip), &port, &reach), -1);
    ck_assert_int_eq(cli_echoip_parse("{\"ip\":\"1.2.3.4\",\"port\":99999,\"reachable\":true}", ip,
                                      sizeof(ip), &port, &reach), -1);
    ck_assert_int_eq(cli_echoip_parse("{\"ip\":\"1.2.3.4\",\"port\":1,\"reachable\":1}", ip,
                                      sizeof(ip), &port, &reach), -1);
    ck_assert_int_eq(cli_echoip_parse("<html>", ip, sizeof(ip), &port, &reach), -1);
    ck_assert_int_eq(cli_http_port_request("GET /port/8080 HTTP/1.1\r\n"), 8080);
    ck_assert_int_eq(cli_http_port_request("GET /port/0 HTTP/1.1\r\n"), -1);
    ck_assert_int_eq(cli_http_port_request("GET / HTTP/1.1\r\n"), -1);
    ck_assert_int_eq(cli_http_port_request("POST /port/80 HTTP/1.1\r\n"), -2);
}
END_TEST

static Suite *check_wire_suite(void)
{
    Suite *s = suite_create("check_wire");
    TCase *tc = tcase_create("wire");

    tcase_add_test(tc, request_round_trip);
    tcase_add_test(tc, request_refused);
    tcase_add_test(tc, reply_round_trip);
    tcase_add_test(tc, checker_specs);
    tcase_add_test(tc, echoip_answers);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(check_wire_suite)
