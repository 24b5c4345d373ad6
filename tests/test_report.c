/* test_report.c: the whole fidelity report on hand-made flows with a known
 * answer (synthetic = real training flows: nothing apart, everything
 * copied), its table, JSON and HTML; the HTML rendered by headless Chromium
 * (screenshot kept in tests/artifacts/); compliance from tshark. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"
#include "netsynth/report.h"

#define W NS_NP_MODEL_WIDTH
#define RB ((W + 3) / 4)


/* n flows of 1..4 TCP packets, device i % 2 ("a": TTL 64, "b": TTL 128), 5 files. */
typedef struct hand {
    ns_dataset ds;
    ns_ds_flow *flow;
    int32_t *labels;
    int64_t *iat;
    uint8_t *dir, *bits;
    const char *attr_names[1], *tokens[2], *files[5];
    uint32_t attr_first[2];
} hand;

/* When set, make() gives each flow IP IDs of its own, counting up per packet. */
static int ip_ids;

static void make(hand *h, size_t n, int ttl_shift)
{
    memset(h, 0, sizeof *h);
    h->flow = calloc(n, sizeof *h->flow);
    h->labels = malloc(n * sizeof *h->labels);
    h->iat = calloc(4 * n, sizeof *h->iat);
    h->dir = calloc(4 * n, 1);
    h->bits = calloc(4 * n, RB);
    h->attr_names[0] = "device";
    h->tokens[0] = "device=a", h->tokens[1] = "device=b";
    h->attr_first[0] = 0, h->attr_first[1] = 2;
    for (int f = 0; f < 5; f++) h->files[f] = "capture.pcap";
    int8_t row[W];
    uint64_t np = 0;
    for (size_t i = 0; i < n; i++) {
        ns_ds_flow *f = &h->flow[i];
        f->first = np;
        f->n_packets = f->seen = 1 + (uint32_t)(i / 2 % 4);
        f->file = (uint32_t)(i % 5);
        f->proto = 6;
        h->labels[i] = (int32_t)(i % 2);
        for (uint32_t p = 0; p < f->n_packets; p++, np++) {
            memset(row, -1, sizeof row);
            memset(row + NS_NP_COL_IPV4, 0, NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4);
            memset(row + NS_NP_COL_TCP, 0, NS_NP_COL_TCP_OPT - NS_NP_COL_TCP);
            ns_nprint_put(row, NS_NPF_IPV4_VER, 4);
            ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
            ns_nprint_put(row, NS_NPF_IPV4_TL, 40 + 20 * p);
            ns_nprint_put(row, NS_NPF_IPV4_PROTO, 6);
            ns_nprint_put(row, NS_NPF_IPV4_TTL, (i % 2 ? 128 : 64) + (uint64_t)ttl_shift);
            ns_nprint_put(row, NS_NPF_TCP_DOFF, 5);
            ns_nprint_put(row, NS_NPF_TCP_SYN, p == 0);
            ns_nprint_put(row, NS_NPF_TCP_ACKF, p > 0);
            ns_nprint_put(row, NS_NPF_TCP_WSIZE, 1000 + 7 * (i % 3));
            if (ip_ids) ns_nprint_put(row, NS_NPF_IPV4_ID, (i * 7919 + p) & 0xffff);
            h->iat[np] = p ? 2000000 : 0;
            h->dir[np] = p & 1;
            ns_dataset_pack_row(row, W, h->bits + np * RB);
        }
    }
    ns_dataset *ds = &h->ds;
    ds->width = W, ds->row_bytes = RB, ds->max_packets = 16;
    ds->n_flows = n, ds->n_packets = np, ds->n_attrs = 1, ds->n_tokens = 2, ds->n_files = 5;
    ds->attr_names = h->attr_names, ds->attr_first = h->attr_first, ds->tokens = h->tokens, ds->files = h->files;
    ds->flows = h->flow, ds->labels = h->labels, ds->iat_ns = h->iat, ds->dir = h->dir, ds->bits = h->bits;
}

static void drop(hand *h)
{
    free(h->flow), free(h->labels), free(h->iat), free(h->dir), free(h->bits);
}

static void opts(ns_eval_opts *o)
{
    ns_eval_opts_init(o);
    o->labels = "device";
    o->trees = 10;
    o->packets = 4;
}

