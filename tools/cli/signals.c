/*
 * portmap-cli: SIGINT and SIGTERM. They are blocked in every thread and
 * taken by a thread of their own, so that a command busy in a library call
 * (a discovery, a cleanup, a wait for a router that does not answer) still
 * ends within a moment:
 *  - a command that holds nothing ends at once (exit 128 + the signal);
 *    what it was doing is safe to cut short: the journal is replaced
 *    atomically, and an orphan claimed but not yet released is released by
 *    the next client, as the claimer is dead too;
 *  - a request (cli_hold_on_signal) is told, releases what it holds within
 *    CLI_SIGNAL_RELEASE_MS and ends; a second signal ends it at once.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cli.h"

static atomic_int signal_seen; /* the first signal of a holding command; 0 none */
static atomic_int holding;
static sem_t signalled;

static void end_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

static void *watch_signals(void *arg)
{
    static const char msg[] = "portmap-cli: interrupted\n";
    sigset_t set;
    ssize_t w;

    (void)arg;
    end_signals(&set);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (atomic_load(&holding) && !atomic_load(&signal_seen)) {
            atomic_store(&signal_seen, sig);
            sem_post(&signalled);
            continue;
        }
        w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(128 + sig);
    }
    return NULL;
}

/* Before the client is opened: the library's thread inherits the mask. */
void cli_block_signals(void)
{
    pthread_t t;
    sigset_t set;

    end_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sem_init(&signalled, 0, 0);
    /* without the watcher the signals stay blocked: the command still
     * ends, at its own timeout */
    if (pthread_create(&t, NULL, watch_signals, NULL) == 0)
        pthread_detach(t);
}

void cli_hold_on_signal(void)
{
    atomic_store(&holding, 1);
}

int cli_wait_for_signal(void)
{
    while (sem_wait(&signalled) != 0 && errno == EINTR)
        ;
    return atomic_load(&signal_seen);
}

int cli_signal_pending(void)
{
    return atomic_load(&signal_seen);
}
