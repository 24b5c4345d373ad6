/* test_faults.c: kill -9 at random points of `netsynth train` (steps,
 * checkpoint writes, the model write) and `netsynth generate`, dozens of
 * times, in one folder. After every kill, every output file present is whole
 * (`netsynth inspect` loads it; a pcap reads to its end without a cut), and
 * the only temporary files are those of writers killed since the last run
 * that wrote the same output (each write removes its dead writers'
 * temporaries, fileio.h). A last uninterrupted run of each leaves none.
 *
 * The kill times are random but the seed is printed, and NETSYNTH_FAULT_SEED
 * repeats a run. NETSYNTH_FAULT_ROUNDS sets the kills per verb (default 24). */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"

enum { W = NS_NP_MODEL_WIDTH, RB = (W + 3) / 4, FLOWS = 24, LEN = 3 };

static void put_bits(int8_t *row, int col, int width, uint32_t v)
{
    for (int k = 0; k < width; k++) row[col + k] = (int8_t)(v >> (width - 1 - k) & 1);
}

/* Two kinds of small flows: TCP to 443 and UDP to 53. */
static const char *make_dataset(const char *dir)
{
    static const char *attr_names[] = {"kind"}, *tokens[] = {"kind=dns", "kind=web"}, *files[] = {"made-in-test"};
    static const uint32_t attr_first[] = {0, 2};
    ns_ds_flow flows[FLOWS];
    int32_t labels[FLOWS];
    int64_t iat[FLOWS * LEN];
    uint8_t dirs[FLOWS * LEN], bits[FLOWS * LEN * RB];
    int8_t row[W];
    memset(flows, 0, sizeof flows);
    int ip = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_IPV4);
    int tcp = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_TCP);
    int udp = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_UDP);
    for (int f = 0; f < FLOWS; f++) {
        int web = f & 1;
        flows[f].first = (uint64_t)f * LEN;
        flows[f].n_packets = flows[f].seen = LEN;
        flows[f].proto = web ? 6 : 17;
        labels[f] = web;
        for (int k = 0; k < LEN; k++) {
            memset(row, -1, W);
            put_bits(row, ip, 4, 4), put_bits(row, ip + 4, 4, 5), put_bits(row, ip + 8, 8, 0);
            put_bits(row, ip + 16, 16, web ? 40 : 28);
            put_bits(row, ip + 32, 16, (uint32_t)(f * 7 + k));
            put_bits(row, ip + 48, 16, 0x4000), put_bits(row, ip + 64, 8, 64), put_bits(row, ip + 72, 8, web ? 6 : 17);
            put_bits(row, ip + 80, 16, 0);
            if (web) {
                put_bits(row, tcp, 16, k == 1 ? 443 : 50000), put_bits(row, tcp + 16, 16, k == 1 ? 50000 : 443);
                put_bits(row, tcp + 32, 32, 0), put_bits(row, tcp + 64, 32, 0);
                put_bits(row, tcp + 96, 4, 5), put_bits(row, tcp + 100, 3, 0);
                put_bits(row, tcp + 103, 9, k == 0 ? 0x002 : k == 1 ? 0x012 : 0x010);
                put_bits(row, tcp + 112, 16, 65535), put_bits(row, tcp + 128, 32, 0);
            } else {
                put_bits(row, udp, 16, k == 1 ? 53 : 40000), put_bits(row, udp + 16, 16, k == 1 ? 40000 : 53);
                put_bits(row, udp + 32, 16, 8), put_bits(row, udp + 48, 16, 0);
            }
            ns_dataset_pack_row(row, W, bits + (size_t)(f * LEN + k) * RB);
            iat[f * LEN + k] = k ? 1000000 : 0;
            dirs[f * LEN + k] = k == 1;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = RB, .max_packets = 4, .n_flows = FLOWS, .n_packets = FLOWS * LEN,
                     .n_attrs = 1, .n_tokens = 2, .n_files = 1, .attr_names = attr_names, .attr_first = attr_first,
                     .tokens = tokens, .files = files, .flows = flows, .labels = labels, .iat_ns = iat, .dir = dirs,
                     .bits = bits};
    static char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(dir, "in.ds"));
    assert_int_equal(ns_dataset_write(&ds, path), NS_OK);
    return path;
}

