/* train.h: training the generator on a dataset file.
 *
 * A step: draw a batch of flows (class-balanced, see `balance`, from one
 * length bucket so padding stays small), encode them (repr.h), noise them at
 * random times (diffusion.h), drop prompts for classifier-free guidance,
 * forward, loss, backward, clip, AdamW with warmup then cosine decay, EMA.
 * Everything random in step s comes from stream s of the seed, so a run
 * resumed from a checkpoint takes the same steps as one never interrupted
 * (with the same thread count: the BLAS partitions sums by threads). */
#ifndef NETSYNTH_TRAIN_H
#define NETSYNTH_TRAIN_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stdio.h>

#include "netsynth/dataset.h"
#include "netsynth/lora.h"
#include "netsynth/modelfile.h"

/* Data-parallel training over n_ranks processes (the CLI's MPI, cli/mpi.c;
 * the library has no MPI of its own). Every rank draws the same global batch
 * of st.batch flows from the same seed and takes its slice [B r / n,
 * B (r + 1) / n), each flow with the random stream it has in one process;
 * losses are means over the whole batch (ns_model_acts_share), so summing
 * the ranks' gradients with `allreduce` gives the one-process gradient up to
 * summation order, and every rank takes the same AdamW step. `allreduce`
 * sums buf[n] over the ranks in place, the same result on every rank; it is
 * called collectively once a step, on the gradient followed by the step's 5
 * losses (the last floats of buf). A caller gives
 * the paths to write (model, checkpoint) and progress/log to rank 0 only and
 * keeps its stop flag the same on every rank (changed only inside allreduce),
 * so that all ranks stop after the same step. NULL, or n_ranks 1: alone. */
typedef struct ns_train_dist {
    int rank, n_ranks;
    int (*allreduce)(float *buf, size_t n, void *ctx);
    /* NULL, or called during a model's backward pass (train; finetune and
     * train-control do not) each time buf[off, off + n) of the gradient is
     * final (ns_model_acts_on_grad), so that its sum can start while the pass
     * goes on; `allreduce` then sums the rest of buf and waits for all. The
     * same calls in the same order on every rank. */
    int (*start)(float *buf, size_t off, size_t n, void *ctx);
    void *ctx;
} ns_train_dist;

typedef struct ns_train_opts {
    const char *config;       /* "tiny", "small", "medium", "base" */
    int d, n_layer, n_head;   /* overrides when > 0 */
    int groups;               /* tokens per packet (model.h); 0: 1 */
    int max_packets;          /* rows per flow modelled, the window (<= the dataset's cap); 0: 64
                               * (NS_FLOW_DEFAULT_PACKETS) or the cap when smaller, a version 1
                               * dataset's cap */
    ns_train_state st;        /* steps, batch, lr, ... (modelfile.h) */
    float logsnr_shift;
    int timing_bins;          /* bins of the timing head (repr.h); 0: the regressed timing of older models */
    int threads;              /* 0: OpenMP's default */
    const char *out_path;     /* the model (EMA weights) */
    const char *ckpt_path;    /* the checkpoint, with training state */
    const char *resume_path;  /* NULL, or a checkpoint to continue: its options apply, st's do not */
    int64_t resume_steps;     /* with resume_path, > 0: the run's new total (>= the steps done); 0: the
                               * checkpoint's, so the run is the one that was interrupted */
    int resume_other_data;    /* with resume_path: continue on a dataset other than the checkpoint's */
    FILE *progress;           /* progress lines, or NULL */
    volatile int *stop;       /* set asynchronously (a signal): checkpoint and return */
    int64_t stop_at_step;     /* > 0: checkpoint and return after this step, as if stopped */
    /* JSON lines, or NULL: with each progress line (every log_every steps and
     * the last) {"step", "steps", "loss", "bits", "iat", "dir", "len" (the
     * mean losses since the line before), "lr", "flows_per_s", "elapsed_s"};
     * with each validation {"step", "val_loss"}. Written whether or not
     * `progress` is set, flushed line by line (it is read while training). */
    FILE *log;
    /* Provenance lines the caller knows and training does not ("dataset=NAME\n",
     * "command=...\n"), or NULL; training adds the config, steps, losses, the
     * dataset's checksum, the build version and the date (modelfile.h) */
    const char *provenance;
    /* Called after every step (NULL: not), with the step done, the run's total
     * and that step's loss: a terminal's line redrawn in place */
    void (*on_step)(void *ctx, int64_t step, int64_t steps, float loss);
    void *step_ctx;
    const ns_train_dist *dist; /* NULL: one process */
} ns_train_opts;

/* Defaults for everything (config "medium"). */
void ns_train_opts_init(ns_train_opts *o);

/* A stopped run (*stop, stop_at_step) writes its checkpoint only, never the
 * model, and sets `interrupted`. A checkpoint that cannot be written stops
 * the run with that error, after writing the model as it is (model_written).
 * The output directories are checked before the first step. A non-finite
 * loss stops the run with an error naming the step. */
typedef struct ns_train_result {
    int64_t steps_done, steps; /* steps done of the run's total */
    int interrupted;          /* stopped by *stop or stop_at_step before the last step */
    int model_written;        /* the model (or adapter) was written to out_path */
    float last_loss, val_loss;
    double flows_per_s, seconds;
    double gflops;            /* matrix-product GFLOP/s of this run's steps (ns_model_step_flops) */
} ns_train_result;