/* Share of non-white pixels and whether red flow pixels show, from a PNG. */
static void png_check(const char *path, double *ink, int *red)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&im, path));
    im.format = PNG_FORMAT_RGB;
    size_t n = (size_t)im.width * im.height;
    uint8_t *px = malloc(3 * n);
    assert_non_null(px);
    assert_true(png_image_finish_read(&im, NULL, px, 0, NULL));
    size_t dark = 0;
    *red = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = px + 3 * i;
        dark += p[0] < 240 || p[1] < 240 || p[2] < 240;
        *red |= p[0] > 200 && p[1] < 60 && p[2] < 60;
    }
    *ink = (double)dark / (double)n;
    free(px);
}

/* Synthetic = the real training flows: distances 0, every flow copied. */
static void test_identical_report(void **state)
{
    (void)state;
    hand tr, te, sy;
    make(&tr, 200, 0);
    make(&te, 100, 0);
    make(&sy, 200, 0);
    ns_report_inputs in = {.eval = {&tr.ds, &te.ds, &sy.ds, "real", "test", "synth"}, .like = 1, .compliance = 1,
                           .command = "netsynth eval <test>"};
    ns_eval_opts o;
    opts(&o);
    ns_report r;
    assert_int_equal(ns_report_run(&r, &in, &o), NS_OK);
    assert_true(r.has_synth);
    for (size_t i = 0; i < r.dist.n_fields; i++) assert_float_equal(r.dist.fields[i].all.tv, 0, 1e-12);
    assert_int_equal(r.memo.n_train, 200);
    assert_float_equal(r.memo.synth_copied, 1, 0);
    assert_float_equal(r.memo.test_copied, 1, 0);
    assert_int_equal(r.cov_real[0][0] + r.cov_real[0][1], 200);
    assert_int_equal(r.cov_synth[0][0], 100);
    assert_false(r.has_compliance);
    assert_non_null(strstr(r.compliance_note, "capture tables"));

    const char *dir = tu_tmpdir();
    FILE *fp = fopen(tu_path(dir, "table.txt"), "w");
    ns_report_print(&r, fp);
    fclose(fp);
    assert_int_equal(tu_system("grep -q '^  synthetic  *200 *1.0000 *0 *0' %s", tu_path(dir, "table.txt")), 0);
    assert_int_equal(ns_report_write_json(&r, tu_path(dir, "r.json")), NS_OK);
    if (tu_have_program("python3"))
        assert_int_equal(tu_system("python3 -c 'import json,sys; d = json.load(open(sys.argv[1]));"
                                   " assert d[\"memorisation\"][\"synthetic\"][\"identical\"] == 1;"
                                   " assert d[\"coverage\"][\"levels\"][0][\"classes\"][0][\"requested\"] == 100;"
                                   " assert all(f[\"all\"][\"tv\"] == 0 for f in d[\"distances\"][\"fields\"]);"
                                   " assert d[\"applayer\"][\"note\"] == \"application layer skipped: not asked for\";"
                                   " assert d[\"levels\"][0][\"label\"] == \"device\"' %s",
                                   tu_path(dir, "r.json")),
                         0);
    ns_report_free(&r);

    /* Capture lists on both sides but no tshark on PATH: a note, no failure. */
    char *caps[1] = {(char *)"x.pcap"};
    in.real_captures = in.synth_captures = caps;
    in.n_real_captures = in.n_synth_captures = 1;
    in.applayer = 1;   /* asked for, but the sides are not tables: a note */
    const char *path = getenv("PATH");
    char *saved = path ? strdup(path) : NULL;
    setenv("PATH", tu_tmpdir(), 1);
    o.netflow = 0;
    int rc = ns_report_run(&r, &in, &o);
    if (saved) setenv("PATH", saved, 1);
    free(saved);
    assert_int_equal(rc, NS_OK);
    assert_false(r.has_compliance);
    assert_string_equal(r.compliance_note, "compliance skipped: tshark or mergecap is not installed");
    assert_false(r.has_applayer);
    assert_non_null(strstr(r.applayer_note, "application layer skipped: needs the real test captures"));
    ns_report_free(&r);
    drop(&tr), drop(&te), drop(&sy);
}

