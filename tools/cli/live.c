/*
 * portmap-cli request, held on a terminal: one status line per mapping
 * (external address and port, protocol, lease left, renewals), redrawn in
 * place, and a hint that Ctrl-C releases. Not on a pipe or a file, nor
 * with --json: there the event lines alone are the output. Event lines
 * and errors printed meanwhile first erase the block (cli_live_erase, under
 * cli_out_lock), and the next redraw puts it back below them.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define LIVE_REDRAW_MS 250

static int live_lines;   /* lines of it on the terminal now */

int cli_live_wanted(const cli_options *o)
{
    return !o->json && !o->once && isatty(STDOUT_FILENO);
}

/* Lock held. The cursor is below the block: go up and clear it all. */
void cli_live_erase(void)
{
    if (!live_lines)
        return;
    printf("\033[%dA\r\033[J", live_lines);
    fflush(stdout);
    live_lines = 0;
}

static void span(char *buf, size_t size, int64_t ms)
{
    long s = (long)(ms / 1000);

    if (ms < 0)
        snprintf(buf, size, "-");
    else if (s >= 3600)
        snprintf(buf, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, size, "%lds", s);
}

/* One part's line, cut to the terminal's width (a wrapped line would
 * throw the count of lines to go back up off). */
static void part_line(const portmap_mapping_info *i, int cols)
{
    char line[512], left[32];
    int v6 = i->family == PORTMAP_IPV6;
    const char *how = portmap_method_name(i->method) ? portmap_method_name(i->method) : "?";

    span(left, sizeof(left), i->expires_in_ms);
    if (i->state == PORTMAP_STATE_MAPPED)
        snprintf(line, sizeof(line), "  %s %s%s%s:%u <- %u  %s  lease %s left%s  renewed %u time%s",
                 cli_proto_name(i->protocol), v6 ? "[" : "", i->external_address, v6 ? "]" : "",
                 i->external_port, i->internal_port, how, left, i->permanent ? " (permanent)" : "",
                 i->renewals, i->renewals == 1 ? "" : "s");
    else
        snprintf(line, sizeof(line), "  %s %u %s: %s%s%s", cli_proto_name(i->protocol),
                 i->internal_port, v6 ? "IPv6 pinhole" : "mapping", portmap_state_name(i->state),
                 i->last_error ? ", " : "", i->last_error ? portmap_strerror(i->last_error) : "");
    if (cols > 1 && (int)strlen(line) >= cols)
        line[cols - 1] = '\0';
    printf("%s\n", line);
}

static void draw(portmap_mapping *const *m, int n)
{
    struct winsize ws = { 0 };
    int cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
    const char *hint = "Ctrl-C releases the mappings and exits";

    pthread_mutex_lock(&cli_out_lock);
    cli_live_erase();
    for (int k = 0; k < n; k++) {
        cli_parts p;
        cli_read_parts(m[k], &p);
        for (int f = 0; f < 2; f++) {
            if (!p.have[f] || p.info[f].state == PORTMAP_STATE_FAILED)
                continue; /* a part that failed quietly was reported, or not asked for */
            part_line(&p.info[f], cols);
            live_lines++;
        }
    }
    printf("%.*s\n", cols > 1 ? cols - 1 : 80, hint);
    live_lines++;
    fflush(stdout);
    pthread_mutex_unlock(&cli_out_lock);
}

int cli_live_hold(portmap_mapping *const *m, int n)
{
    struct timespec tick = { 0, LIVE_REDRAW_MS * 1000000L };
    int sig;

    while (!(sig = cli_signal_pending())) {
        draw(m, n);
        nanosleep(&tick, NULL);
    }
    pthread_mutex_lock(&cli_out_lock);
    cli_live_erase();
    pthread_mutex_unlock(&cli_out_lock);
    return sig;
}
