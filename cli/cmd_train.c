/* cmd_train.c: `netsynth train`, a prompted diffusion model from a dataset file. */
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
    fprintf(out,
            "usage: netsynth train --data DS -o MODEL [options]\n"
            "\n"
            "Trains the flow generator on a dataset file (netsynth dataset) and writes\n"
            "MODEL (EMA weights, for generate) and MODEL.ckpt (with training state, for\n"
            "--resume). Ctrl-C (SIGINT) or SIGTERM writes the checkpoint, not MODEL, says\n"
            "how to continue, and exits 130 or 143. Under mpirun or srun, the processes\n"
            "share every batch and rank 0 writes (man netsynth, MPI; docs/mpi.md).\n"
            "\n"
            "  --data DS          the dataset file (required)\n"
            "  -o MODEL           the model file to write (required)\n"
            "  --config NAME      tiny, small, medium or base (default medium: d 192, 4 layers)\n"
            "  --d N, --layers N, --heads N   override the config's width, depth, heads\n"
            "  --groups N         tokens per packet, 1 to 16 (default 1): the row's one input\n"
            "                     map writes N tokens of width d, the blocks run on all of them\n"
            "  --packets N        the window: first N packets per flow modelled (default 64,\n"
            "                     or the dataset's cap when smaller)\n"
            "  --steps N          optimizer steps (default 27000: about 51-58 minutes on 2\n"
            "                     cores with the medium config, 38 with small; fewer train\n"
            "                     faster and worse)\n"
            "  --batch B          flows per step (default 64)\n"
            "  --lr X             peak learning rate (default 1e-3)\n"
            "  --warmup N         linear warm-up steps, then cosine decay (default 200)\n"
            "  --weight-decay X   AdamW decay of matrix weights (default 0.01)\n"
            "  --clip X           gradient-norm clip (default 1)\n"
            "  --ema X            EMA decay of the sampling weights (default 0.999)\n"
            "  --p-uncond X       share of flows trained without prompt (default 0.1)\n"
            "  --p-token-drop X   share of prompt tokens dropped one by one (default 0.15)\n"
            "  --balance X        sample flows by (first label's count)^-X (default 0.5)\n"
            "  --continuation-share X   of the draws of a flow longer than the window (a\n"
            "                     dataset of whole flows), the share that trains a window\n"
            "                     inside it rather than its first packets (default 0.5)\n"
            "  --self-cond P      self-conditioning: the network also reads its own estimate\n"
            "                     of the clean rows, which sampling passes from step to step;\n"
            "                     P of the flows of each step first run without one to make\n"
            "                     it (about 1 + P/3 times the time a step; default 0: none)\n"
            "  --logsnr-shift X   shift of the noise schedule's log-SNR (default 0)\n"
            "  --timing-bins N    bins of log inter-arrival time the timing head predicts\n"
            "                     (default 256); 0: one regressed value, as models before\n"
            "  --val-frac X       flows held back for the validation loss (default 0.05, at most 512)\n"
            "  --seed S           (default 1)\n"
            "  -j, --threads T    threads (default: all cores); keep it fixed for identical runs\n"
            "  --resume CKPT      continue a checkpoint with its own options and steps, the\n"
            "                     same as if never interrupted; --steps N changes the total\n"
            "                     (and so the schedule); other options are ignored\n"
            "  --resume-on-other-data  resume although DS is not the checkpoint's dataset\n"
            "  --checkpoint PATH  where the checkpoint goes (default MODEL.ckpt)\n"
            "  --log-every N, --eval-every N, --ckpt-every N   (defaults 50, 500, 500)\n"
            "  --log FILE         JSON lines, one per progress line (step, steps, loss and its\n"
            "                     parts bits/iat/dir/len, lr, flows_per_s, elapsed_s, and\n"
            "                     long_draws/inner_draws: draws of flows longer than the\n"
            "                     window, and of them windows inside) and per validation\n"
            "                     (step, val_loss), for plotting; with -q too\n"
            "  -q, --quiet        no progress lines nor summary\n"
            "  -V, --version      print the version\n"
            "  -h, --help         this text\n");
}

