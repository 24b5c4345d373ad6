/* test_mpi.c: data-parallel training and sharded generation under mpirun
 * (issue 18; cli/mpi.c, train.h's ns_train_dist). Runs build/netsynth (or
 * $NETSYNTH_BIN) under `mpirun --allow-run-as-root --oversubscribe` (or
 * $NETSYNTH_MPIRUN); skips with a message when the program was built without
 * MPI (MPI=0) or mpirun is not installed.
 *   - 2 ranks x batch B/2 = 1 rank x batch B: 50 tiny steps, losses within
 *     1e-5 relative, weights within summation-order tolerance;
 *   - SIGTERM to rank 1 stops both after the same step with a checkpoint;
 *     resumed on 2 ranks it ends bit for bit as the run never stopped, on 1
 *     rank within summation-order tolerance;
 *   - rank 1 killed (-9): mpirun ends within seconds, non-zero, saying so,
 *     and the last checkpoint loads;
 *   - generate and dataset on 2 and 3 ranks: the bytes of one process;
 *   - finetune and train-control on 2 ranks: the losses of one. */
#include "testutil.h"

#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"

#ifndef NETSYNTH_MPI_BUILT
#define NETSYNTH_MPI_BUILT 0
#endif

enum { W = NS_NP_MODEL_WIDTH, FLOWS = 96, MAXLEN = 8 };

static const char *dir;
static char bin[1024], data[1024], mpirun[512];

/* UDP flows of three kinds and lengths 1 to 8, so that the ranks' shares of
 * a batch hold different numbers of rows (the means must still be the whole
 * batch's). */
static void write_dataset(const char *path)
{
    static const char *attr_names[] = {"kind"}, *files[] = {"made-in-test"};
    static const char *kinds[] = {"kind=a", "kind=b", "kind=c"};
    static const uint32_t attr_first[] = {0, 3};
    static ns_ds_flow fl[FLOWS];
    static int32_t labels[FLOWS];
    static int64_t iat[FLOWS * MAXLEN];
    static uint8_t dirs[FLOWS * MAXLEN], bits[FLOWS * MAXLEN * ((W + 3) / 4)];
    static const int ports[3] = {53, 123, 5353};
    int8_t row[W];
    uint64_t at = 0;
    for (int i = 0; i < FLOWS; i++) {
        int kind = i % 3, len = 1 + (i * 5) % MAXLEN;
        fl[i].first = at;
        fl[i].n_packets = fl[i].seen = (uint32_t)len;
        fl[i].proto = 17;
        labels[i] = kind;
        for (int k = 0; k < len; k++, at++) {
            int back = k % 2;
            memset(row, -1, sizeof row);
            ns_nprint_put(row, NS_NPF_IPV4_VER, 4);
            ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
            ns_nprint_put(row, NS_NPF_IPV4_TL, 28 + 10 * (uint64_t)k + (uint64_t)kind);
            ns_nprint_put(row, NS_NPF_IPV4_TTL, 64);
            ns_nprint_put(row, NS_NPF_IPV4_PROTO, 17);
            ns_nprint_put(row, NS_NPF_UDP_SPORT, back ? (uint64_t)ports[kind] : 40000 + (uint64_t)i);
            ns_nprint_put(row, NS_NPF_UDP_DPORT, back ? 40000 + (uint64_t)i : (uint64_t)ports[kind]);
            ns_nprint_put(row, NS_NPF_UDP_LEN, 8 + 10 * (uint64_t)k + (uint64_t)kind);
            ns_dataset_pack_row(row, W, bits + at * ((W + 3) / 4));
            iat[at] = k ? 1000000 * (1 + kind) : 0;
            dirs[at] = (uint8_t)back;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = MAXLEN, .n_flows = FLOWS,
                     .n_packets = at, .n_attrs = 1, .n_tokens = 3, .n_files = 1,
                     .attr_names = attr_names, .attr_first = attr_first, .tokens = kinds,
                     .files = files, .flows = fl, .labels = labels, .iat_ns = iat, .dir = dirs, .bits = bits};
    assert_int_equal(ns_dataset_write(&ds, path), NS_OK);
}

/* Whether this build and machine can run the tests; the reason when not. */
static const char *why_not(void)
{
    if (!NETSYNTH_MPI_BUILT) return "netsynth was built without MPI (MPI=0, or no mpicc: install openmpi-bin libopenmpi-dev)";
    if (!getenv("NETSYNTH_MPIRUN") && !tu_have_program("mpirun")) return "mpirun is not installed (openmpi-bin)";
    return NULL;
}

#define REQUIRE_MPI()                                                        \
    do {                                                                     \
        const char *why_ = why_not();                                        \
        if (why_) {                                                          \
            print_message("SKIP %s: %s\n", __func__, why_);                  \
            skip();                                                          \
        }                                                                    \
    } while (0)

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    if (!realpath(tu_netsynth_bin(), bin)) return -1;
    const char *m = getenv("NETSYNTH_MPIRUN");
    snprintf(mpirun, sizeof mpirun, "%s", m && *m ? m : "mpirun --allow-run-as-root --oversubscribe");
    snprintf(data, sizeof data, "%s", tu_path(dir, "train.ds"));
    write_dataset(data);
    return 0;
}