/* A shifted TTL: ipv4_ttl first, and the report renders in a browser. */
static void test_html_renders(void **state)
{
    (void)state;
    hand tr, te, sy;
    make(&tr, 300, 0);
    make(&te, 100, 0);
    make(&sy, 300, 30);
    ns_report_inputs in = {.eval = {&tr.ds, &te.ds, &sy.ds, "real", "test", "synth"},
                           .command = "netsynth eval --real a.ds --synth b.ds --html <x>"};
    ns_eval_opts o;
    opts(&o);
    ns_report r;
    assert_int_equal(ns_report_run(&r, &in, &o), NS_OK);
    assert_string_equal(r.dist.fields[0].name, "ipv4_ttl");
    assert_float_equal(r.dist.fields[0].all.emd, 30, 1e-9);
    assert_float_equal(r.memo.synth_copied, 0, 0);
    assert_true(r.memo.synth_median > 0);
    assert_float_equal(r.memo.test_copied, 1, 0);

    const char *dir = tu_tmpdir(), *html = tu_path(dir, "report.html");
    assert_int_equal(ns_report_write_html(&r, html), NS_OK);
    ns_report_free(&r);
    drop(&tr), drop(&te), drop(&sy);
    /* Self-contained: images inline, nothing fetched. */
    assert_int_equal(tu_system("grep -q 'src=\"data:image/png;base64,' %s && grep -q '<svg' %s", html, html), 0);
    assert_int_equal(tu_system("grep -Eq '(src|href)=\"(https?:)?//' %s", html), 1);
    assert_int_equal(tu_system("grep -q '&lt;x&gt;' %s", html), 0);
    assert_int_equal(tu_system("grep -q '<td class=l>ipv4_ttl (1.000)' %s", html), 0); /* per class, worst first */
    assert_int_equal(tu_system("test -f %s.flow.png", html), 1);
    /* Issue 19: axes and counts on the histograms, a chance line, per-class
     * precision/recall/F1, CDFs of sizes and inter-arrival times, the header
     * bands over the flow images, the per-flow-random fields apart. */
    assert_int_equal(tu_system("grep -q 'share of values' %s && grep -q '300 real, 300 synthetic values' %s"
                               " && grep -q '<th>chance</th>' %s && grep -q '<th>precision</th><th>recall</th>' %s"
                               " && grep -q 'Packet sizes and inter-arrival times' %s && grep -q '<polyline' %s"
                               " && grep -q 'title=\"ipv4: columns 0-479\"' %s && grep -q 'Per-flow-random fields' %s",
                               html, html, html, html, html, html, html, html),
                     0);
    mkdir("tests/artifacts", 0777);
    assert_int_equal(tu_system("cp %s tests/artifacts/report.html", html), 0);

    if (!tu_have_program("chromium")) {
        print_message("SKIP %s: chromium is absent (apt-get install -y chromium)\n", __func__);
        skip();
    }
    /* Loaded as a user would: no console error (the page has no script, so
     * any is a bug of the markup or a blocked fetch). */
    const char *dom = tu_path(dir, "dom.html"), *log = tu_path(dir, "console.log");
    assert_int_equal(tu_system("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                               " --disable-background-networking --disable-component-update --disable-sync"
                               " --enable-logging=stderr --v=0 --user-data-dir=%s --dump-dom 'file://%s' >%s 2>%s",
                               tu_path(dir, "chromium-profile"), html, dom, log),
                     0);
    assert_int_equal(tu_system("grep -q 'Per-flow-random fields' %s", dom), 0);
    if (tu_system("grep -E 'Uncaught|ERROR:CONSOLE|CONSOLE\\(' %s", log) == 0) fail_msg("console errors in %s", log);
    const char *shot = "tests/artifacts/report.png";
    remove(shot);
    assert_int_equal(tu_system("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                               " --disable-background-networking --disable-component-update --disable-sync"
                               " --user-data-dir=%s --screenshot=%s --window-size=1200,2000 'file://%s' >%s 2>&1",
                               tu_path(dir, "chromium-profile"), shot, html, tu_path(dir, "chromium.log")),
                     0);
    double ink;
    int red;
    png_check(shot, &ink, &red);
    print_message("screenshot %s: %.1f%% of pixels not white, flow images %s\n", shot, 100 * ink,
                  red ? "seen" : "not seen");
    assert_true(ink > 0.02);
    assert_true(red);
}

/* A field random per flow by nature (IP ID) differs wholly, the rest not at
 * all: the ranking is still led by the others, and the IP ID is judged by
 * its distinct-value and within-flow change rates (before issue 19 it led
 * "worst fields first"). */
