/*
 * portmap-cli: writing to stdout and stderr. The library's engine thread
 * prints events and log lines too, so every line is written under
 * cli_out_lock to keep lines whole.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

pthread_mutex_t cli_out_lock = PTHREAD_MUTEX_INITIALIZER;
int cli_json_mode;
const char *cli_internal_host;
static int cli_status_shown; /* a status line is on the terminal */

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

const char *cli_json_bool(int b)
{
    return b ? "true" : "false";
}

const char *cli_proto_name(portmap_transport p)
{
    return p == PORTMAP_TCP ? "tcp" : "udp";
}

/* An error (code != 0) or a warning (0): a line on stderr, or with
 * --json a JSON object on stdout, where a script reads the rest. */
int cli_fail(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&cli_out_lock);
    cli_live_erase();
    if (cli_json_mode) {
        printf("{\"%s\":", code ? "error" : "warning");
        cli_json_string(stdout, msg);
        if (code)
            printf(",\"exit_code\":%d", code);
        printf("}\n");
        fflush(stdout);
    } else {
        fprintf(stderr, "portmap-cli: %s\n", msg);
    }
    pthread_mutex_unlock(&cli_out_lock);
    return code;
}

/* On a terminal, say what is going on while it takes more than a moment;
 * never on a pipe or a file, where it would be noise in the output. */
void cli_status(const char *text)
{
    if (!isatty(STDERR_FILENO) || cli_json_mode)
        return;
    pthread_mutex_lock(&cli_out_lock);
    fprintf(stderr, "\r\033[K%s", text);
    cli_status_shown = text[0] != '\0';
    pthread_mutex_unlock(&cli_out_lock);
}

/* Before a result is printed: it must not share a line with a status. */
void cli_status_clear(void)
{
    if (cli_status_shown)
        cli_status("");
}

int64_t cli_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