/* `netsynth ARGS` in dir, on `ranks` processes (0: without mpirun), output in
 * dir/out.txt and dir/err.txt; the exit status. */
static int run(int ranks, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(int ranks, const char *fmt, ...)
{
    char args[4096], launch[640] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    if (ranks) snprintf(launch, sizeof launch, "%s -np %d ", mpirun, ranks);
    return tu_system("cd '%s' && %s'%s' %s >out.txt 2>err.txt", dir, launch, bin, args);
}

/* A file's bytes, NUL-terminated (read to its end: /proc files have no size). */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t n = 0, cap = 4096, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, fp)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    fclose(fp);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static void err_has(const char *what)
{
    char *err = slurp(tu_path(dir, "err.txt"), NULL);
    if (!err || !strstr(err, what)) print_error("stderr lacks \"%s\":\n%s\n", what, err ? err : "(none)");
    assert_non_null(err);
    assert_non_null(strstr(err, what));
    free(err);
}

/* The "loss" of each line of a --log file. */
static int losses(const char *name, double *out, int max)
{
    char *text = slurp(tu_path(dir, name), NULL), *p = text;
    int n = 0;
    assert_non_null(text);
    while (n < max && (p = strstr(p, "\"loss\": "))) out[n++] = strtod(p += 8, NULL);
    free(text);
    return n;
}

/* The largest difference between two files' trained weights and EMA weights. */
static double weight_diff(const char *a_name, const char *b_name)
{
    ns_modelfile a, b;
    assert_int_equal(ns_modelfile_load(&a, tu_path(dir, a_name)), NS_OK);
    assert_int_equal(ns_modelfile_load(&b, tu_path(dir, b_name)), NS_OK);
    assert_int_equal(a.n_params, b.n_params);
    double worst = 0;
    for (size_t i = 0; i < a.n_params; i++) {
        worst = fmax(worst, fabs((double)a.weights[i] - b.weights[i]));
        if (a.train_w && b.train_w) worst = fmax(worst, fabs((double)a.train_w[i] - b.train_w[i]));
    }
    ns_modelfile_free(&a);
    ns_modelfile_free(&b);
    return worst;
}

#define TRAIN "train --data train.ds --config tiny --batch 8 --threads 1 --val-frac 0 --seed 5 --lr 1e-3 --warmup 10"

static void test_train_ranks_equal(void **state)
{
    (void)state;
    REQUIRE_MPI();
    assert_int_equal(run(0, TRAIN " --steps 50 --log-every 1 --log one.jsonl -o one.nsm"), 0);
    assert_int_equal(run(2, TRAIN " --steps 50 --log-every 1 --log two.jsonl -o two.nsm"), 0);
    err_has("train: 2 processes; all-reduce of"); /* really on two ranks, not twice on one */
    double a[64], b[64];
    assert_int_equal(losses("one.jsonl", a, 64), 50);
    assert_int_equal(losses("two.jsonl", b, 64), 50); /* rank 0 alone writes the log */
    double worst = 0;
    for (int i = 0; i < 50; i++) worst = fmax(worst, fabs(a[i] - b[i]) / fabs(a[i]));
    print_message("2 ranks x 4 flows vs 1 x 8, 50 steps: losses within %.2g relative, weights within %.2g\n", worst,
                  weight_diff("one.nsm.ckpt", "two.nsm.ckpt"));
    assert_true(worst <= 1e-5);
    /* The gradients agree to summation order (about 1e-7 of the largest);
     * AdamW divides each by its own root mean square, so a component near 0
     * (under its epsilon) moves by a share of the step that the order of
     * the sum decides: a few hundredths of the lr, 1e-3. */
    assert_true(weight_diff("one.nsm.ckpt", "two.nsm.ckpt") <= 5e-5);
    assert_true(weight_diff("one.nsm", "two.nsm") <= 5e-5);
    /* The blocks' sums started during the backward pass (the default) cover
     * the gradient once: the bits of summing it all afterwards, in buckets or not. */
    setenv("NETSYNTH_MPI_OVERLAP", "0", 1);
    assert_int_equal(run(2, TRAIN " --steps 50 -q -o after.nsm"), 0);
    setenv("NETSYNTH_MPI_BUCKET_MB", "0.01", 1);
    assert_int_equal(run(2, TRAIN " --steps 50 -q -o small_buckets.nsm"), 0);
    unsetenv("NETSYNTH_MPI_OVERLAP");
    assert_int_equal(run(2, TRAIN " --steps 50 -q -o overlap_buckets.nsm"), 0);
    unsetenv("NETSYNTH_MPI_BUCKET_MB");
    assert_true(weight_diff("two.nsm.ckpt", "after.nsm.ckpt") == 0);
    assert_true(weight_diff("two.nsm.ckpt", "small_buckets.nsm.ckpt") == 0);
    assert_true(weight_diff("two.nsm.ckpt", "overlap_buckets.nsm.ckpt") == 0);
}

