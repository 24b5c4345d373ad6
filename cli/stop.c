/* stop.c: SIGINT and SIGTERM for the training verbs.
 *
 * A signal only sets a flag that the training loop reads between steps, so
 * the step in flight finishes and the work so far is written whole; the verb
 * then says how to continue, and main exits 128 + the signal's number (130,
 * 143) as a shell does for a command killed by it, so that a script or a
 * scheduler can tell a stopped run from a finished one. */
#include <signal.h>

#include "cli.h"

int cli_exit_status;

static volatile int *flag;
static struct sigaction old_int, old_term;

static void on_stop(int sig)
{
    if (flag) *flag = sig;
}

void cli_catch_stop(volatile int *stop)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    flag = stop;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void cli_release_stop(void)
{
    sigaction(SIGINT, &old_int, 0);
    sigaction(SIGTERM, &old_term, 0);
    flag = 0;
}

const char *cli_signal_name(int sig) { return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal"; }
