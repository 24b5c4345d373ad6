/* test_lab.c: the committed lab corpus (lab/corpus, made by lab/capture.sh).
 *
 * It ships with the project, so these run everywhere, without ../shared:
 * the label table is well-formed and complete, every capture is readable,
 * and `netsynth dataset --label app,rtt,loss` turns it into the expected
 * classes with flow counts within a stated tolerance of the script's design.
 * NETSYNTH_LAB=dir checks another run of the script (the reproducibility
 * check in lab/README.md). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netsynth/capture.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/labels.h"


/* What lab/capture.sh makes by default: per service, the flows one capture
 * holds (each client connection, DNS query or NTP exchange is a flow; ICMP
 * is one flow per address pair) and the server port that names them. */
static const struct {
    const char *app;
    int flows_per_capture;
    int port;        /* server port of its flows; 0 for ICMP */
} APPS[] = {
    {"web", 3, 80},      {"download", 2, 80},  {"https", 2, 443},     {"ssh", 3, 22},
    {"dns", 7, 53},      {"ntp", 3, 123},      {"ping", 2, 0},        {"iperf-tcp", 2, 5201},
    {"iperf-udp", 2, 5201}, {"mqtt", 3, 1883},
};
enum { N_APPS = sizeof APPS / sizeof APPS[0] };
static const char *RTTS[] = {"10ms", "50ms", "200ms"};
static const int RTT_MS[] = {10, 50, 200};
static const char *LOSSES[] = {"0%", "1%"};
enum { N_RTTS = 3, N_LOSSES = 2, REPS = 5 };
/* Flow counts per class may differ from the design by this share (a new
 * run's chronyd may take one more or one fewer sample, a lost SYN under loss
 * may be retried from a new port); the committed corpus is within it. */
#define FLOW_TOLERANCE 0.10
#define MAX_CAPTURE_BYTES (300 * 1024)
#define MAX_CORPUS_BYTES (5 * 1024 * 1024)

static const char *lab_dir(void)
{
    const char *d = getenv("NETSYNTH_LAB");
    return d && *d ? d : "lab/corpus";
}

static int app_index(const char *app)
{
    for (int i = 0; i < N_APPS; i++)
        if (!strcmp(APPS[i].app, app)) return i;
    return -1;
}

static int index_of(const char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return i;
    return -1;
}

static void load_table(ns_labels *t)
{
    int rc = ns_labels_load(t, tu_path(lab_dir(), "labels.tsv"));
    if (rc) print_message("%s\n", ns_errmsg());
    assert_int_equal(rc, NS_OK);
}

