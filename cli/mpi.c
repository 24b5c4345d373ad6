/* mpi.c: data-parallel training and sharded generation over MPI (mpi.h).
 *
 * Compiled with NETSYNTH_MPI (the Makefile's MPI=1) against any MPI-3
 * library; without it, the functions at the end stand in for one process.
 * MPI starts only when a launcher started us, so that a plain `netsynth`
 * built with MPI neither needs nor contacts a runtime. */
#include "mpi.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"

#ifdef NETSYNTH_MPI
#include <mpi.h>
#include <omp.h>
#include <time.h>
#include <unistd.h>

static int started, rank, size = 1;

/* The variables that Open MPI's mpirun, MPICH's Hydra and Slurm's srun set
 * in every process they start. */
static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static int mpi_fail(int err, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(err, text, &n);
    return ns_error(NS_EIO, "%s (rank %d of %d): %.*s", what, rank, size, n, text);
}

int cli_mpi_start(int *argc, char ***argv)
{
    if (!launched()) return NS_OK;
    int err = MPI_Init(argc, argv);
    if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Init");
    started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* Errors come back as codes, to be reported as the verb's error; the
     * job is then aborted whole (cli_mpi_finish). */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    /* Ranks sharing a node share its cores: OpenMP's default of every core
     * per rank would oversubscribe them (-j and OMP_NUM_THREADS still rule). */
    MPI_Comm node;
    int local = 1;
    if (size > 1 && !getenv("OMP_NUM_THREADS") &&
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        int threads = cores / local > 1 ? (int)(cores / local) : 1;
        if (local > 1) omp_set_num_threads(threads);
    }
    return NS_OK;
}

/* MPI_Waitall that sleeps: MPI spins while it waits, and on a node whose
 * cores are busy (more ranks than cores, or other work) a spinning rank takes
 * the core that the rank it waits for needs. Spin 100 us (a dedicated node's
 * all-reduce is done by then), then test every 200 us, asleep in between. */
static int wait_all(int n, MPI_Request *req)
{
    double t0 = MPI_Wtime();
    for (;;) {
        int done = 0, err = MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (err != MPI_SUCCESS || done) return err;
        if (MPI_Wtime() - t0 > 100e-6) nanosleep(&(struct timespec){0, 200000}, NULL);
    }
}

int cli_mpi_rank(void) { return rank; }
int cli_mpi_size(void) { return size; }

