/* train_progress.c: progress of train, finetune and train-control (cli.h).
 * The library writes its own lines (the run's header, every --log-every
 * steps, validation) to a FILE; on a terminal that FILE clears the line
 * drawn in place before each of them, so the two never share a row. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netsynth/error.h"

static ssize_t clear_then_write(void *cookie, const char *buf, size_t size)
{
    cli_progress_end(cookie);
    size_t n = fwrite(buf, 1, size, stderr);
    fflush(stderr);
    return n ? (ssize_t)n : -1;
}

int cli_train_progress_start(cli_train_progress *tp, const char *what, int quiet)
{
    memset(tp, 0, sizeof *tp);
    cli_progress_start(&tp->p, what, "steps", quiet);
    if (quiet) return NS_OK;
    tp->fp = stderr;
    if (!tp->p.tty) return NS_OK; /* a log or a pipe: the --log-every lines are the periodic lines */
    cookie_io_functions_t io = {.write = clear_then_write};
    FILE *fp = fopencookie(&tp->p, "w", io);
    if (!fp) return NS_OK; /* the plain lines still work */
    setvbuf(fp, NULL, _IOLBF, 0);
    tp->fp = tp->own = fp;
    return NS_OK;
}

void cli_train_progress_step(void *ctx, int64_t step, int64_t steps, float loss)
{
    cli_train_progress *tp = ctx;
    snprintf(tp->p.note, sizeof tp->p.note, ", loss %.4f", (double)loss);
    cli_progress_update(&tp->p, (uint64_t)step, (uint64_t)steps);
}

void cli_train_progress_end(cli_train_progress *tp)
{
    if (tp->own) fclose(tp->own);
    tp->own = NULL;
    cli_progress_end(&tp->p);
}