/* The pid of rank `rank`'s process: mpirun's child whose environment says so. */
static pid_t rank_pid(pid_t launcher, int rank)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (d && !found && (e = readdir(d))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0) continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *fp = fopen(path, "r");
        if (!fp) continue;
        size_t n = fread(stat, 1, sizeof stat - 1, fp);
        fclose(fp);
        stat[n] = 0;
        char *close = strrchr(stat, ')');
        int ppid = 0;
        if (!close || sscanf(close + 2, "%*c %d", &ppid) != 1 || ppid != launcher) continue;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        size_t len = 0;
        char *env = slurp(path, &len);
        for (size_t at = 0; env && at < len; at += strlen(env + at) + 1)
            if (!strcmp(env + at, want)) found = pid;
        free(env);
    }
    if (d) closedir(d);
    return found;
}

/* Start `netsynth ARGS` on 2 ranks in dir (stdout, stderr in bg.txt); mpirun's pid. */
static pid_t start(const char *args)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "cd '%s' && exec %s -np 2 '%s' %s >bg.txt 2>&1", dir, mpirun, bin, args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait until dir/name holds `text` (60 s at most). */
static void wait_for(const char *name, const char *text)
{
    for (int i = 0; i < 600; i++) {
        char *t = slurp(tu_path(dir, name), NULL);
        int ok = t && strstr(t, text);
        free(t);
        if (ok) return;
        usleep(100000);
    }
    fail_msg("%s never showed \"%s\"", name, text);
}

