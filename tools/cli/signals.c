/*
 * portmap-cli: SIGINT and SIGTERM end a held request. They are blocked in
 * every thread and taken synchronously by the main thread, so the release
 * that follows runs in ordinary code, not in a handler.
 */
#include <signal.h>
#include <time.h>

#include "cli.h"

static void end_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

/* Before the client is opened: the library's thread inherits the mask. */
void cli_block_signals(void)
{
    sigset_t set;

    end_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cli_wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;

    end_signals(&set);
    sigwait(&set, &sig);
    return sig;
}

/* A signal that ends the command: taken when pending, without waiting. */
int cli_signal_pending(void)
{
    static const struct timespec zero = { 0, 0 };
    sigset_t set;
    int sig;

    end_signals(&set);
    sig = sigtimedwait(&set, NULL, &zero);
    return sig > 0 ? sig : 0;
}
