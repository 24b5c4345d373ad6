/* cmd_train_control.c: `netsynth train-control`, a control branch for a trained model. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpi.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/modelfile.h"
#include "netsynth/train.h"

static volatile int stop_requested;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: netsynth train-control --model BASE --data DS -o CTL [options]\n"
            "\n"
            "Trains a control branch (a copy of the base's first blocks that reads a per-packet\n"
            "control map: protocol, direction, size bucket, TCP flags) with the base frozen, on\n"
            "the control maps of DS's own flows; with it, netsynth generate holds generated\n"
            "flows to a map. CTL names the base it belongs to. Under mpirun or srun, the\n"
            "processes share every batch and rank 0 writes (man netsynth, MPI).\n"
            "\n"
            "  --model BASE       the trained model (netsynth train)\n"
            "  --data DS          a dataset with the base's labels (usually its training set)\n"
            "  -o CTL             the control branch file to write (required)\n"
            "  --blocks K         base blocks the branch copies (default 2)\n"
            "  --steps N          optimizer steps (default 1000)\n"
            "  --batch B          flows per step (default 32)\n"
            "  --lr X             peak learning rate (default 1e-3)\n"
            "  --seed S           (default 1)\n"
            "  -j, --threads T    threads (default: all cores)\n"
            "  --log FILE         JSON lines, one per progress line (as train --log)\n"
            "  -q, --quiet        no progress lines nor summary\n"
            "  -V, --version      print the version\n"
            "  -h, --help         this text\n"
            "\n"
            "Prompt dropout, class balance and loss weights are the base's when BASE is a\n"
            "checkpoint (it keeps its training options), otherwise train's defaults.\n"
            "Ctrl-C (SIGINT) or SIGTERM stops: the branch so far goes to CTL.partial (not\n"
            "CTL), and the exit status is 130 or 143. Branches do not resume: run\n"
            "train-control again to train one fully.\n");
}

int cmd_train_control(int argc, char **argv)
{
    enum { O_MODEL = 256, O_DATA, O_BLOCKS, O_STEPS, O_BATCH, O_LR, O_SEED, O_THREADS, O_HELP };
    static const struct option opts[] = {
        {"model", 1, 0, O_MODEL}, {"data", 1, 0, O_DATA}, {"blocks", 1, 0, O_BLOCKS}, {"steps", 1, 0, O_STEPS},
        {"batch", 1, 0, O_BATCH}, {"lr", 1, 0, O_LR}, {"seed", 1, 0, O_SEED}, {"threads", 1, 0, 'j'},
        {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'},
        {"log", 1, 0, 'L'}, {0, 0, 0, 0}};
    ns_train_control_opts o;
    ns_train_control_opts_init(&o);
    o.progress = stderr;
    const char *model = NULL, *data = NULL, *out = NULL, *log_path = NULL;
    long v;
    int rc = NS_OK, c;
    optind = 1;
    opterr = 0;
    while (rc == NS_OK && (c = getopt_long(argc, argv, "o:qj:hV", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_DATA: data = optarg; break;
        case 'o': out = optarg; break;
        case 'q': o.progress = NULL; break;
        case O_BLOCKS: rc = cli_parse_long("--blocks", optarg, 1, 32, &v), o.blocks = (int)v; break;
        case O_STEPS: rc = cli_parse_long("--steps", optarg, 1, 100000000, &v), o.st.steps = v; break;
        case O_BATCH: rc = cli_parse_long("--batch", optarg, 1, 4096, &v), o.st.batch = (int)v; break;
        case O_LR: {
            char *end;
            o.st.lr = strtof(optarg, &end);
            if (end == optarg || *end || !(o.st.lr > 0 && o.st.lr <= 1))
                rc = ns_error(NS_EARG, "--lr: expected a number in (0, 1], got '%s'", optarg);
            break;
        }
        case O_SEED: rc = cli_parse_long("--seed", optarg, 0, 0x7fffffffL, &v), o.st.seed = v; break;
        case 'j': rc = cli_parse_long("--threads", optarg, 1, 1024, &v), o.threads = (int)v; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        case 'L': log_path = optarg; break;
        default: return ns_error(NS_EARG, "unknown or incomplete option '%s' (see netsynth train-control --help)",
                                 argv[optind - 1]);
        }
    }
    if (rc) return rc;
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!model || !data || !out)
        return ns_error(NS_EARG, "--model, --data and -o are required (see netsynth train-control --help)");
    ns_modelfile m;
    if ((rc = ns_modelfile_load(&m, model))) return rc;
    ns_dataset ds;
    if ((rc = ns_dataset_load(&ds, data))) {
        ns_modelfile_free(&m);
        return rc;
    }
    /* Under mpirun, rank 0 alone writes the output, the log and the lines. */
    int rank = cli_mpi_rank();
    if (rank) o.progress = NULL, log_path = NULL;
    if ((rc = cli_log_open(log_path, 0, &o.log))) {
        ns_dataset_free(&ds);
        ns_modelfile_free(&m);
        return rc;
    }
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial", out);
    o.ckpt_path = rank ? NULL : partial;
    char *prov = NULL;
    rc = cli_provenance(&prov, data, argc, argv);
    o.provenance = prov;
    o.stop = &stop_requested;
    o.dist = cli_mpi_train_begin(&stop_requested);
    ns_train_control_result res;
    cli_train_progress tp;
    cli_train_progress_start(&tp, "train-control", !o.progress);
    o.progress = tp.fp;
    if (tp.own) o.on_step = cli_train_progress_step, o.step_ctx = &tp;
    if (!rc) rc = ns_train_control(&m, &ds, &o, rank ? NULL : out, &res);
    cli_train_progress_end(&tp);
    free(prov);
    if (rc == NS_EMISMATCH) rc = ns_error_wrap(rc, "%s and %s", model, data);
    ns_dataset_free(&ds);
    ns_modelfile_free(&m);
    cli_mpi_train_end("train-control", !o.progress);
    if ((rc = cli_log_close(o.log, log_path, rc))) return rc;
    if (res.interrupted) {
        cli_exit_status = 128 + stop_requested;
        if (rank) return NS_OK;
        fprintf(stderr,
                "netsynth train-control: stopped by %s after step %lld of %lld: wrote the branch so far to %s "
                "(not %s); branches do not resume: run netsynth train-control again for the whole %lld steps\n",
                cli_signal_name(stop_requested), (long long)res.steps_done, (long long)res.steps, partial, out,
                (long long)res.steps);
        return NS_OK;
    }
    if (!o.progress) return NS_OK; /* -q */
    fprintf(stderr, "trained %lld steps in %.0f s (%.0f flows/s), loss %.4f -> %.4f: wrote %s\n",
            (long long)res.steps_done, res.seconds, res.flows_per_s, res.first_loss, res.last_loss, out);
    return NS_OK;
}