void cli_mpi_finish(int failed, int status)
{
    if (!started) return;
    if (failed && size > 1) {
        fflush(stdout), fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
    MPI_Finalize();
#ifdef __SANITIZE_ADDRESS__
    /* Open MPI does not free what its plugins allocated, and their frames
     * (built without frame pointers) cannot be unwound for a suppression: a
     * sanitizer build (make asan) ends an MPI run without the leak check at
     * exit, which every one-process run keeps. */
    fflush(NULL);
    _exit(status);
#endif
}

int cli_mpi_alone(const char *verb)
{
    if (size <= 1) return NS_OK;
    return ns_error(NS_EARG, "%s does not share its work over processes: run it without mpirun (or with -np 1); "
                             "train, finetune, train-control, generate and dataset do", verb);
}

/* ---- training ---- */

static volatile int pending;  /* this rank's signal, until an all-reduce agrees on it */

enum { MAX_REQ = 512, MAX_SPANS = 2 * NS_MODEL_MAX_LAYERS + 8 };

typedef struct mpi_train {
    ns_train_dist dist;
    volatile int *stop;
    size_t bucket;            /* floats per MPI_Iallreduce */
    int overlap;              /* start slices during the backward pass (train_start) */
    /* this step's sums in flight: requests, and the spans of buf they cover */
    MPI_Request req[MAX_REQ + 1];
    int n_req, n_spans;
    size_t span_off[MAX_SPANS], span_n[MAX_SPANS];
    double reduce_s, first_t, last_t;
    uint64_t calls, floats;
    int buckets, buckets_last;    /* this step's so far, the last step's */
    size_t early, early_last;     /* floats started during the backward pass: the same */
} mpi_train;

static mpi_train train;

/* buf[off, off + n) summed over the ranks in place, in buckets, in flight. */
static int sum_span(mpi_train *mt, float *buf, size_t off, size_t n)
{
    size_t bucket = mt->bucket, left = (size_t)(MAX_REQ - mt->n_req);
    if (!left) return ns_error(NS_EIO, "more than %d all-reduces in flight", MAX_REQ);
    if ((n + bucket - 1) / bucket > left) bucket = (n + left - 1) / left; /* fewer, larger buckets */
    if (bucket > INT_MAX) bucket = INT_MAX; /* MPI counts are ints */
    for (size_t at = off; at < off + n; at += bucket) {
        size_t c = off + n - at < bucket ? off + n - at : bucket;
        if (mt->n_req == MAX_REQ) return ns_error(NS_EIO, "more than %d all-reduces in flight", MAX_REQ);
        int err = MPI_Iallreduce(MPI_IN_PLACE, buf + at, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                                 &mt->req[mt->n_req++]);
        if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Iallreduce of the gradient");
        mt->buckets++;
    }
    return NS_OK;
}

/* ns_train_dist.start: a final slice of the gradient, during the backward
 * pass, starts its sum; a test of what is in flight lets MPI move it on
 * (without a progress thread it moves only inside MPI calls). */
static int train_start(float *buf, size_t off, size_t n, void *ctx)
{
    mpi_train *mt = ctx;
    if (!mt->overlap || mt->n_spans == MAX_SPANS) return NS_OK; /* summed with the rest */
    mt->span_off[mt->n_spans] = off, mt->span_n[mt->n_spans++] = n;
    mt->early += n;
    int rc = sum_span(mt, buf, off, n), done;
    if (!rc && MPI_Testall(mt->n_req, mt->req, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
        rc = ns_error(NS_EIO, "MPI_Testall of the gradient's sums");
    return rc;
}

/* Sums buf over the ranks: what train_start did not start, in buckets, and
 * the stop flag (MAX), all in flight at once, then waits for everything, so
 * that the ranks meet once a step (on a busy machine each meeting waits for a
 * descheduled rank) and every rank sees a signal after the same step. */
static int train_allreduce(float *buf, size_t n, void *ctx)
{
    mpi_train *mt = ctx;
    double t0 = MPI_Wtime();
    /* The gaps between the started spans, in ascending order on every rank. */
    for (int i = 1; i < mt->n_spans; i++)
        for (int j = i; j > 0 && mt->span_off[j - 1] > mt->span_off[j]; j--) {
            size_t o = mt->span_off[j], c = mt->span_n[j];
            mt->span_off[j] = mt->span_off[j - 1], mt->span_n[j] = mt->span_n[j - 1];
            mt->span_off[j - 1] = o, mt->span_n[j - 1] = c;
        }
    int rc = NS_OK;
    size_t at = 0;
    for (int i = 0; !rc && i <= mt->n_spans; i++) {
        size_t end = i < mt->n_spans ? mt->span_off[i] : n;
        if (end > at) rc = sum_span(mt, buf, at, end - at);
        if (i < mt->n_spans) at = mt->span_off[i] + mt->span_n[i];
    }
    int mine = pending, agreed = 0, err = MPI_SUCCESS;
    if (!rc) err = MPI_Iallreduce(&mine, &agreed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &mt->req[mt->n_req++]);
    if (!rc && err == MPI_SUCCESS) err = wait_all(mt->n_req, mt->req);
    if (!rc && err != MPI_SUCCESS) rc = mpi_fail(err, "MPI_Iallreduce of the gradient");
    int buckets = mt->buckets;
    size_t early = mt->early;
    mt->n_req = mt->n_spans = mt->buckets = mt->early = 0;
    if (rc) return rc;
    if (agreed) *mt->stop = agreed;
    double t1 = MPI_Wtime();
    if (!mt->calls) mt->first_t = t0;
    else mt->reduce_s += t1 - t0; /* the first waits for the slowest start: not counted */
    mt->last_t = t0;
    mt->calls++, mt->floats = n, mt->buckets_last = buckets, mt->early_last = early;
    return NS_OK;
}

static void on_stop(int sig) { pending = sig; }

const ns_train_dist *cli_mpi_train_begin(volatile int *stop)
{
    if (size <= 1) {
        cli_catch_stop(stop);
        return NULL;
    }
    memset(&train, 0, sizeof train);
    train.dist = (ns_train_dist){.rank = rank, .n_ranks = size, .allreduce = train_allreduce, .start = train_start,
                                 .ctx = &train};
    train.stop = stop;
    /* 1 (default): the heads' and each block's gradient start their sums as
     * the backward pass finishes them; 0: all after it (BENCHMARK.md, MPI). */
    const char *ov = getenv("NETSYNTH_MPI_OVERLAP");
    train.overlap = !ov || strcmp(ov, "0");
    /* 0 (default): the whole gradient in one bucket; BENCHMARK.md, MPI. */
    const char *mb = getenv("NETSYNTH_MPI_BUCKET_MB");
    double m = mb ? atof(mb) : 0;
    train.bucket = m > 0 ? (size_t)(m * 1048576 / sizeof(float)) : (size_t)1 << 62;
    if (!train.bucket) train.bucket = 1;
    pending = 0;
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &train.dist;
}

void cli_mpi_train_end(const char *verb, int quiet)
{
    if (size <= 1) {
        cli_release_stop();
        return;
    }
    signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL);
    if (quiet || rank || train.calls < 2) return;
    double steps = (double)(train.calls - 1), step_s = (train.last_t - train.first_t) / steps;
    double red_s = train.reduce_s / steps, mb = (double)train.floats * sizeof(float) / 1048576;
    fprintf(stderr,
            "%s: %d processes; all-reduce of %.2f MiB of gradient per step (%d bucket%s, %.0f%% started during the "
            "backward pass; ring traffic %.2f MiB per rank): %.2f ms of a %.2f ms step (%.1f%%) after the backward "
            "pass\n",
            verb, size, mb, train.buckets_last, train.buckets_last == 1 ? "" : "s",
            train.floats ? 100.0 * train.early_last / (double)train.floats : 0, mb * 2 * (size - 1) / size,
            red_s * 1e3, step_s * 1e3, step_s > 0 ? 100 * red_s / step_s : 0);
}

/* ---- sharded work ---- */

static double gather_s, wait_s;
static uint64_t gather_bytes;

void cli_mpi_gather_cost(double *wait, double *seconds, uint64_t *bytes)
{
    *wait = wait_s, *seconds = gather_s, *bytes = gather_bytes;
}

/* Point to point in pieces under 1 GiB: MPI counts are ints. */
static int xfer(void *p, size_t bytes, int peer, int send)
{
    for (size_t at = 0; at < bytes;) {
        int c = bytes - at < (size_t)1 << 30 ? (int)(bytes - at) : 1 << 30;
        int err = send ? MPI_Send((char *)p + at, c, MPI_BYTE, peer, 18, MPI_COMM_WORLD)
                       : MPI_Recv((char *)p + at, c, MPI_BYTE, peer, 18, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (err != MPI_SUCCESS) return mpi_fail(err, send ? "MPI_Send to rank 0" : "MPI_Recv from a rank");
        at += (size_t)c;
    }
    return NS_OK;
}

int cli_mpi_gather_bytes(void *ctx, const void *buf, size_t len, void **all, size_t *all_len)
{
    *all = NULL, *all_len = 0;
    if (size <= 1) return NS_OK;
    uint64_t n = len;
    if (rank) {
        int rc = xfer(&n, sizeof n, 0, 1);
        return rc ? rc : xfer((void *)buf, len, 0, 1);
    }
    uint64_t *lens = malloc(sizeof *lens * (size_t)size);
    if (!lens) return ns_error(NS_ENOMEM, "out of memory");
    size_t total = 0;
    int rc = NS_OK;
    for (int r = 1; !rc && r < size; r++)
        if (!(rc = xfer(&lens[r], sizeof lens[r], r, 0))) total += lens[r];
    char *p = rc ? NULL : malloc(total + 1);
    if (!rc && !p) rc = ns_error(NS_ENOMEM, "out of memory for %zu bytes from the other ranks", total);
    size_t at = 0;
    for (int r = 1; !rc && r < size; r++) {
        rc = xfer(p + at, lens[r], r, 0);
        at += lens[r];
    }
    free(lens);
    if (rc) {
        free(p);
        return rc;
    }
    *all = p, *all_len = total;
    return NS_OK;
}

int cli_mpi_gather_flows(ns_gen_flows *g)
{
    gather_s = wait_s = 0, gather_bytes = 0;
    if (size <= 1) return NS_OK;
    /* The wait for the slowest rank apart from the transfer itself. */
    double t0 = MPI_Wtime();
    MPI_Request req;
    int err = MPI_Ibarrier(MPI_COMM_WORLD, &req);
    if (err == MPI_SUCCESS) err = wait_all(1, &req);
    if (err != MPI_SUCCESS) return mpi_fail(err, "MPI_Ibarrier before gathering flows");
    wait_s = MPI_Wtime() - t0;
    t0 = MPI_Wtime();
    size_t A = g->n_attrs, W = NS_NP_MODEL_WIDTH;
    int rc = NS_OK;
    if (rank) {
        uint64_t n[2] = {g->n_flows, g->n_rows};
        rc = xfer(n, sizeof n, 0, 1);
        if (!rc) rc = xfer(g->len, g->n_flows * sizeof *g->len, 0, 1);
        if (!rc) rc = xfer(g->labels, g->n_flows * A * sizeof *g->labels, 0, 1);
        if (!rc) rc = xfer(g->rows, g->n_rows * W, 0, 1);
        if (!rc) rc = xfer(g->dir, g->n_rows, 0, 1);
        if (!rc) rc = xfer(g->iat_ns, g->n_rows * sizeof *g->iat_ns, 0, 1);
        ns_gen_flows_free(g);
        g->n_attrs = (uint32_t)A;
    } else {
        for (int r = 1; !rc && r < size; r++) {
            uint64_t n[2];
            if ((rc = xfer(n, sizeof n, r, 0)) || (rc = ns_gen_flows_reserve(g, n[0], n[1]))) break;
            size_t f0 = g->n_flows, r0 = g->n_rows;
            if (!rc) rc = xfer(g->len + f0, n[0] * sizeof *g->len, r, 0);
            if (!rc) rc = xfer(g->labels + f0 * A, n[0] * A * sizeof *g->labels, r, 0);
            if (!rc) rc = xfer(g->rows + r0 * W, n[1] * W, r, 0);
            if (!rc) rc = xfer(g->dir + r0, n[1], r, 0);
            if (!rc) rc = xfer(g->iat_ns + r0, n[1] * sizeof *g->iat_ns, r, 0);
            for (size_t i = 0; !rc && i < n[0]; i++)
                g->first[f0 + i] = (i ? g->first[f0 + i - 1] + g->len[f0 + i - 1] : r0);
            g->n_flows += n[0], g->n_rows += n[1];
            gather_bytes += n[0] * (sizeof *g->len + A * sizeof *g->labels) + n[1] * (W + 1 + sizeof *g->iat_ns);
        }
    }
    gather_s = MPI_Wtime() - t0;
    return rc;
}

#else /* no MPI: one process */

int cli_mpi_start(int *argc, char ***argv) { return NS_OK; }
int cli_mpi_rank(void) { return 0; }
int cli_mpi_size(void) { return 1; }
void cli_mpi_finish(int failed, int status) {}
int cli_mpi_alone(const char *verb) { return NS_OK; }
const ns_train_dist *cli_mpi_train_begin(volatile int *stop)
{
    cli_catch_stop(stop);
    return NULL;
}
void cli_mpi_train_end(const char *verb, int quiet) { cli_release_stop(); }
int cli_mpi_gather_flows(ns_gen_flows *g) { return NS_OK; }
int cli_mpi_gather_bytes(void *ctx, const void *buf, size_t len, void **all, size_t *all_len)
{
    *all = NULL, *all_len = 0;
    return NS_OK;
}
void cli_mpi_gather_cost(double *wait, double *seconds, uint64_t *bytes) { *wait = *seconds = 0, *bytes = 0; }

#endif

void cli_mpi_share(size_t n, size_t align, size_t *first, size_t *count)
{
    size_t r = (size_t)cli_mpi_rank(), s = (size_t)cli_mpi_size(), blocks = (n + align - 1) / align;
    size_t a = blocks * r / s * align, b = blocks * (r + 1) / s * align;
    *first = a < n ? a : n;
    *count = (b < n ? b : n) - *first;
}