/* Columns, values, one capture per (app, rtt, loss, rep), a 4:1 split per condition. */
static void test_label_table(void **state)
{
    (void)state;
    ns_labels t;
    load_table(&t);
    const char *want[] = {"path", "app", "rtt", "loss", "split"};
    assert_int_equal(t.n_cols, 5);
    for (int c = 0; c < 5; c++) assert_string_equal(t.cols[c], want[c]);
    assert_int_equal(t.n_rows, N_APPS * N_RTTS * N_LOSSES * REPS);

    int n_train[N_APPS][N_RTTS][N_LOSSES] = {{{0}}}, n_test[N_APPS][N_RTTS][N_LOSSES] = {{{0}}};
    for (size_t r = 0; r < t.n_rows; r++) {
        const char *path = ns_labels_cell(&t, r, 0), *app = ns_labels_cell(&t, r, 1);
        const char *rtt = ns_labels_cell(&t, r, 2), *loss = ns_labels_cell(&t, r, 3);
        const char *split = ns_labels_cell(&t, r, 4);
        int a = app_index(app), k = index_of(RTTS, N_RTTS, rtt), l = index_of(LOSSES, N_LOSSES, loss);
        if (a < 0 || k < 0 || l < 0) print_message("row %zu: %s %s %s\n", r + 1, app, rtt, loss);
        assert_true(a >= 0 && k >= 0 && l >= 0);
        /* pcaps/<app>/<app>-rtt<R>-loss<L>-<rep>.pcap, relative, no way out of the folder */
        char prefix[256];
        snprintf(prefix, sizeof prefix, "pcaps/%s/%s-rtt%dms-loss%c-", app, app, RTT_MS[k], loss[0]);
        if (strncmp(path, prefix, strlen(prefix))) print_message("row %zu: path %s\n", r + 1, path);
        assert_int_equal(strncmp(path, prefix, strlen(prefix)), 0);
        assert_null(strstr(path, ".."));
        assert_int_equal(strcmp(path + strlen(path) - 5, ".pcap"), 0);
        for (size_t q = 0; q < r; q++) assert_string_not_equal(path, ns_labels_cell(&t, q, 0));
        if (!strcmp(split, "train")) n_train[a][k][l]++;
        else if (!strcmp(split, "test")) n_test[a][k][l]++;
        else fail_msg("row %zu: split '%s'", r + 1, split);
    }
    for (int a = 0; a < N_APPS; a++)
        for (int k = 0; k < N_RTTS; k++)
            for (int l = 0; l < N_LOSSES; l++) {
                if (n_train[a][k][l] != REPS - 1 || n_test[a][k][l] != 1)
                    print_message("%s %s %s: %d train, %d test\n", APPS[a].app, RTTS[k], LOSSES[l],
                                  n_train[a][k][l], n_test[a][k][l]);
                assert_int_equal(n_train[a][k][l], REPS - 1);
                assert_int_equal(n_test[a][k][l], 1);
            }
    ns_labels_free(&t);
}

