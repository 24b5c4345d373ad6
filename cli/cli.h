/* cli.h: the verbs of `netsynth VERB`. Each takes its own argv (argv[0] is
 * the verb), returns NS_OK or a negative NS_E* code with the message set
 * (error.h), and never exits: only main() does. Every verb takes -h/--help
 * (its usage on stdout, NS_OK) and -V/--version; those with a summary or
 * progress take -q/--quiet, those with threads -j/--threads. */
#ifndef NETSYNTH_CLI_H
#define NETSYNTH_CLI_H

#include <stdint.h>
#include <stdio.h>

int cmd_encode(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_subset(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_unrender(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_train_control(int argc, char **argv);

/* -V/--version of every verb: prints "netsynth VERSION" to stdout, NS_OK. */
int cli_version(void);

/* Shared by verbs: print "netsynth VERB: warning" lines to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse a decimal integer option in [lo, hi]; NS_EARG naming opt otherwise. */
int cli_parse_long(const char *opt, const char *text, long lo, long hi, long *out);
/* The same for a number in [lo, hi]. */
int cli_parse_float(const char *opt, const char *text, float lo, float hi, float *out);

/* Progress of long work on stderr (progress.c): on a terminal one line
 * updated in place (count, rate, ETA), else a plain line every
 * NETSYNTH_PROGRESS_S seconds (default 10); nothing when quiet. Call
 * cli_progress_end before printing anything else to stderr. */
typedef struct cli_progress {
    const char *what, *unit;
    int on, tty, drawn;
    double t0, last, every;
    char note[48];            /* shown after the ETA ("", or ", loss 0.4321") */
} cli_progress;
void cli_progress_start(cli_progress *p, const char *what, const char *unit, int quiet);
void cli_progress_update(cli_progress *p, uint64_t done, uint64_t total);
/* The same for work known by stages: "eval: forests 2/4, 1m05s elapsed". */
void cli_progress_stage(cli_progress *p, const char *stage, uint64_t done, uint64_t total);
void cli_progress_end(cli_progress *p);
/* Seconds on the monotonic clock (progress.c), for timing a verb's work. */
double cli_now_s(void);

/* train, finetune, train-control: `fp` takes the library's progress lines
 * (NULL with quiet; stderr off a terminal; on one, a stream that clears the
 * in-place line first), and cli_train_progress_step (the options' on_step,
 * ctx tp, only when tp->p.tty) redraws "what: step/steps (pct), rate, eta,
 * loss" in place. End it before printing the summary. */
typedef struct cli_train_progress {
    cli_progress p;
    FILE *fp, *own;
} cli_train_progress;
int cli_train_progress_start(cli_train_progress *tp, const char *what, int quiet);
void cli_train_progress_step(void *ctx, int64_t step, int64_t steps, float loss);
void cli_train_progress_end(cli_train_progress *tp);

/* --log FILE of the training verbs (JSON lines, train.h): opened before the
 * work (appended to when append: a resumed run), closed with a check that
 * every line was written (rc: the work's result, returned unless NS_OK). */
/* The command line as typed: "netsynth VERB ARGS" (argv[0] is the verb),
 * words with spaces or quotes quoted; malloc'd, NULL when out of memory. */
char *cli_command_line(int argc, char **argv);
/* The provenance lines a model, adapter or branch records of its making that
 * training cannot know (modelfile.h): the dataset's name and the command line. */
int cli_provenance(char **text, const char *data_path, int argc, char **argv);

int cli_log_open(const char *path, int append, FILE **fp);
int cli_log_close(FILE *fp, const char *path, int rc);

/* Training verbs: SIGINT and SIGTERM set *stop to the signal's number until
 * cli_release_stop (stop.c). A verb that stopped on one sets cli_exit_status
 * to 128 + it and returns NS_OK; main exits with cli_exit_status. */
extern int cli_exit_status;
void cli_catch_stop(volatile int *stop);
void cli_release_stop(void);
const char *cli_signal_name(int sig);

#endif
