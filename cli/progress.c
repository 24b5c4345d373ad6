/* progress.c: progress of long verbs on stderr (cli.h). On a terminal one
 * line rewritten in place a few times a second; otherwise (a log, a pipe)
 * a plain line every NETSYNTH_PROGRESS_S seconds (default 10), since
 * carriage returns make a mess of log files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "netsynth/error.h"

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *what, const char *unit, int quiet)
{
    p->what = what, p->unit = unit;
    p->on = !quiet;
    p->tty = isatty(STDERR_FILENO);
    p->t0 = p->last = cli_now_s();
    p->drawn = 0;
    p->note[0] = 0;
    const char *e = getenv("NETSYNTH_PROGRESS_S");
    p->every = p->tty ? 0.2 : e && *e ? atof(e) : 10;
}

static void format_eta(char *buf, size_t size, double s)
{
    if (s < 60) snprintf(buf, size, "%.0f s", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total)
{
    double t = cli_now_s();
    if (!p->on || done >= total || t - p->last < p->every) return;
    p->last = t;
    double rate = done / (t - p->t0 > 1e-9 ? t - p->t0 : 1e-9);
    char eta[32];
    format_eta(eta, sizeof eta, rate > 0 ? (double)(total - done) / rate : 0);
    fprintf(stderr, "%s%s: %llu/%llu %s (%.0f%%), %.0f %s/s, eta %s%s%s", p->tty ? "\r" : "", p->what,
            (unsigned long long)done, (unsigned long long)total, p->unit, 100.0 * (double)done / (double)total, rate,
            p->unit, eta, p->note, p->tty ? "\033[K" : "\n");
    fflush(stderr);
    p->drawn = p->tty;
}

void cli_progress_stage(cli_progress *p, const char *stage, uint64_t done, uint64_t total)
{
    double t = cli_now_s();
    if (!p->on || t - p->last < p->every) return;
    p->last = t;
    char count[64] = "", el[32];
    if (total > 1) snprintf(count, sizeof count, " %llu/%llu", (unsigned long long)done, (unsigned long long)total);
    format_eta(el, sizeof el, t - p->t0);
    fprintf(stderr, "%s%s: %s%s, %s elapsed%s", p->tty ? "\r" : "", p->what, stage, count, el, p->tty ? "\033[K" : "\n");
    fflush(stderr);
    p->drawn = p->tty;
}

/* The log is read while training runs (tail -f, a plot), so it is written
 * in place, line by line, not through a temporary file as outputs are. */
int cli_log_open(const char *path, int append, FILE **fp)
{
    *fp = NULL;
    if (path && !(*fp = fopen(path, append ? "a" : "w")))
        return ns_error(NS_EIO, "%s: cannot write the log: %s", path, strerror(errno));
    return NS_OK;
}

int cli_log_close(FILE *fp, const char *path, int rc)
{
    if (fp && (ferror(fp) | fclose(fp)) && !rc) rc = ns_error(NS_EIO, "%s: writing the log failed", path);
    return rc;
}

void cli_progress_end(cli_progress *p)
{
    if (p->drawn) fputs("\r\033[K", stderr);
    p->drawn = 0;
}