int ns_train(const ns_dataset *ds, const ns_train_opts *o, ns_train_result *res);
/* Flow i's whole length, the length head's target: its totals' packets
 * (version 2), else the packets the capture had (`seen`, counted past the
 * cap in version 1 files too). With flows longer than the window the head
 * learns it in log2 bins past the window (model.h, len_bins). */
uint64_t ns_train_whole_length(const ns_dataset *ds, uint64_t i);
/* The window (packets per flow the model sees at once) of a training on ds
 * with train's --packets (0: the default). */
int ns_train_window(const ns_dataset *ds, int max_packets);
/* 1 when that model will generate flows longer than its window (ds records
 * longer ones) but ds keeps none past it, so training never shows it a
 * window inside a flow and each window it generates past the first comes
 * out as a flow's start (BENCHMARK.md, "Lab timing (session 8)"); else 0. */
int ns_train_window_unseen(const ns_dataset *ds, int max_packets);

/* What a checkpoint records of its dataset: 1 << 32 | CRC-32 of everything
 * training reads of it (flows' packet counts, labels, vocabulary, rows,
 * directions, times), so that a resume on other data is noticed. */
uint64_t ns_train_data_sum(const ns_dataset *ds);

/* Training a control branch (controlnet.h) for a frozen base
 * (`netsynth train-control`): batches as above, with the control maps of the
 * training flows themselves; the loss is the base's; AdamW with a short
 * warm-up and cosine decay; the raw weights are saved (runs are short). */
typedef struct ns_train_control_opts {
    int blocks;               /* K, branch blocks (default 2) */
    /* steps 1000, batch 32, lr 1e-3, seed 1, log_every 25, warmup 0 (steps / 10 + 1
     * below 500 steps, else 50), no EMA or validation, the rest training's
     * defaults. Prompt dropout, balance and loss weights are the base's own
     * when its file keeps its training state (a checkpoint). */
    ns_train_state st;
    int threads;              /* 0: OpenMP's default */
    FILE *progress;           /* progress lines, or NULL */
    FILE *log;                /* JSON lines, or NULL: as ns_train_opts.log, without validation */
    const char *ckpt_path;    /* where a stopped run writes the branch so far (NULL: nowhere) */
    volatile int *stop;       /* set asynchronously (a signal): write ckpt_path and return */
    int64_t stop_at_step;     /* > 0: stop after this step, as if *stop were set */
    const char *provenance;   /* the caller's provenance lines, as ns_train_opts' */
    void (*on_step)(void *ctx, int64_t step, int64_t steps, float loss); /* as ns_train_opts' */
    void *step_ctx;
    const ns_train_dist *dist; /* NULL: one process */
} ns_train_control_opts;

void ns_train_control_opts_init(ns_train_control_opts *o);

typedef struct ns_train_control_result {
    int64_t steps_done, steps;
    int interrupted;          /* stopped before the last step: the branch went to ckpt_path, not out_path */
    float first_loss, last_loss; /* means over the first and the last log_every steps */
    double seconds, flows_per_s;
} ns_train_control_result;

/* Train a branch for `base` on ds (whose vocabulary must be the base's) and
 * write it to out_path (controlnet.h's file). */
int ns_train_control(const ns_modelfile *base, const ns_dataset *ds, const ns_train_control_opts *o,
                     const char *out_path, ns_train_control_result *res);

/* The validation loss of a model on `count` flows of ds starting at `first`
 * in a fixed order, at fixed times and noise (comparable across runs). */
int ns_train_validate(const ns_modelfile *m, const ns_dataset *ds, const uint64_t *flows, size_t count,
                      float *loss);

/* Fine-tuning (lora.h): a new adapter of the frozen base learns ds. st's
 * steps, batch, lr, warmup, min_lr_frac, clip, seed, prompt dropout, balance,
 * loss weights, weight decay (of the low-rank factors; default 0) and
 * log_every apply (no validation, no EMA: the adapter's last weights are
 * written); prompt dropout, balance and loss weights are the base's own when
 * its file keeps its training state (a checkpoint). */
typedef struct ns_finetune_opts {
    int rank;
    float alpha;              /* the update is (alpha / rank) B A */
    ns_train_state st;
    int threads;
    const char *out_path;     /* the adapter */
    const char *ckpt_path;    /* where a stopped run writes the adapter so far (NULL: nowhere) */
    const char *base_name;    /* the base's path, for messages */
    FILE *progress;
    FILE *log;                /* JSON lines, or NULL: as ns_train_opts.log, without validation */
    volatile int *stop;       /* set asynchronously (a signal): write ckpt_path and return */
    int64_t stop_at_step;     /* > 0: stop after this step, as if *stop were set */
    const char *provenance;   /* the caller's provenance lines, as ns_train_opts' */
    void (*on_step)(void *ctx, int64_t step, int64_t steps, float loss); /* as ns_train_opts' */
    void *step_ctx;
    const ns_train_dist *dist; /* NULL: one process */
} ns_finetune_opts;

/* Defaults: rank 4, alpha 4, 1500 steps, lr 2e-3, the rest as training's. */
void ns_finetune_opts_init(ns_finetune_opts *o);

int ns_finetune(const ns_modelfile *base, const ns_dataset *ds, const ns_finetune_opts *o, ns_train_result *res);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
