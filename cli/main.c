/* main.c: `netsynth VERB [options]`, the only place that prints errors and exits. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mpi.h"
#include "netsynth/error.h"
#include "netsynth/netsynth.h"

static const struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int shared;   /* shares its work over MPI ranks (mpi.h); others refuse to run on several */
} verbs[] = {
    {"encode", cmd_encode, "pcap/pcapng -> nPrint CSV, byte-identical to nPrint 1.2.1", 0},
    {"decode", cmd_decode, "nPrint CSV -> pcap with real lengths, timestamps and checksums", 0},
    {"dataset", cmd_dataset, "labelled captures -> one binary training file of flows", 1},
    {"subset", cmd_subset, "some of a dataset's flows (by label tokens, per class) -> a dataset", 0},
    {"inspect", cmd_inspect, "summarise any netsynth file", 0},
    {"render", cmd_render, "flows -> PNG images (1 red, 0 green, -1 grey)", 0},
    {"unrender", cmd_unrender, "PNG images -> nPrint CSV", 0},
    {"train", cmd_train, "dataset -> a prompted diffusion model of flows", 1},
    {"finetune", cmd_finetune, "model + a few flows of new classes -> a LoRA adapter", 1},
    {"generate", cmd_generate, "model + prompt -> synthetic flows", 1},
    {"train-control", cmd_train_control, "model + dataset -> a control branch (generate --controlnet)", 1},
    {"eval", cmd_eval, "classifier fidelity: real, TSTR and TRTS accuracy and macro-F1", 0},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: netsynth VERB [options]    (netsynth VERB --help for its options)\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(out, "\n  -h, --help     this text\n  -V, --version  print the version\n");
}

int cli_version(void)
{
    printf("netsynth %s\n", ns_version());
    return NS_OK;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("netsynth: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_parse_long(const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return ns_error(NS_EARG, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, text);
    *out = v;
    return NS_OK;
}

int cli_parse_float(const char *opt, const char *text, float lo, float hi, float *out)
{
    char *end;
    float v = strtof(text, &end);
    if (end == text || *end || !(v >= lo && v <= hi))
        return ns_error(NS_EARG, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, text);
    *out = v;
    return NS_OK;
}

/* OpenMP's worker threads spin between parallel regions by default. On a
 * machine whose cores are busy with anything else, the spinning thread holds
 * a core the working one needs: a training step ran 6x slower (34 vs 220
 * flows/s at load 8 on 2 cores). libgomp reads OMP_WAIT_POLICY once, when it
 * loads, so when the user has not chosen one we set "passive" and start the
 * program again; if that fails we simply carry on. */
static void prefer_passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    prefer_passive_openmp(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("netsynth %s\n", ns_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(argv[1], verbs[i].name)) continue;
        int rc = cli_mpi_start(&argc, &argv);
        if (!rc && !verbs[i].shared) rc = cli_mpi_alone(verbs[i].name);
        if (!rc) rc = verbs[i].run(argc - 1, argv + 1);
        if (rc == NS_OK) {
            cli_mpi_finish(0, cli_exit_status);
            return cli_exit_status;
        }
        if (cli_mpi_size() > 1)
            fprintf(stderr, "netsynth %s (rank %d of %d): %s\n", verbs[i].name, cli_mpi_rank(), cli_mpi_size(),
                    ns_errmsg()[0] ? ns_errmsg() : ns_strerror(rc));
        else
            fprintf(stderr, "netsynth %s: %s\n", verbs[i].name, ns_errmsg()[0] ? ns_errmsg() : ns_strerror(rc));
        cli_mpi_finish(1, rc == NS_EARG ? 2 : 1);
        return rc == NS_EARG ? 2 : 1;
    }
    fprintf(stderr, "netsynth: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
