/* cmd_finetune.c: `netsynth finetune`, a LoRA adapter that teaches a trained
 * model new classes (lora.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpi.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/train.h"

static volatile int stop_requested;

static void usage(FILE *out)
{
    ns_finetune_opts d;
    ns_finetune_opts_init(&d);
    fprintf(out,
            "usage: netsynth finetune --model BASE --data DS -o ADAPTER [options]\n"
            "\n"
            "Teaches a trained model the classes of DS with a low-rank adapter: the base\n"
            "stays frozen; W + (alpha/rank) B A on every block's attention and MLP weights\n"
            "and on the output layer (B starting at zero), and an embedding for each prompt\n"
            "token the base never trained on, are learned; `netsynth generate --model BASE\n"
            "--lora ADAPTER` loads it. A hundred flows of a new class are enough (subset\n"
            "--only device=X --per-class 100 picks them). Under mpirun or srun, the processes\n"
            "share every batch and rank 0 writes (man netsynth, MPI).\n"
            "\n"
            "  --model BASE       the trained model (netsynth train)\n"
            "  --data DS          the flows to learn (a dataset file with the base's attributes)\n"
            "  -o ADAPTER         the adapter file to write, atomically\n"
            "  --rank R           rank of each update (default %d)\n"
            "  --alpha X          the update is (alpha/rank) B A (default %g)\n"
            "  --steps N          optimizer steps (default %lld)\n"
            "  --batch B          flows per step (default %d)\n"
            "  --lr X             peak learning rate (default %g)\n"
            "  --warmup N         linear warm-up steps, then cosine decay (default %d)\n"
            "  --seed S           (default %lld)\n"
            "  -j, --threads T    threads (default: all cores)\n"
            "  --log-every N      progress line every N steps (default %d)\n"
            "  --log FILE         JSON lines, one per progress line (as train --log)\n"
            "  -q, --quiet        no progress lines nor summary\n"
            "  -V, --version      print the version\n"
            "  -h, --help         this text\n"
            "\n"
            "Ctrl-C (SIGINT) or SIGTERM stops: the adapter so far goes to ADAPTER.partial\n"
            "(not ADAPTER), and the exit status is 130 or 143. Adapters do not resume: run\n"
            "finetune again to train one fully.\n",
            d.rank, (double)d.alpha, (long long)d.st.steps, d.st.batch, (double)d.st.lr, d.st.warmup,
            (long long)d.st.seed, d.st.log_every);
}

int cmd_finetune(int argc, char **argv)
{
    enum { O_MODEL = 256, O_DATA, O_RANK, O_ALPHA, O_STEPS, O_BATCH, O_LR, O_WARMUP, O_SEED, O_THREADS, O_LOG };
    static const struct option opts[] = {
        {"model", 1, 0, O_MODEL},     {"data", 1, 0, O_DATA},   {"output", 1, 0, 'o'},      {"rank", 1, 0, O_RANK},
        {"alpha", 1, 0, O_ALPHA},     {"steps", 1, 0, O_STEPS}, {"batch", 1, 0, O_BATCH},   {"lr", 1, 0, O_LR},
        {"warmup", 1, 0, O_WARMUP},   {"seed", 1, 0, O_SEED},   {"threads", 1, 0, 'j'},
        {"log-every", 1, 0, O_LOG},   {"quiet", 0, 0, 'q'},     {"help", 0, 0, 'h'},        {"version", 0, 0, 'V'},
        {"log", 1, 0, 'L'},           {0, 0, 0, 0}};
    ns_finetune_opts o;
    ns_finetune_opts_init(&o);
    o.progress = stderr;
    const char *model_path = NULL, *data = NULL, *log_path = NULL;
    long v;
    int c, rc = NS_OK;
    optind = 1;
    opterr = 0;
    while (rc == NS_OK && (c = getopt_long(argc, argv, "o:qj:hV", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_path = optarg; break;
        case O_DATA: data = optarg; break;
        case 'o': o.out_path = optarg; break;
        case O_RANK: rc = cli_parse_long("--rank", optarg, 1, 256, &v), o.rank = (int)v; break;
        case O_ALPHA: rc = cli_parse_float("--alpha", optarg, 1e-3f, 1e4f, &o.alpha); break;
        case O_STEPS: rc = cli_parse_long("--steps", optarg, 1, 100000000, &v), o.st.steps = v; break;
        case O_BATCH: rc = cli_parse_long("--batch", optarg, 1, 4096, &v), o.st.batch = (int)v; break;
        case O_LR: rc = cli_parse_float("--lr", optarg, 0, 1, &o.st.lr); break;
        case O_WARMUP: rc = cli_parse_long("--warmup", optarg, 1, 100000000, &v), o.st.warmup = (int)v; break;
        case O_SEED: rc = cli_parse_long("--seed", optarg, 0, 0x7fffffffL, &v), o.st.seed = v; break;
        case 'j': rc = cli_parse_long("--threads", optarg, 1, 1024, &v), o.threads = (int)v; break;
        case O_LOG: rc = cli_parse_long("--log-every", optarg, 0, 100000000, &v), o.st.log_every = (int)v; break;
        case 'q': o.progress = NULL; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        case 'L': log_path = optarg; break;
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (see netsynth finetune --help)",
                            argv[optind - 1]);
        }
    }
    if (rc) return rc;
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!model_path || !data || !o.out_path)
        return ns_error(NS_EARG, "--model, --data and -o are required (see netsynth finetune --help)");
    o.base_name = model_path;
    ns_modelfile base;
    if ((rc = ns_modelfile_load(&base, model_path))) return rc;
    ns_dataset ds;
    if ((rc = ns_dataset_load(&ds, data))) {
        ns_modelfile_free(&base);
        return rc;
    }
    /* Under mpirun, rank 0 alone writes the output, the log and the lines. */
    int rank = cli_mpi_rank();
    if (rank) o.progress = NULL, log_path = NULL;
    if ((rc = cli_log_open(log_path, 0, &o.log))) {
        ns_dataset_free(&ds);
        ns_modelfile_free(&base);
        return rc;
    }
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial", o.out_path);
    o.ckpt_path = rank ? NULL : partial;
    if (rank) o.out_path = NULL;
    char *prov = NULL;
    rc = cli_provenance(&prov, data, argc, argv);
    o.provenance = prov;
    o.stop = &stop_requested;
    o.dist = cli_mpi_train_begin(&stop_requested);
    ns_train_result res;
    cli_train_progress tp;
    cli_train_progress_start(&tp, "finetune", !o.progress);
    o.progress = tp.fp;
    if (tp.own) o.on_step = cli_train_progress_step, o.step_ctx = &tp;
    if (!rc) rc = ns_finetune(&base, &ds, &o, &res);
    cli_train_progress_end(&tp);
    free(prov);
    cli_mpi_train_end("finetune", !o.progress);
    rc = cli_log_close(o.log, log_path, rc);
    ns_dataset_free(&ds);
    ns_modelfile_free(&base);
    if (rc) return rc;
    if (res.interrupted) {
        cli_exit_status = 128 + stop_requested;
        if (rank) return NS_OK;
        fprintf(stderr,
                "netsynth finetune: stopped by %s after step %lld of %lld: wrote the adapter so far to %s (not %s); "
                "adapters do not resume: run netsynth finetune again for the whole %lld steps\n",
                cli_signal_name(stop_requested), (long long)res.steps_done, (long long)res.steps, partial, o.out_path,
                (long long)res.steps);
        return NS_OK;
    }
    if (!o.progress) return NS_OK; /* -q */
    fprintf(stderr, "fine-tuned %lld steps in %.0f s (%.0f flows/s), final loss %.4f: wrote %s\n",
            (long long)res.steps_done, res.seconds, res.flows_per_s, res.last_loss, o.out_path);
    return NS_OK;
}