/* Outputs the verbs write, watched by inode and modification time (a commit
 * renames a new file over the old one, so a change means the write went
 * through its ns_outfile_open, which removes its dead writers' temporaries). */
enum { MAX_OUT = 4, MAX_KILLED = 256 };

typedef struct watch {
    const char *dir;
    const char *outs[MAX_OUT];
    int n_outs;
    ino_t ino[MAX_OUT];
    struct timespec mtime[MAX_OUT];
    pid_t killed[MAX_KILLED];   /* every pid killed so far */
    int n_killed;
    int since[MAX_OUT];         /* killed[] index from which output i's temporaries may remain */
} watch;

static void identity(const char *dir, const char *name, ino_t *ino, struct timespec *mtime)
{
    struct stat st;
    memset(mtime, 0, sizeof *mtime);
    *ino = 0;
    if (stat(tu_path(dir, name), &st) == 0) *ino = st.st_ino, *mtime = st.st_mtim;
}

static void note_outputs(watch *w)
{
    for (int i = 0; i < w->n_outs; i++) identity(w->dir, w->outs[i], &w->ino[i], &w->mtime[i]);
}

/* Outputs rewritten by the run whose pids start at killed[run]: from now on
 * only temporaries of pids from that index on may remain for them. */
static void note_rewrites(watch *w, int run)
{
    for (int i = 0; i < w->n_outs; i++) {
        ino_t ino;
        struct timespec t;
        identity(w->dir, w->outs[i], &ino, &t);
        if (ino != w->ino[i] || t.tv_sec != w->mtime[i].tv_sec || t.tv_nsec != w->mtime[i].tv_nsec) w->since[i] = run;
    }
}