/* mpirun's exit status, failing when it takes more than `limit` seconds. */
static int reap(pid_t pid, double limit, double *took)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        *took = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (r == pid) break;
        if (*took > limit) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("mpirun still running %.0f s after the signal", *took);
        }
        usleep(20000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define LONG_RUN TRAIN " --steps 100000 --log-every 1 --log bg.jsonl"

static void test_stop_resume(void **state)
{
    (void)state;
    REQUIRE_MPI();
    /* The uninterrupted run, then one stopped by SIGTERM to rank 1 alone. */
    assert_int_equal(run(2, TRAIN " --steps 60 -o whole.nsm -q"), 0);
    pid_t pid = start(TRAIN " --steps 60 -o cut.nsm --log-every 1 --log cut.jsonl");
    wait_for("cut.jsonl", "\"step\": 5,");
    pid_t r1 = rank_pid(pid, 1);
    assert_true(r1 > 0);
    kill(r1, SIGTERM);
    double took;
    int status = reap(pid, 30, &took);
    char *out = slurp(tu_path(dir, "bg.txt"), NULL);
    assert_non_null(out);
    if (!strstr(out, "stopped by SIGTERM after step")) {
        /* The signal came after the last step: nothing to resume; not a failure of stopping. */
        assert_non_null(strstr(out, "trained 60 steps"));
        free(out);
        print_message("SKIP %s: the run ended before SIGTERM reached it\n", __func__);
        skip();
    }
    free(out);
    assert_int_equal(status, 143);
    assert_int_equal(tu_system("cp '%s' '%s'", tu_path(dir, "cut.nsm.ckpt"), tu_path(dir, "cut1.ckpt")), 0);
    /* Resumed on 2 ranks: the bits of the uninterrupted run. */
    assert_int_equal(run(2, "train --data train.ds -o cut.nsm --resume cut.nsm.ckpt --threads 1 -q"), 0);
    assert_true(weight_diff("whole.nsm.ckpt", "cut.nsm.ckpt") == 0);
    /* Resumed on 1: the same run up to summation order. */
    assert_int_equal(run(0, "train --data train.ds -o cut1.nsm --resume cut1.ckpt --threads 1 -q"), 0);
    double d = weight_diff("whole.nsm.ckpt", "cut1.nsm.ckpt");
    print_message("stopped by SIGTERM on rank 1; resumed on 1 rank: weights within %.2g of the 2-rank run\n", d);
    assert_true(d <= 1e-4); /* a tenth of the lr: test_train_ranks_equal says why */
}

static void test_rank_killed(void **state)
{
    (void)state;
    REQUIRE_MPI();
    pid_t pid = start(LONG_RUN " --ckpt-every 5 -o killed.nsm");
    wait_for("bg.jsonl", "\"step\": 12,"); /* a checkpoint is written at step 10 */
    pid_t r1 = rank_pid(pid, 1);
    assert_true(r1 > 0);
    kill(r1, SIGKILL);
    double took;
    int status = reap(pid, 20, &took);
    print_message("rank 1 killed: mpirun exited %d after %.1f s\n", status, took);
    assert_int_not_equal(status, 0);
    char *out = slurp(tu_path(dir, "bg.txt"), NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "rank 1")); /* mpirun names the rank that died */
    free(out);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, tu_path(dir, "killed.nsm.ckpt")), NS_OK);
    assert_true(m.has_state && m.st.step >= 10);
    ns_modelfile_free(&m);
}

static void same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(tu_path(dir, a), &na), *y = slurp(tu_path(dir, b), &nb);
    assert_non_null(x);
    assert_non_null(y);
    if (na != nb || memcmp(x, y, na)) fail_msg("%s and %s differ", a, b);
    free(x), free(y);
}

static void test_generate_sharded(void **state)
{
    (void)state;
    REQUIRE_MPI();
    assert_int_equal(run(0, TRAIN " --steps 30 -o gen.nsm -q"), 0);
    static const char *const exts[] = {"pcap", "csv", "ds"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(run(0, "generate --model gen.nsm -n 23 --seed 4 -j 1 -q -o one.%s", exts[k]), 0);
        for (int ranks = 2; ranks <= 3; ranks++) {
            assert_int_equal(run(ranks, "generate --model gen.nsm -n 23 --seed 4 -j 1 -q -o r%d.%s", ranks, exts[k]), 0);
            char a[16], b[16];
            snprintf(a, sizeof a, "one.%s", exts[k]);
            snprintf(b, sizeof b, "r%d.%s", ranks, exts[k]);
            same_file(a, b);
        }
    }
    /* Flows past the window: one process streams them (window by window),
     * several ranks gather them and repair them whole; ns_repair_opts.window
     * makes the two the same flows (they differed in ports and IP IDs). */
    assert_int_equal(run(0, "generate --model gen.nsm -n 9 --length 3000 --seed 4 -j 1 -q -o long1.pcap"), 0);
    assert_int_equal(run(2, "generate --model gen.nsm -n 9 --length 3000 --seed 4 -j 1 -q -o long2.pcap"), 0);
    same_file("long1.pcap", "long2.pcap");
    /* A class per directory: every file the same. */
    assert_int_equal(run(0, "generate --model gen.nsm --per-class 7 --seed 4 -j 1 -q -o dir1"), 0);
    assert_int_equal(run(2, "generate --model gen.nsm --per-class 7 --seed 4 -j 1 -q -o dir2"), 0);
    assert_int_equal(tu_system("diff -r '%s' '%s'", tu_path(dir, "dir1"), tu_path(dir, "dir2")), 0);
    /* Like a dataset, each real flow's service matched: rank 0 draws the matched rounds. */
    assert_int_equal(run(0, "generate --model gen.nsm --like train.ds --seed 4 -j 1 -q -o like1"), 0);
    assert_int_equal(run(2, "generate --model gen.nsm --like train.ds --seed 4 -j 1 -q -o like2"), 0);
    assert_int_equal(tu_system("diff -r '%s' '%s'", tu_path(dir, "like1"), tu_path(dir, "like2")), 0);
}