static void test_random_fields_apart(void **state)
{
    (void)state;
    hand tr, sy;
    ip_ids = 1;
    make(&tr, 200, 0);
    ip_ids = 0;
    make(&sy, 200, 0);
    ns_dist_flows real = {&tr.ds, "real", NULL, 200, tr.labels}, synth = {&sy.ds, "synth", NULL, 200, sy.labels};
    ns_dist_report d;
    assert_int_equal(ns_dist_compare(&d, &real, &synth, 2, 4, 1), NS_OK);
    const ns_dist_field *id = NULL;
    int seen_random = 0;
    for (size_t i = 0; i < d.n_fields; i++) {
        const ns_dist_field *f = &d.fields[i];
        if (f->per_flow_random) seen_random = 1;
        else assert_false(seen_random); /* every other field before the random ones */
        if (!strcmp(f->name, "ipv4_id")) id = f;
        if (!strcmp(f->name, "ipv4_ttl") || !strcmp(f->name, "tcp_syn")) assert_false(f->per_flow_random);
        if (!strcmp(f->name, "tcp_seq") || !strcmp(f->name, "ipv4_cksum")) assert_true(f->per_flow_random);
    }
    assert_non_null(id);
    assert_true(id->per_flow_random);
    assert_false(d.fields[0].per_flow_random);
    assert_true(id->all.jsd > 0.9);
    assert_float_equal(d.fields[0].all.jsd, 0, 1e-12);
    /* 500 rows, every one its own ID on the real side; one value (0) on the synthetic side. */
    assert_float_equal(id->distinct[0], 1, 1e-12);
    assert_float_equal(id->distinct[1], 1.0 / 500, 1e-12);
    assert_float_equal(id->changes[0], 1, 1e-12);
    assert_float_equal(id->changes[1], 0, 1e-12);
    ns_dist_report_free(&d);
    drop(&tr), drop(&sy);
}

/* Chance and per-class metrics from a confusion matrix (row = true). */
static void test_class_metrics(void **state)
{
    (void)state;
    const uint64_t cm[9] = {3, 1, 0, 2, 4, 0, 0, 0, 0};
    double p, r, f1;
    uint64_t support;
    assert_float_equal(ns_eval_majority_rate(cm, 3), 0.6, 1e-12);
    ns_eval_class_metrics(cm, 3, 0, &p, &r, &f1, &support);
    assert_float_equal(p, 3.0 / 5, 1e-12);
    assert_float_equal(r, 3.0 / 4, 1e-12);
    assert_float_equal(f1, 6.0 / 9, 1e-12);
    assert_int_equal(support, 4);
    ns_eval_class_metrics(cm, 3, 2, &p, &r, &f1, &support); /* never true, never predicted */
    assert_true(isnan(p) && isnan(r) && isnan(f1));
    assert_int_equal(support, 0);
    const uint64_t none[4] = {0};
    assert_float_equal(ns_eval_majority_rate(none, 2), 0, 0);
}

/* Capture tables on both sides: tshark's counts (the corpus against its own test split). */
static void test_compliance_on_corpus(void **state)
{
    (void)state;
    const char *shared = TU_REQUIRE_SHARED();
    if (!tu_have_program("tshark") || !tu_have_program("mergecap")) {
        print_message("SKIP %s: tshark or mergecap is absent\n", __func__);
        skip();
    }
    char dir[4096], path[2][4200];
    snprintf(dir, sizeof dir, "%s/data/iot-sentinel/pcaps/Aria", shared);
    snprintf(path[0], sizeof path[0], "%s/Setup-A-1-STA.pcap", dir);
    snprintf(path[1], sizeof path[1], "%s/Setup-A-2-STA.pcap", dir);
    char *caps[2] = {path[0], path[1]};
    ns_compliance c;
    assert_int_equal(ns_compliance_tshark(&c, caps, 2, "Aria"), NS_OK);
    /* Known: these two captures hold 92 packets, 8 with a bad UDP checksum. */
    assert_int_equal(c.packets, 92);
    assert_int_equal(c.bad_checksums, 8);
    assert_int_equal(c.errors, 8);
    assert_int_equal(c.malformed, 0);
    /* By kind: the six "Bad checksum [should be 0x....]" lines are one kind. */
    assert_int_equal(c.n_kinds, 1);
    assert_string_equal(c.kinds[0].severity, "error");
    assert_string_equal(c.kinds[0].group, "Checksum");
    assert_string_equal(c.kinds[0].protocol, "UDP");
    assert_string_equal(c.kinds[0].summary, "Bad checksum");
    assert_int_equal(c.kinds[0].count, 8);
    assert_int_equal(c.other_kinds, 0);
    char *missing[1] = {(char *)"/nonexistent/x.pcap"};
    assert_int_equal(ns_compliance_tshark(&c, missing, 1, "missing"), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "missing: tshark"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_report),
        cmocka_unit_test(test_html_renders),
        cmocka_unit_test(test_random_fields_apart),
        cmocka_unit_test(test_class_metrics),
        cmocka_unit_test(test_compliance_on_corpus),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