static pid_t spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", 1);
        if (null >= 0) dup2(null, 1), dup2(null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

/* Whether name is "OUT.tmp.PID.XXXXXX" of one of the outputs; sets *out and *pid. */
static int temp_of(const watch *w, const char *name, int *out, long *pid)
{
    for (int i = 0; i < w->n_outs; i++) {
        size_t n = strlen(w->outs[i]);
        if (strncmp(name, w->outs[i], n) || strncmp(name + n, ".tmp.", 5)) continue;
        char *end;
        *pid = strtol(name + n + 5, &end, 10);
        if (*end == '.' && strlen(end + 1) == 6) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

/* After a run: the files present are whole, the temporaries are allowed ones. */
static void check_folder(watch *w, const char *when)
{
    const char *bin = tu_netsynth_bin();
    DIR *d = opendir(w->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (name[0] == '.' || !strcmp(name, "in.ds") || !strcmp(name, "err")) continue;
        int out;
        long pid;
        if (temp_of(w, name, &out, &pid)) {
            int allowed = 0;
            for (int k = w->since[out]; k < w->n_killed; k++)
                allowed |= w->killed[k] == pid;
            if (!allowed) fail_msg("%s: stray temporary file %s (its output was written since)", when, name);
            continue;
        }
        if (strstr(name, ".tmp.")) fail_msg("%s: unexpected temporary file %s", when, name);
        size_t n = strlen(name);
        int rc = n > 5 && !strcmp(name + n - 5, ".pcap")
                     ? tu_system("%s encode -P '%s/%s' -W /dev/null 2>'%s/err' && ! grep -q truncated '%s/err'", bin,
                                 w->dir, name, w->dir, w->dir)
                     : tu_system("%s inspect '%s/%s' >/dev/null 2>'%s/err'", bin, w->dir, name, w->dir);
        if (rc != 0) {
            tu_system("cat '%s/err' >&2", w->dir);
            fail_msg("%s: %s is not a whole file", when, name);
        }
    }
    closedir(d);
}

/* One run of argv, to its end or killed -9 after kill_ms (< 0: never); its
 * wall time in ms. */
static double run_once(watch *w, char *const argv[], int kill_ms, const char *verb, int round)
{
    note_outputs(w);
    int run = w->n_killed, status;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = spawn(argv);
    if (kill_ms >= 0) {
        struct timespec ts = {kill_ms / 1000, (long)(kill_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (kill_ms >= 0) {
        assert_true(w->n_killed < MAX_KILLED);
        w->killed[w->n_killed++] = pid;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("%s: an uninterrupted run failed", verb);
    }
    note_rewrites(w, run);
    char when[64];
    snprintf(when, sizeof when, "%s round %d", verb, round);
    check_folder(w, when);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/* A whole run to time it, `rounds` runs killed at a random point of that
 * time, a whole run again: after it no temporary file is left. */
static void kill_rounds(watch *w, char *const argv[], int rounds, const char *verb)
{
    double ms = run_once(w, argv, -1, verb, 0);
    int max_ms = (int)(ms * 1.1) + 1, cut_short = 0;
    for (int r = 1; r <= rounds; r++) {
        int at = rand() % (max_ms + 1);
        cut_short += run_once(w, argv, at, verb, r) < ms * 0.95;
    }
    run_once(w, argv, -1, verb, rounds + 1);
    print_message("%s: a whole run %.0f ms; %d kills at 0..%d ms, %d of them before the end\n", verb, ms, rounds,
                  max_ms, cut_short);
    DIR *d = opendir(w->dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) fail_msg("%s: %s left after a whole run", verb, e->d_name);
    closedir(d);
}

static void test_kill_train_and_generate(void **state)
{
    (void)state;
    const char *env = getenv("NETSYNTH_FAULT_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    env = getenv("NETSYNTH_FAULT_ROUNDS");
    int rounds = env ? atoi(env) : 24;
    print_message("fault seed %u (NETSYNTH_FAULT_SEED repeats it), %d kills per verb\n", seed, rounds);
    srand(seed);
    const char *dir = tu_tmpdir(), *bin = tu_netsynth_bin();
    const char *ds = make_dataset(dir);
    char model[4096], ckpt[4096], pcap[4096], synth[4096];
    snprintf(model, sizeof model, "%s", tu_path(dir, "m.nsm"));
    snprintf(ckpt, sizeof ckpt, "%s", tu_path(dir, "m.nsm.ckpt"));
    snprintf(pcap, sizeof pcap, "%s", tu_path(dir, "out.pcap"));
    snprintf(synth, sizeof synth, "%s", tu_path(dir, "out.ds"));

    watch w = {.dir = dir, .outs = {"m.nsm", "m.nsm.ckpt", "out.pcap", "out.ds"}, .n_outs = 4,
               .since = {0, 0, 0, 0}};
    /* Training: a checkpoint every 2 steps, so kills land in steps, in
     * checkpoint writes and in the model write at the end. */
    char *train[] = {(char *)bin, "train", "--data", (char *)ds, "-o", model, "--checkpoint", ckpt, "--config", "tiny",
                     "--steps", "80", "--batch", "4", "--warmup", "2", "--ckpt-every", "2", "--eval-every", "0",
                     "--val-frac", "0", "--threads", "1", "-q", NULL};
    kill_rounds(&w, train, rounds, "train");
    char *gen_pcap[] = {(char *)bin, "generate", "--model", model, "--prompt", "kind=web", "-n", "24", "--steps", "2",
                        "--threads", "1", "-o", pcap, NULL};
    kill_rounds(&w, gen_pcap, rounds / 2, "generate pcap");
    char *gen_ds[] = {(char *)bin, "generate", "--model", model, "-n", "24", "--steps", "2", "--threads", "1",
                      "-o", synth, NULL};
    kill_rounds(&w, gen_ds, rounds / 2, "generate ds");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_train_and_generate),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