/* Every capture opens, is Ethernet, has packets, ends cleanly; sizes stay small. */
static void test_captures_readable(void **state)
{
    (void)state;
    ns_labels t;
    load_table(&t);
    uint64_t total = 0;
    for (size_t r = 0; r < t.n_rows; r++) {
        const char *path = tu_path(lab_dir(), ns_labels_cell(&t, r, 0));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (st.st_size > MAX_CAPTURE_BYTES) print_message("%s: %lld bytes\n", path, (long long)st.st_size);
        assert_true(st.st_size <= MAX_CAPTURE_BYTES);
        total += (uint64_t)st.st_size;
        ns_capture *c;
        int rc = ns_capture_open(&c, path, NULL);
        if (rc) print_message("%s\n", ns_errmsg());
        assert_int_equal(rc, NS_OK);
        assert_int_equal(ns_capture_linktype(c), NS_LINKTYPE_ETHERNET);
        ns_frame f;
        int n = 0;
        int64_t last = 0;
        while ((rc = ns_capture_next(c, &f)) == 1) {
            assert_true(f.caplen >= 14 + 20 && f.caplen <= f.wirelen);
            assert_true(f.ts_ns >= last);
            last = f.ts_ns;
            n++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(ns_capture_truncated_records(c), 0);
        if (n < 2) print_message("%s: %d packets\n", path, n);
        assert_true(n >= 2);
        ns_capture_close(c);
    }
    print_message("lab corpus: %zu captures, %llu bytes\n", t.n_rows, (unsigned long long)total);
    assert_true(total <= MAX_CORPUS_BYTES);
    ns_labels_free(&t);
}

static void build(const char *dir, const char *split, ns_dataset *ds)
{
    const char *out = tu_path(dir, split ? split : "all");
    char opt[64] = "";
    if (split) snprintf(opt, sizeof opt, "--split %s", split);
    int rc = tu_system("%s dataset --labels '%s/labels.tsv' --label app,rtt,loss %s -o '%s' >'%s.log' 2>&1",
                       tu_netsynth_bin(), lab_dir(), opt, out, out);
    if (rc) tu_system("cat '%s.log'", out);
    assert_int_equal(rc, 0);
    rc = ns_dataset_load(ds, out);
    if (rc) print_message("%s\n", ns_errmsg());
    assert_int_equal(rc, NS_OK);
}

/* Attribute a's value of flow i, without the "name=" prefix. */
static const char *value_of(const ns_dataset *ds, uint64_t i, uint32_t a)
{
    int32_t tok = ds->labels[i * ds->n_attrs + a];
    assert_true(tok >= 0 && (uint32_t)tok < ds->n_tokens);
    const char *eq = strchr(ds->tokens[tok], '=');
    assert_non_null(eq);
    return eq + 1;
}

/* The whole corpus and each split: the expected classes, flow counts per class
 * within FLOW_TOLERANCE of the design, every flow on its service's port. */
static void test_dataset_classes(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    const char *splits[] = {NULL, "train", "test"};
    const int captures_per_class[] = {N_RTTS * N_LOSSES * REPS, N_RTTS * N_LOSSES * (REPS - 1), N_RTTS * N_LOSSES};
    for (int s = 0; s < 3; s++) {
        ns_dataset ds;
        build(dir, splits[s], &ds);
        assert_int_equal(ds.n_attrs, 3);
        assert_string_equal(ds.attr_names[0], "app");
        assert_string_equal(ds.attr_names[1], "rtt");
        assert_string_equal(ds.attr_names[2], "loss");
        /* vocabulary from the whole table: every value, whatever the split */
        assert_int_equal(ds.n_tokens, N_APPS + N_RTTS + N_LOSSES);
        for (int a = 0; a < N_APPS; a++) {
            char tok[64];
            snprintf(tok, sizeof tok, "app=%s", APPS[a].app);
            assert_true(ns_dataset_token(&ds, tok) >= 0);
        }
        uint64_t per_app[N_APPS] = {0}, per_cond[N_APPS][N_RTTS][N_LOSSES] = {{{0}}};
        for (uint64_t i = 0; i < ds.n_flows; i++) {
            int a = app_index(value_of(&ds, i, 0)), k = index_of(RTTS, N_RTTS, value_of(&ds, i, 1));
            int l = index_of(LOSSES, N_LOSSES, value_of(&ds, i, 2));
            assert_true(a >= 0 && k >= 0 && l >= 0);
            per_app[a]++, per_cond[a][k][l]++;
            const ns_ds_flow *f = &ds.flows[i];
            if (APPS[a].port) {
                if (f->server_port != APPS[a].port)
                    print_message("%s flow %llu: server port %u\n", APPS[a].app, (unsigned long long)i, f->server_port);
                assert_int_equal(f->server_port, APPS[a].port);
                assert_true(f->proto == 6 || f->proto == 17);
            } else {
                assert_int_equal(f->proto, 1);
            }
        }
        for (int a = 0; a < N_APPS; a++) {
            double want = (double)APPS[a].flows_per_capture * captures_per_class[s];
            print_message("%-6s %-10s %4llu flows (design %4.0f)\n", splits[s] ? splits[s] : "all", APPS[a].app,
                          (unsigned long long)per_app[a], want);
            assert_true((double)per_app[a] >= want * (1 - FLOW_TOLERANCE));
            assert_true((double)per_app[a] <= want * (1 + FLOW_TOLERANCE));
            for (int k = 0; k < N_RTTS; k++)
                for (int l = 0; l < N_LOSSES; l++) assert_true(per_cond[a][k][l] > 0);
        }
        ns_dataset_free(&ds);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The asked condition is in the captures: per rtt value, the median time from
 * a TCP SYN to its SYN/ACK (as the client sees it) is within 20% of the rtt. */
static void test_handshake_rtt(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    ns_dataset ds;
    build(dir, NULL, &ds);
    int64_t *rtt = malloc(ds.n_flows * sizeof *rtt);
    assert_non_null(rtt);
    for (int k = 0; k < N_RTTS; k++) {
        size_t n = 0;
        for (uint64_t i = 0; i < ds.n_flows; i++) {
            const ns_ds_flow *f = &ds.flows[i];
            if (f->proto != 6 || f->n_packets < 2 || strcmp(value_of(&ds, i, 1), RTTS[k])) continue;
            if (ds.dir[f->first] != 0 || ds.dir[f->first + 1] != 1) continue;   /* SYN, then SYN/ACK */
            rtt[n++] = ds.iat_ns[f->first + 1];
        }
        assert_true(n >= 20);
        qsort(rtt, n, sizeof *rtt, cmp_i64);
        double median_ms = (double)rtt[n / 2] / 1e6;
        print_message("rtt %-5s: median handshake %.2f ms over %zu TCP flows\n", RTTS[k], median_ms, n);
        assert_true(median_ms >= RTT_MS[k] * 0.8 && median_ms <= RTT_MS[k] * 1.2);
    }
    free(rtt);
    ns_dataset_free(&ds);
}

/* The commands `make demo` runs (scripts/demo.sh), through a stand-in
 * program that records its arguments: by default datasets cut at 16
 * packets (README, "make demo"); with DEMO_WHOLE=1 datasets of whole flows
 * and a 16-packet window trained with train's continuation share, or
 * DEMO_CONT_SHARE's; dataset and eval get the corpus's label columns. */
static void test_demo_commands(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char stub[4096], calls[4096];
    snprintf(stub, sizeof stub, "%s", tu_path(dir, "stub.sh"));
    snprintf(calls, sizeof calls, "%s", tu_path(dir, "calls.txt"));
    char text[8192];
    snprintf(text, sizeof text, "#!/bin/sh\necho \"$*\" >> '%s'\n", calls);
    assert_int_equal(tu_write_file(stub, text, strlen(text)), 0);
    static const struct {
        const char *env, *dataset, *train;
    } cases[] = {
        {"", "--split train --packets 16 --payload 0 -o", "--ckpt-every 0 -o"},
        {"DEMO_WHOLE=0", "--split train --packets 16 --payload 0 -o", "--ckpt-every 0 -o"},
        {"DEMO_WHOLE=1", "--split train --payload 0 -o", "--ckpt-every 0 --packets 16 -o"},
        {"DEMO_WHOLE=1 DEMO_CONT_SHARE=0.3", "--split train --payload 0 -o", "--packets 16 --continuation-share 0.3 -o"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        remove(calls);
        assert_int_equal(tu_system("chmod +x '%s' && %s NETSYNTH_BIN='%s' DEMO_OUT='%s' sh scripts/demo.sh >/dev/null",
                                   stub, cases[i].env, stub, tu_path(dir, "out")),
                         0);
        FILE *fp = fopen(calls, "r");
        assert_non_null(fp);
        char line[4096];
        int n = 0, seen_ds = 0, seen_train = 0;
        while (fgets(line, sizeof line, fp)) {
            n++;
            if (!strncmp(line, "dataset ", 8) && strstr(line, "--split train")) {
                if (!strstr(line, cases[i].dataset)) fail_msg("%s: dataset: %s", cases[i].env, line);
                seen_ds = 1;
            }
            if (!strncmp(line, "train ", 6)) {
                if (!strstr(line, cases[i].train)) fail_msg("%s: train: %s", cases[i].env, line);
                seen_train = 1;
            }
            if ((!strncmp(line, "dataset ", 8) || !strncmp(line, "eval ", 5)) && !strstr(line, "app,rtt,loss"))
                fail_msg("%s: no labels: %s", cases[i].env, line);
        }
        fclose(fp);
        assert_int_equal(n, 5);   /* two datasets, train, generate, eval */
        assert_true(seen_ds && seen_train);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_table),
        cmocka_unit_test(test_captures_readable),
        cmocka_unit_test(test_dataset_classes),
        cmocka_unit_test(test_handshake_rtt),
        cmocka_unit_test(test_demo_commands),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