int cmd_train(int argc, char **argv)
{
    enum { O_DATA = 256, O_CONFIG, O_D, O_LAYERS, O_HEADS, O_GROUPS, O_PACKETS, O_STEPS, O_BATCH, O_LR, O_WARMUP, O_WD,
           O_CLIP, O_EMA, O_PUNCOND, O_PDROP, O_BALANCE, O_CONT, O_SELFCOND, O_SHIFT, O_BINS, O_VAL, O_SEED, O_THREADS, O_RESUME, O_CKPT,
           O_LOG, O_EVAL, O_CKPTN, O_OTHER, O_HELP };
    static const struct option opts[] = {
        {"data", 1, 0, O_DATA}, {"config", 1, 0, O_CONFIG}, {"d", 1, 0, O_D}, {"layers", 1, 0, O_LAYERS},
        {"heads", 1, 0, O_HEADS}, {"groups", 1, 0, O_GROUPS}, {"packets", 1, 0, O_PACKETS}, {"steps", 1, 0, O_STEPS},
        {"batch", 1, 0, O_BATCH}, {"lr", 1, 0, O_LR}, {"warmup", 1, 0, O_WARMUP},
        {"weight-decay", 1, 0, O_WD}, {"clip", 1, 0, O_CLIP}, {"ema", 1, 0, O_EMA},
        {"p-uncond", 1, 0, O_PUNCOND}, {"p-token-drop", 1, 0, O_PDROP}, {"balance", 1, 0, O_BALANCE},
        {"continuation-share", 1, 0, O_CONT}, {"self-cond", 1, 0, O_SELFCOND},
        {"logsnr-shift", 1, 0, O_SHIFT}, {"timing-bins", 1, 0, O_BINS}, {"val-frac", 1, 0, O_VAL}, {"seed", 1, 0, O_SEED},
        {"threads", 1, 0, 'j'}, {"resume", 1, 0, O_RESUME}, {"checkpoint", 1, 0, O_CKPT},
        {"resume-on-other-data", 0, 0, O_OTHER}, {"log-every", 1, 0, O_LOG}, {"eval-every", 1, 0, O_EVAL}, {"ckpt-every", 1, 0, O_CKPTN},
        {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'},
        {"log", 1, 0, 'L'}, {0, 0, 0, 0}};
    ns_train_opts o;
    ns_train_opts_init(&o);
    o.progress = stderr;
    const char *data = NULL, *log_path = NULL;
    long v;
    int rc = NS_OK, c;
    optind = 1;
    opterr = 0;
    const char *ignored = NULL; /* a training option --resume overrides with the checkpoint's */
    int li = -1;
    while (rc == NS_OK && (c = getopt_long(argc, argv, "o:qj:hV", opts, &li)) != -1) {
        if (li >= 0 && c != O_STEPS && ((c >= O_CONFIG && c <= O_SEED) || c == O_LOG || c == O_EVAL || c == O_CKPTN))
            ignored = opts[li].name;
        li = -1;
        switch (c) {
        case O_DATA: data = optarg; break;
        case 'o': o.out_path = optarg; break;
        case 'q': o.progress = NULL; break;
        case O_CONFIG: o.config = optarg; break;
        case O_D: rc = cli_parse_long("--d", optarg, 8, 4096, &v), o.d = (int)v; break;
        case O_LAYERS: rc = cli_parse_long("--layers", optarg, 1, 32, &v), o.n_layer = (int)v; break;
        case O_HEADS: rc = cli_parse_long("--heads", optarg, 1, 256, &v), o.n_head = (int)v; break;
        case O_GROUPS: rc = cli_parse_long("--groups", optarg, 1, NS_MODEL_MAX_GROUPS, &v), o.groups = (int)v; break;
        case O_PACKETS: rc = cli_parse_long("--packets", optarg, 1, 1024, &v), o.max_packets = (int)v; break;
        case O_STEPS: rc = cli_parse_long("--steps", optarg, 1, 100000000, &v), o.st.steps = o.resume_steps = v; break;
        case O_BATCH: rc = cli_parse_long("--batch", optarg, 1, 4096, &v), o.st.batch = (int)v; break;
        case O_LR: rc = cli_parse_float("--lr", optarg, 0, 1, &o.st.lr); break;
        case O_WARMUP: rc = cli_parse_long("--warmup", optarg, 1, 100000000, &v), o.st.warmup = (int)v; break;
        case O_WD: rc = cli_parse_float("--weight-decay", optarg, 0, 1, &o.st.weight_decay); break;
        case O_CLIP: rc = cli_parse_float("--clip", optarg, 0, 1e6f, &o.st.clip); break;
        case O_EMA: rc = cli_parse_float("--ema", optarg, 0, 1, &o.st.ema_decay); break;
        case O_PUNCOND: rc = cli_parse_float("--p-uncond", optarg, 0, 1, &o.st.p_uncond); break;
        case O_PDROP: rc = cli_parse_float("--p-token-drop", optarg, 0, 1, &o.st.p_token_drop); break;
        case O_BALANCE: rc = cli_parse_float("--balance", optarg, 0, 2, &o.st.balance); break;
        case O_CONT: rc = cli_parse_float("--continuation-share", optarg, 0, 1, &o.st.cont_share); break;
        case O_SELFCOND: rc = cli_parse_float("--self-cond", optarg, 0, 1, &o.st.self_cond); break;
        case O_SHIFT: rc = cli_parse_float("--logsnr-shift", optarg, -20, 20, &o.logsnr_shift); break;
        case O_BINS:
            rc = cli_parse_long("--timing-bins", optarg, 0, NS_MODEL_MAX_TIMING_BINS, &v), o.timing_bins = (int)v;
            if (!rc && v == 1) rc = ns_error(NS_EARG, "--timing-bins 1: give 0 (regressed timing) or 2 to %d bins",
                                             NS_MODEL_MAX_TIMING_BINS);
            break;
        case O_VAL: rc = cli_parse_float("--val-frac", optarg, 0, 0.5f, &o.st.val_frac); break;
        case O_SEED: rc = cli_parse_long("--seed", optarg, 0, 0x7fffffffL, &v), o.st.seed = v; break;
        case 'j': rc = cli_parse_long("--threads", optarg, 1, 1024, &v), o.threads = (int)v; break;
        case O_RESUME: o.resume_path = optarg; break;
        case O_OTHER: o.resume_other_data = 1; break;
        case O_CKPT: o.ckpt_path = optarg; break;
        case O_LOG: rc = cli_parse_long("--log-every", optarg, 0, 100000000, &v), o.st.log_every = (int)v; break;
        case O_EVAL: rc = cli_parse_long("--eval-every", optarg, 0, 100000000, &v), o.st.eval_every = (int)v; break;
        case O_CKPTN: rc = cli_parse_long("--ckpt-every", optarg, 0, 100000000, &v), o.st.ckpt_every = (int)v; break;
        case 'L': log_path = optarg; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        default: return ns_error(NS_EARG, "unknown or incomplete option '%s' (see netsynth train --help)",
                                 argv[optind - 1]);
        }
    }
    if (rc) return rc;
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!data || !o.out_path) return ns_error(NS_EARG, "--data and -o are required (see netsynth train --help)");
    if (o.resume_path && ignored)
        cli_warn("train: --%s is ignored with --resume: the checkpoint's options apply (only --steps changes)",
                 ignored);
    char ckpt[4096];
    if (!o.ckpt_path) {
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", o.out_path);
        o.ckpt_path = ckpt;
    }
    /* Under mpirun, rank 0 alone writes the model, the checkpoint, the log and the lines. */
    int rank = cli_mpi_rank();
    if (rank) o.progress = NULL, log_path = NULL;
    ns_dataset ds;
    if ((rc = ns_dataset_load(&ds, data))) return rc;
    if (!o.resume_path && !rank && ns_train_window_unseen(&ds, o.max_packets))
        cli_warn("train: warning: %s keeps at most %u packets a flow, the model's window is %d, and some flows were "
                 "longer: it will generate them whole but never sees a window inside a flow, so each window past "
                 "the first comes out as a flow's start; build the dataset without --packets to keep whole flows",
                 data, ds.max_packets, ns_train_window(&ds, o.max_packets));
    if ((rc = cli_log_open(log_path, o.resume_path != NULL, &o.log))) {
        ns_dataset_free(&ds);
        return rc;
    }
    char *prov = NULL;
    if ((rc = cli_provenance(&prov, data, argc, argv))) {
        ns_dataset_free(&ds);
        return cli_log_close(o.log, log_path, rc);
    }
    o.provenance = prov;
    o.stop = &stop_requested;
    o.dist = cli_mpi_train_begin(&stop_requested);
    ns_train_result res;
    cli_train_progress tp;
    cli_train_progress_start(&tp, "train", !o.progress);
    o.progress = tp.fp;
    if (tp.own) o.on_step = cli_train_progress_step, o.step_ctx = &tp;
    ns_train_opts mine = o;
    if (rank) mine.out_path = NULL, mine.ckpt_path = NULL;
    rc = ns_train(&ds, &mine, &res);
    cli_train_progress_end(&tp);
    free(prov);
    cli_mpi_train_end("train", !o.progress);
    ns_dataset_free(&ds);
    if ((rc = cli_log_close(o.log, log_path, rc))) return rc;
    if (res.interrupted) {
        cli_exit_status = 128 + stop_requested;
        if (rank) return NS_OK;
        fprintf(stderr,
                "netsynth train: stopped by %s after step %lld of %lld: wrote the checkpoint %s (not %s); "
                "continue with: netsynth train --data %s -o %s --resume %s%s%s\n",
                cli_signal_name(stop_requested), (long long)res.steps_done, (long long)res.steps, o.ckpt_path,
                o.out_path, data, o.out_path, o.ckpt_path, o.ckpt_path == ckpt ? "" : " --checkpoint ",
                o.ckpt_path == ckpt ? "" : o.ckpt_path);
        return NS_OK;
    }
    if (!o.progress) return NS_OK; /* -q */
    fprintf(stderr,
            "trained %lld steps in %.0f s (%.0f flows/s, %.1f GFLOP/s in matrix products), final loss %.4f, "
            "validation %.4f: wrote %s and %s\n",
            (long long)res.steps_done, res.seconds, res.flows_per_s, res.gflops, res.last_loss, res.val_loss,
            o.out_path, o.ckpt_path);
    return NS_OK;
}