/* dataset spreads captures over ranks: the bytes of one process, and a
 * capture that a rank other than 0 cannot read fails the job naming it. */
static void test_dataset_sharded(void **state)
{
    (void)state;
    REQUIRE_MPI();
    assert_int_equal(run(0, TRAIN " --steps 20 -o cap.nsm -q"), 0);
    FILE *fp = fopen(tu_path(dir, "labels.tsv"), "w");
    assert_non_null(fp);
    fprintf(fp, "path\tkind\n");
    for (int k = 0; k < 7; k++) {
        assert_int_equal(run(0, "generate --model cap.nsm -n %d --seed %d -j 1 -q -o cap%d.pcap", 2 + k, k, k), 0);
        fprintf(fp, "cap%d.pcap\t%c\n", k, "abc"[k % 3]);
    }
    fclose(fp);
    assert_int_equal(run(0, "dataset --labels labels.tsv --label kind -j 1 -o ds1.ds"), 0);
    for (int ranks = 2; ranks <= 3; ranks++) {
        assert_int_equal(run(ranks, "dataset --labels labels.tsv --label kind -j 1 -o ds%d.ds", ranks), 0);
        char name[16];
        snprintf(name, sizeof name, "ds%d.ds", ranks);
        same_file("ds1.ds", name);
    }
    /* cap1.pcap is rank 1's (captures go round the ranks). */
    assert_int_equal(tu_system("rm '%s'", tu_path(dir, "cap1.pcap")), 0);
    assert_int_not_equal(run(0, "dataset --labels labels.tsv --label kind -j 1 -o bad1.ds"), 0);
    err_has("cap1.pcap");
    assert_int_not_equal(run(2, "dataset --labels labels.tsv --label kind -j 1 -o bad2.ds"), 0);
    err_has("cap1.pcap");
    assert_int_equal(access(tu_path(dir, "bad2.ds"), F_OK), -1);
}

/* finetune and train-control share their batches the same way. */
static void test_other_training_verbs(void **state)
{
    (void)state;
    REQUIRE_MPI();
    assert_int_equal(run(0, TRAIN " --steps 30 -o base.nsm -q"), 0);
    /* train-control logs every 25 steps, finetune every --log-every */
    static const char *const verbs[] = {"finetune --model base.nsm --data train.ds -o %s.lora --steps 20 --log-every 1",
                                        "train-control --model base.nsm --data train.ds -o %s.nsc --steps 50"};
    static const int lines[] = {20, 2};
    for (int v = 0; v < 2; v++) {
        char cmd[512], one[600], two[600];
        snprintf(cmd, sizeof cmd, verbs[v], v ? "c" : "f");
        snprintf(one, sizeof one, "%s --batch 8 -j 1 --log one.jsonl -q", cmd);
        snprintf(two, sizeof two, "%s --batch 8 -j 1 --log two.jsonl", cmd);
        assert_int_equal(tu_system("rm -f '%s' '%s'", tu_path(dir, "one.jsonl"), tu_path(dir, "two.jsonl")), 0);
        assert_int_equal(run(0, "%s", one), 0);
        assert_int_equal(run(2, "%s", two), 0);
        err_has(v ? "train-control: 2 processes; all-reduce" : "finetune: 2 processes; all-reduce");
        double a[32], b[32], worst = 0;
        assert_int_equal(losses("one.jsonl", a, 32), lines[v]);
        assert_int_equal(losses("two.jsonl", b, 32), lines[v]);
        for (int i = 0; i < lines[v]; i++) worst = fmax(worst, fabs(a[i] - b[i]) / fabs(a[i]));
        print_message("%s: 2 ranks x 4 flows vs 1 x 8: losses within %.2g relative\n", v ? "train-control" : "finetune", worst);
        assert_true(worst <= 1e-5);
    }
}

/* A verb that does not share its work refuses to run on several. */
static void test_unshared_verb(void **state)
{
    (void)state;
    REQUIRE_MPI();
    assert_int_equal(run(2, "inspect train.ds"), 2);
    err_has("inspect does not share its work over processes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_ranks_equal),
        cmocka_unit_test(test_stop_resume),
        cmocka_unit_test(test_rank_killed),
        cmocka_unit_test(test_generate_sharded),
        cmocka_unit_test(test_other_training_verbs),
        cmocka_unit_test(test_dataset_sharded),
        cmocka_unit_test(test_unshared_verb),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    tu_cleanup();
    return rc;
}
