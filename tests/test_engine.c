/* test_engine.c: training and sampling end to end on a small dataset made
 * here: a tiny model overfits it until its samples reproduce the flows of
 * each class; model files round-trip and refuse corruption; a resumed run
 * equals an uninterrupted one; the same seed gives the same flows; checkpoints
 * that pass their CRC but hold impossible state are refused; stops, signals
 * and failed writes leave the work where it can be found. */
#define _GNU_SOURCE /* fopencookie */
#include "testutil.h"

#include <omp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/controlnet.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/gen_plan.h"
#include "netsynth/generate.h"
#include "netsynth/lora.h"
#include "netsynth/model.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/train.h"

enum { W = NS_NP_MODEL_WIDTH, FLOWS = 16, LEN = 3 };

/* Class "kind=web" (kind 1): TCP to port 443, 3 packets (SYN, SYN-ACK, ACK)
 * with TTL 64; class "kind=dns" (kind 0): UDP to port 53, 3 packets, TTL 128;
 * and for the adapter test, "kind=ssh" (kind 2): web's packets to port 22
 * with dns's TTL, a combination the other two never show. */
static void make_row(int8_t *row, int kind, int k, int flow)
{
    int web = kind != 0, port = kind == 2 ? 22 : 443, ttl = kind == 1 ? 64 : 128;
    memset(row, -1, W);
    ns_nprint_put(row, NS_NPF_IPV4_VER, 4), ns_nprint_put(row, NS_NPF_IPV4_HL, 5), ns_nprint_put(row, NS_NPF_IPV4_TOS, 0);
    ns_nprint_put(row, NS_NPF_IPV4_TL, web ? 40 : 28 + 4 * (uint32_t)k);
    ns_nprint_put(row, NS_NPF_IPV4_ID, (uint32_t)(flow * 7 + k)); /* id: varies, so it is modelled */
    ns_nprint_bits_put(row, NS_NP_COL_IPV4_RBIT, 3, 2), ns_nprint_put(row, NS_NPF_IPV4_FOFF, 0);
    ns_nprint_put(row, NS_NPF_IPV4_TTL, (uint32_t)ttl), ns_nprint_put(row, NS_NPF_IPV4_PROTO, web ? 6 : 17);
    ns_nprint_put(row, NS_NPF_IPV4_CKSUM, 0);
    if (web) {
        int back = k == 1;
        ns_nprint_put(row, NS_NPF_TCP_SPRT, back ? (uint32_t)port : 50000);
        ns_nprint_put(row, NS_NPF_TCP_DPRT, back ? 50000 : (uint32_t)port);
        ns_nprint_put(row, NS_NPF_TCP_SEQ, 1000), ns_nprint_put(row, NS_NPF_TCP_ACKN, k ? 1 : 0);
        ns_nprint_put(row, NS_NPF_TCP_DOFF, 5), ns_nprint_put(row, NS_NPF_TCP_RES, 0);
        ns_nprint_bits_put(row, NS_NP_COL_TCP_NS, 9, k == 0 ? 0x002 : k == 1 ? 0x012 : 0x010); /* NS and the flag byte */
        ns_nprint_put(row, NS_NPF_TCP_WSIZE, 65535), ns_nprint_put(row, NS_NPF_TCP_CKSUM, 0);
        ns_nprint_put(row, NS_NPF_TCP_URP, 0);
    } else {
        int back = k == 1;
        ns_nprint_put(row, NS_NPF_UDP_SPORT, back ? 53 : 40000), ns_nprint_put(row, NS_NPF_UDP_DPORT, back ? 40000 : 53);
        ns_nprint_put(row, NS_NPF_UDP_LEN, 8 + 4 * (uint32_t)k), ns_nprint_put(row, NS_NPF_UDP_CKSUM, 0);
    }
}

/* A dataset of `n` flows, flow f of kind f % kinds, labelled by token id =
 * kind (dns 0, web 1, ssh 2, so the vocabulary is sorted); its path (a
 * static buffer, valid until the next call). */
static const char *make_kinds(const char *dir, int kinds, int n)
{
    static const char *attr_names[] = {"kind"};
    const uint32_t attr_first[] = {0, (uint32_t)kinds};
    static const char *tokens[] = {"kind=dns", "kind=web", "kind=ssh"};
    static const char *files[] = {"made-in-test"};
    ns_ds_flow flows[n];
    int32_t labels[n];
    int64_t iat[n * LEN];
    uint8_t dir_[n * LEN], bits[n * LEN * ((W + 3) / 4)];
    int8_t row[W];
    memset(flows, 0, sizeof flows);
    for (int f = 0; f < n; f++) {
        int kind = f % kinds, web = kind != 0;
        flows[f].first = (uint64_t)f * LEN;
        flows[f].n_packets = flows[f].seen = LEN;
        flows[f].proto = web ? 6 : 17;
        labels[f] = kind;
        for (int k = 0; k < LEN; k++) {
            make_row(row, kind, k, f);
            ns_dataset_pack_row(row, W, bits + (size_t)(f * LEN + k) * ((W + 3) / 4));
            iat[f * LEN + k] = k ? (web ? 20000000 : 1000000) : 0;
            dir_[f * LEN + k] = k == 1;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = 8, .n_flows = (uint64_t)n,
                     .n_packets = (uint64_t)n * LEN, .n_attrs = 1, .n_tokens = (uint32_t)kinds, .n_files = 1,
                     .attr_names = attr_names, .attr_first = attr_first, .tokens = tokens, .files = files,
                     .flows = flows, .labels = labels, .iat_ns = iat, .dir = dir_, .bits = bits};
    static char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(dir, "tiny.ds"));
    assert_int_equal(ns_dataset_write(&ds, path), NS_OK);
    return path;
}

static const char *make_dataset(const char *dir) { return make_kinds(dir, 2, FLOWS); }

static void tiny_opts(ns_train_opts *o, const char *dir, int steps)
{
    ns_train_opts_init(o);
    o->config = "tiny";
    o->st.steps = steps;
    o->st.batch = 16;
    o->st.lr = 3e-3f;
    o->st.warmup = 20;
    o->st.eval_every = 0;
    o->st.ckpt_every = 0;
    o->st.val_frac = 0;
    o->st.ema_decay = 0.99f;
    o->threads = 1;
    static char out[4096], ckpt[4096];
    snprintf(out, sizeof out, "%s", tu_path(dir, "m.model"));
    snprintf(ckpt, sizeof ckpt, "%s", tu_path(dir, "m.ckpt"));
    o->out_path = out;
    o->ckpt_path = ckpt;
}

/* Make the test dataset in dir, load it into *ds and train the tiny model
 * on it for `steps` steps with the options tiny_opts gives (kept in *o). */
static ns_train_result train_tiny(const char *dir, int steps, ns_dataset *ds, ns_train_opts *o)
{
    assert_int_equal(ns_dataset_load(ds, make_dataset(dir)), NS_OK);
    tiny_opts(o, dir, steps);
    ns_train_result res;
    int rc = ns_train(ds, o, &res);
    if (rc) print_message("%s\n", ns_errmsg());
    assert_int_equal(rc, NS_OK);
    return res;
}

/* Train the tiny model on ds for `steps` steps (options in *o) and load it into *m. */
static void train_and_load(const ns_dataset *ds, const char *dir, int steps, ns_train_opts *o, ns_modelfile *m)
{
    tiny_opts(o, dir, steps);
    ns_train_result res;
    assert_int_equal(ns_train(ds, o, &res), NS_OK);
    assert_int_equal(ns_modelfile_load(m, o->out_path), NS_OK);
}

/* Share of generated rows equal to the class's real row at the same position. */
static double match_rate(const ns_gen_flows *g, int kind)
{
    int8_t want[W];
    size_t same = 0, rows = 0;
    for (size_t f = 0; f < g->n_flows; f++)
        for (uint32_t k = 0; k < g->len[f] && k < LEN; k++, rows++) {
            make_row(want, kind, (int)k, 0);
            const int8_t *got = g->rows + (g->first[f] + k) * W;
            /* the id field varies by design */
            memcpy(want + NS_NP_COL_IPV4_ID, got + NS_NP_COL_IPV4_ID, NS_NP_BITS_IPV4_ID);
            same += !memcmp(want, got, W);
            if (getenv("NETSYNTH_TEST_VERBOSE"))
                for (int c = 0; c < W; c++)
                    if (want[c] != got[c]) print_message("flow %zu row %u col %d want %d got %d\n", f, k, c, want[c], got[c]);
        }
    return rows ? (double)same / rows : 0;
}

/* Issue 15: flows of 3 to 9 packets whose rows past the 4th have their own
 * TOS and times, as whole flows and cut to 4 packets (the totals whole in
 * both). A 4-row window then learns whole lengths in two bins past it in
 * both; only the whole file has windows inside flows to train on: its
 * model fits the TOS column and learns its continuation vector, while the
 * cut file's stays exactly zero (no continuation window was ever drawn). */
typedef struct long_flows {
    ns_ds_flow flows[24];
    ns_ds_totals totals[24];
    int32_t labels[24];
    int64_t iat[24 * 9];
    uint8_t dir[24 * 9], bits[24 * 9 * ((W + 3) / 4)];
} long_flows;

static void make_long_flows(long_flows *l, ns_dataset *ds, uint32_t cap)
{
    static const char *attr_names[] = {"kind"}, *tokens[] = {"kind=dns", "kind=web"}, *files[] = {"made-in-test"};
    static const uint32_t attr_first[] = {0, 2};
    enum { RB = (W + 3) / 4 };
    memset(l, 0, sizeof *l);
    int8_t row[W];
    uint64_t at = 0;
    for (int f = 0; f < 24; f++) {
        int kind = f & 1;
        uint32_t len = 3 + (uint32_t)f % 7;   /* 3..9 packets */
        uint32_t kept = len < cap ? len : cap;
        ns_ds_flow *fl = &l->flows[f];
        fl->first = at, fl->n_packets = kept, fl->seen = len, fl->proto = kind ? 6 : 17;
        l->labels[f] = kind;
        ns_ds_totals *t = &l->totals[f];
        t->end = NS_DS_END_CAPTURE;
        if (kind) t->tcp_flags[0] = t->tcp_flags[1] = 0x12;
        for (uint32_t k = 0; k < len; k++) {
            t->packets[k == 1]++, t->bytes[k == 1] += 40;
            if (k >= kept) continue;
            make_row(row, kind, (int)k, f);
            ns_nprint_put(row, NS_NPF_IPV4_TOS, k >= 4 ? 0x10 : 0);   /* past a 4-row window only */
            ns_dataset_pack_row(row, W, l->bits + (at + k) * RB);
            l->iat[at + k] = k ? (k >= 4 ? 5000000000 : 1000000) : 0;
            l->dir[at + k] = k == 1;
        }
        at += kept;
    }
    *ds = (ns_dataset){.width = W, .row_bytes = RB, .max_packets = cap, .idle_timeout_ns = 0, .n_flows = 24,
                       .n_packets = at, .n_attrs = 1, .n_tokens = 2, .n_files = 1, .attr_names = attr_names,
                       .attr_first = attr_first, .tokens = tokens, .files = files, .flows = l->flows,
                       .totals = l->totals, .labels = l->labels, .iat_ns = l->iat, .dir = l->dir, .bits = l->bits};
}

/* make_long_flows, written to dir/name and loaded back as train reads it. */
static void long_flows_file(long_flows *l, ns_dataset *ds, uint32_t cap, const char *dir, const char *name)
{
    make_long_flows(l, ds, cap);
    const char *path = tu_path(dir, name);
    assert_int_equal(ns_dataset_write(ds, path), NS_OK);
    assert_int_equal(ns_dataset_load(ds, path), NS_OK);
}

static void test_whole_flows_train_as_their_window(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    long_flows *l = malloc(sizeof *l);
    ns_dataset ds[2];
    ns_modelfile m[2];
    for (int i = 0; i < 2; i++) {
        long_flows_file(l, &ds[i], i ? 4 : 100, dir, i ? "cut.ds" : "whole.ds");   /* whole, then cut to the window */
        assert_int_equal(ds[i].version, NS_DATASET_VERSION);
        ns_train_opts o;
        tiny_opts(&o, dir, 20);
        o.max_packets = 4;
        o.st.val_frac = 0.1f;
        /* What `train` warns of: only the cut file hides the windows inside flows. */
        assert_int_equal(ns_train_window(&ds[i], o.max_packets), 4);
        assert_int_equal(ns_train_window_unseen(&ds[i], o.max_packets), i);
        assert_int_equal(ns_train_window(&ds[i], 9), i ? 4 : 9); /* never past what the file kept */
        assert_int_equal(ns_train_window_unseen(&ds[i], 9), i);
        ns_train_result res;
        assert_int_equal(ns_train(&ds[i], &o, &res), NS_OK);
        assert_int_equal(ns_modelfile_load(&m[i], o.out_path), NS_OK);
        assert_int_equal(m[i].cfg.max_packets, 4);
        assert_int_equal(m[i].cfg.len_bins, 2);   /* whole lengths up to 9: bins (4, 8], (8, 16] */
    }
    assert_true(ds[0].n_packets > ds[1].n_packets);
    int tos_whole = 0, tos_cut = 0;
    for (int j = 0; j < m[0].repr.n_bits; j++) tos_whole |= m[0].repr.cols[j] == NS_NP_COL_IPV4_TOS + 3;
    for (int j = 0; j < m[1].repr.n_bits; j++) tos_cut |= m[1].repr.cols[j] == NS_NP_COL_IPV4_TOS + 3;
    assert_true(tos_whole && !tos_cut);
    float norm[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < m[i].cfg.d; k++) norm[i] += fabsf(m[i].p.cont[k]);
    assert_true(norm[0] > 0);
    assert_true(norm[1] == 0);
    /* Without --packets a whole-flow file's window is 64 packets or its cap. */
    ns_train_opts o;
    tiny_opts(&o, dir, 1);
    ns_modelfile d;
    train_and_load(&ds[0], dir, 1, &o, &d);
    assert_int_equal(d.cfg.max_packets, 64);
    assert_int_equal(d.cfg.len_bins, 0);   /* every flow fits 64 */
    ns_modelfile_free(&d);
    for (int i = 0; i < 2; i++) ns_modelfile_free(&m[i]), ns_dataset_free(&ds[i]);
    free(l);
}

/* Issue 15: flows longer than the window (8 rows here) are generated window
 * by window, each holding its first 2 rows to the last 2 of the one before:
 * 20 rows are windows 0-7, 6-13 and 12-19, so the flow ends exactly at a
 * window's end. The first window is the flow --length 8 gives (the same
 * noise), the held rows stay as generated, and in the repaired pcap the
 * sequence and acknowledgement numbers and TSvals run on across the
 * boundaries as everywhere else. */
/* Train the tiny model on ds with a 4-row window and continuation share
 * `share` for 40 steps (stopped after stop_at when > 0, resumed from the
 * checkpoint when resume), the JSON log appended to `log`; the draws of
 * flows longer than the window and of windows inside them it logged. */
static void train_share(const ns_dataset *ds, const char *dir, const char *name, float share, int64_t stop_at,
                        int resume, int64_t draws[2])
{
    ns_train_opts o;
    tiny_opts(&o, dir, 40);
    char out[4096], ckpt[4096], log[4096];
    snprintf(out, sizeof out, "%s.model", tu_path(dir, name));
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", tu_path(dir, name));
    snprintf(log, sizeof log, "%s.log", tu_path(dir, name));
    o.out_path = out, o.ckpt_path = ckpt, o.max_packets = 4, o.st.log_every = 5;
    o.st.cont_share = share;
    o.stop_at_step = stop_at;
    if (resume) o.resume_path = ckpt;
    FILE *fp = fopen(log, resume ? "a" : "w");
    assert_non_null(fp);
    o.log = fp;
    ns_train_result res;
    int rc = ns_train(ds, &o, &res);
    fclose(fp);
    if (rc) print_message("%s\n", ns_errmsg());
    assert_int_equal(rc, NS_OK);
    assert_int_equal(res.steps_done, stop_at > 0 ? stop_at : 40);
    draws[0] = draws[1] = 0;
    fp = fopen(log, "r");
    assert_non_null(fp);
    char line[1024];
    while (fgets(line, sizeof line, fp)) {
        const char *l = strstr(line, "\"long_draws\": "), *in = strstr(line, "\"inner_draws\": ");
        if (!strstr(line, "\"loss\"")) continue;
        assert_non_null(l);
        assert_non_null(in);
        draws[0] += atoll(l + 14), draws[1] += atoll(in + 15);
    }
    fclose(fp);
}

static float cont_norm(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.model", tu_path(dir, name));
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, path), NS_OK);
    float norm = 0;
    for (int k = 0; k < m.cfg.d; k++) norm += fabsf(m.p.cont[k]);
    ns_modelfile_free(&m);
    return norm;
}

static void assert_same_model(const char *dir, const char *a, const char *b, int same)
{
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s.ckpt", tu_path(dir, a));
    snprintf(pb, sizeof pb, "%s.ckpt", tu_path(dir, b));
    /* raw weights and second moments: the elapsed time in the state block differs */
    ns_modelfile ma, mb;
    assert_int_equal(ns_modelfile_load(&ma, pa), NS_OK);
    assert_int_equal(ns_modelfile_load(&mb, pb), NS_OK);
    assert_int_equal(ma.n_params, mb.n_params);
    int eq = !memcmp(ma.train_w, mb.train_w, ma.n_params * sizeof(float)) &&
             !memcmp(ma.adam_v, mb.adam_v, ma.n_params * sizeof(float));
    assert_int_equal(eq, same);
    ns_modelfile_free(&ma), ns_modelfile_free(&mb);
}

static void patch_ckpt(const char *src, const char *dst, int slot, const void *v, int part, size_t index, float f);

/* Issue 14: --continuation-share is the share of the draws of flows longer
 * than the window that train a window inside them. 0 never draws one (the
 * continuation vector stays exactly zero, as with a cut dataset), 1 always
 * does, 0.25 about a quarter; the same seed and share train the same
 * weights, another share others; a resumed run keeps its checkpoint's share
 * whatever the options say, and equals the run never stopped; a share
 * outside [0, 1] is refused, from options and from a checkpoint, and a
 * checkpoint from before the share (its slot zero) trains with one half. */
static void test_continuation_share(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    long_flows *l = malloc(sizeof *l);
    ns_dataset ds;
    long_flows_file(l, &ds, 100, dir, "whole.ds");
    int64_t d0[2], d1[2], dq[2], dq2[2], dh[2];
    train_share(&ds, dir, "s0", 0, 0, 0, d0);
    train_share(&ds, dir, "s1", 1, 0, 0, d1);
    train_share(&ds, dir, "sq", 0.25f, 0, 0, dq);
    train_share(&ds, dir, "sq2", 0.25f, 0, 0, dq2);
    train_share(&ds, dir, "sh", 0.5f, 0, 0, dh);
    print_message("long draws / inner: share 0 %lld/%lld, 1 %lld/%lld, 0.25 %lld/%lld, 0.5 %lld/%lld\n",
                  (long long)d0[0], (long long)d0[1], (long long)d1[0], (long long)d1[1], (long long)dq[0],
                  (long long)dq[1], (long long)dh[0], (long long)dh[1]);
    /* 640 draws, flows of 5-9 packets are 5 of every 7 */
    assert_true(d0[0] > 300 && d0[0] < 600);
    assert_int_equal(d0[1], 0);
    assert_int_equal(d1[1], d1[0]);
    assert_int_equal(d0[0], d1[0]);   /* the share picks windows, not flows */
    double q = (double)dq[1] / (double)dq[0], h = (double)dh[1] / (double)dh[0];
    assert_true(q > 0.17 && q < 0.33);   /* about 4 sigma of 0.25 at 450 draws */
    assert_true(h > 0.41 && h < 0.59);
    assert_true(cont_norm(dir, "s0") == 0);
    assert_true(cont_norm(dir, "sq") > 0);
    assert_memory_equal(dq, dq2, sizeof dq);
    assert_same_model(dir, "sq", "sq2", 1);
    assert_same_model(dir, "sq", "sh", 0);
    /* Stopped at 15 and resumed with options that say 0.5: the checkpoint's 0.25 holds. */
    int64_t dr[2];
    train_share(&ds, dir, "sr", 0.25f, 15, 0, dr);
    train_share(&ds, dir, "sr", 0.5f, 0, 1, dr);
    assert_memory_equal(dr, dq, sizeof dq);
    assert_same_model(dir, "sq", "sr", 1);
    ns_modelfile m;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", tu_path(dir, "sr"));
    assert_int_equal(ns_modelfile_load(&m, ckpt), NS_OK);
    assert_true(m.st.cont_share == 0.25f);
    ns_modelfile_free(&m);
    /* Refused from the options ... */
    ns_train_opts o;
    tiny_opts(&o, dir, 5);
    ns_train_result res;
    const float bad[] = {-0.1f, 1.5f, NAN};
    for (int i = 0; i < 3; i++) {
        o.st.cont_share = bad[i];
        assert_int_equal(ns_train(&ds, &o, &res), NS_EARG);
        print_message("%s\n", ns_errmsg());
        assert_non_null(strstr(ns_errmsg(), "training options: cont_share"));
    }
    /* ... and from a checkpoint (slot 22 keeps 1 + share); slot 0 is a file from before it. */
    const char *bad_path = tu_path(dir, "bad.ckpt");
    const double raw[] = {-0.5, 2.5, NAN};
    for (int i = 0; i < 3; i++) {
        patch_ckpt(ckpt, bad_path, 22, &raw[i], 0, 0, 0);
        assert_int_equal(ns_modelfile_load(&m, bad_path), NS_ECORRUPT);
        assert_non_null(strstr(ns_errmsg(), bad_path));
        assert_non_null(strstr(ns_errmsg(), "cont_share"));
    }
    double zero = 0;
    patch_ckpt(ckpt, bad_path, 22, &zero, 0, 0, 0);
    assert_int_equal(ns_modelfile_load(&m, bad_path), NS_OK);
    assert_true(m.st.cont_share == 0.5f);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
    free(l);
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Generation options of 4 sampler steps and the prompt kind=web of m. */
static void web_prompt(const ns_modelfile *m, ns_gen_opts *go, int32_t ids[1])
{
    ns_gen_opts_init(go);
    go->sampler.steps = 4;
    assert_int_equal(ns_gen_parse_prompt(m, "kind=web", ids), NS_OK);
}

/* m, loaded from path, saves again byte for byte (as a checkpoint: ckpt). */
static void saves_as_loaded(const ns_modelfile *m, const char *path, const char *dir, int ckpt)
{
    const char *again = tu_path(dir, ckpt ? "again.ckpt" : "again.model");
    assert_int_equal(ns_modelfile_save(m, again, ckpt), NS_OK);
    assert_int_equal(tu_system("cmp -s '%s' '%s'", path, again), 0);
}

static void test_flows_past_the_window(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 30, &ds, &o);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    assert_int_equal(m.cfg.max_packets, 8);
    ns_gen_opts go;
    int32_t ids[1];
    web_prompt(&m, &go, ids);
    ns_gen_flows g8 = {0}, g20 = {0};
    go.length = 8;
    assert_int_equal(ns_generate(&m, &go, ids, 6, 0, &g8), NS_OK);
    go.length = 20;
    assert_int_equal(ns_generate(&m, &go, ids, 6, 0, &g20), NS_OK);
    assert_int_equal(g20.n_flows, 6);
    assert_int_equal(g20.n_rows, 6 * 20);
    for (size_t f = 0; f < 6; f++) {
        assert_int_equal(g20.len[f], 20);
        assert_memory_equal(g20.rows + g20.first[f] * W, g8.rows + g8.first[f] * W, 8 * W);
        assert_memory_equal(g20.iat_ns + g20.first[f], g8.iat_ns + g8.first[f], 8 * sizeof(int64_t));
        assert_int_equal(g20.iat_ns[g20.first[f]], 0);
        for (uint32_t r = 8; r < 20; r++)   /* later windows decode a present IPv4 header */
            assert_true(g20.rows[(g20.first[f] + r) * W + NS_NP_COL_IPV4] >= 0);
    }
    ns_gen_flows_free(&g8), ns_gen_flows_free(&g20);

    /* The pcap: per flow and direction, each packet's sequence number is the
     * previous one's plus its payload (and SYN, FIN), an ACK acknowledges the
     * other side's next number, and TSvals never go back. */
    const char *bin = tu_netsynth_bin(), *pcap = strdup(tu_path(dir, "long.pcap"));
    const char *report = strdup(tu_path(dir, "long.json"));
    assert_int_equal(tu_system("%s generate --model %s --prompt kind=web -n 6 --length 20 --steps 4 --seed 3 -q "
                               "--threads 1 --repair-report %s -o %s", bin, o.out_path, report, pcap), 0);
    ns_capture *c;
    assert_int_equal(ns_capture_open(&c, pcap, NULL), NS_OK);
    ns_frame fr;
    int packets = 0, tcp = 0, checked_ts = 0;
    struct { uint32_t a, b; uint16_t pa, pb; int have[2]; uint32_t nxt[2], ts[2]; int has_ts[2]; } fl[8];
    int n_fl = 0;
    while (ns_capture_next(c, &fr) == 1) {
        ns_packet p;
        ns_skip_reason why = ns_packet_parse(&p, ns_capture_linktype(c), fr.data, fr.caplen);
        assert_true(why == NS_SKIP_NONE || why == NS_SKIP_NON_IP || why == NS_SKIP_OTHER_L4);
        if (why != NS_SKIP_NONE || p.l4_proto == 2) continue; /* the link's ARP and IGMP (repair_link.c): no row's */
        packets++;
        if (p.l4_proto != 6) continue;
        tcp++;
        const uint8_t *ip = p.ip.data, *t = p.l4.data;
        uint32_t src = be32(ip + 12), dst = be32(ip + 16);
        uint16_t sp = (uint16_t)(t[0] << 8 | t[1]), dp = (uint16_t)(t[2] << 8 | t[3]);
        int k = 0, d = 0;
        for (; k < n_fl; k++) {
            if (fl[k].a == src && fl[k].pa == sp && fl[k].b == dst && fl[k].pb == dp) { d = 0; break; }
            if (fl[k].a == dst && fl[k].pa == dp && fl[k].b == src && fl[k].pb == sp) { d = 1; break; }
        }
        if (k == n_fl) {
            assert_true(n_fl < 8);
            memset(&fl[k], 0, sizeof fl[k]);
            fl[k].a = src, fl[k].b = dst, fl[k].pa = sp, fl[k].pb = dp;
            n_fl++;
        }
        uint32_t seq = be32(t + 4), ack = be32(t + 8);
        uint8_t flags = t[13];
        size_t payload = p.ip_total_len - p.ip.len - p.l4.len;
        if (fl[k].have[d]) assert_int_equal(seq, fl[k].nxt[d]);
        if ((flags & 0x10) && fl[k].have[!d]) assert_int_equal(ack, fl[k].nxt[!d]);
        fl[k].have[d] = 1;
        fl[k].nxt[d] = seq + (uint32_t)payload + !!(flags & 0x02) + !!(flags & 0x01);
        for (size_t o2 = 20; o2 + 10 <= p.l4.len;) {   /* the timestamp option */
            uint8_t kind = t[o2];
            if (kind == 0) break;
            if (kind == 1) { o2++; continue; }
            if (kind == 8 && t[o2 + 1] == 10) {
                uint32_t v = be32(t + o2 + 2);
                if (fl[k].has_ts[d]) assert_true((int32_t)(v - fl[k].ts[d]) >= 0), checked_ts++;
                fl[k].ts[d] = v, fl[k].has_ts[d] = 1;
            }
            if (t[o2 + 1] < 2) break;
            o2 += t[o2 + 1];
        }
    }
    ns_capture_close(c);
    /* Every row is a packet but those repair drops (after an RST; empty ACKs of nothing new with no data
     * to stand for: repair.h), and a close may add some: as its report counts them. */
    uint8_t *json;
    size_t json_len;
    assert_int_equal(ns_read_file(report, &json, &json_len), NS_OK);
    const char *keys[] = {"\"rows\":", "\"dropped_rows\":", "\"acks_dropped\":", "\"close_added\":"};
    long v[4] = {0};
    for (int i = 0; i < 4; i++) assert_int_equal(sscanf(strstr((char *)json, keys[i]) + strlen(keys[i]), "%ld", &v[i]), 1);
    free(json);
    assert_int_equal(v[0], 6 * 20);
    assert_int_equal(packets, v[0] - v[1] - v[2] + v[3]);
    assert_true(tcp > packets / 2);
    (void)checked_ts;
    /* Longer than a file without totals holds: the dataset written carries them. */
    const char *out = strdup(tu_path(dir, "long.ds"));
    assert_int_equal(tu_system("%s generate --model %s --prompt kind=web -n 2 --length 1030 --steps 2 --seed 3 -q "
                               "-o %s", bin, o.out_path, out), 0);
    ns_dataset g;
    assert_int_equal(ns_dataset_load(&g, out), NS_OK);
    assert_int_equal(g.version, NS_DATASET_VERSION);
    assert_non_null(g.totals);
    assert_int_equal(g.max_packets, 1030);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(g.flows[i].n_packets, 1030);
        assert_int_equal(g.totals[i].packets[0] + g.totals[i].packets[1], 1030);
    }
    ns_dataset_free(&g);
    free((char *)out);
    free((char *)pcap), free((char *)report);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

/* Issue 15: the length head learns whole lengths past the window in log2
 * bins, and generation draws them: with a window of 2 rows and flows of 3
 * to 9 packets, nearly every generated flow is longer than the window
 * (generated window by window) and no longer than the last bin, 16. A model
 * whose training flows all fit its window keeps the head of before. */
static void test_whole_length_head(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    long_flows *l = malloc(sizeof *l);
    ns_dataset ds;
    long_flows_file(l, &ds, 100, dir, "whole.ds");
    ns_train_opts o;
    tiny_opts(&o, dir, 300);
    o.max_packets = 2;
    o.st.w_len = 1.0f;
    ns_train_result res;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    assert_int_equal(m.cfg.max_packets, 2);
    assert_int_equal(m.cfg.len_bins, 3);   /* (2, 4], (4, 8], (8, 16] */
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    go.sampler.steps = 2;
    int32_t ids[1];
    assert_int_equal(ns_gen_parse_prompt(&m, "kind=web", ids), NS_OK);
    ns_gen_flows g = {0};
    assert_int_equal(ns_generate(&m, &go, ids, 40, 0, &g), NS_OK);
    int past = 0, last_bin = 0;
    for (size_t f = 0; f < g.n_flows; f++) {
        /* Within a bin a length is drawn where the class's flows lie (the trace model's quantiles, version
         * 12): kind=web's longest flow is 9 packets, the one flow in (8, 16], so every flow drawn there is
         * 9 long (log-uniform draws in that bin took 9 to 16, 9 in 17% of draws). */
        assert_true(g.len[f] >= 1 && g.len[f] <= 9);
        past += g.len[f] > 2, last_bin += g.len[f] > 8;
    }
    print_message("%d of 40 flows past the 2-row window, %d in (8, 16]\n", past, last_bin);
    assert_true(past >= 36);
    assert_true(last_bin >= 2);
    ns_gen_flows_free(&g);
    /* The flows of one prompt draw their lengths stratified (NS_GEN_STRATA):
     * each length class k gets floor or ceil of n p_k of them, where
     * independent draws scatter around n p_k (with 40 flows over 5 classes,
     * some class by 2 or more nearly always). Over two blocks of streams
     * (starting 30 before a block's end), each block's flows so. */
    int NL = ns_model_length_classes(&m.cfg);
    assert_int_equal(NL, 5);
    float logits[5];
    assert_int_equal(ns_gen_length_logits(logits, &m, &go, ids, 1), NS_OK);
    double p[5], s = 0;
    for (int k = 0; k < NL; k++) s += p[k] = exp(logits[k]);
    enum { N = 40, TAIL = 30 }; /* the second run: TAIL flows in one block, N - TAIL in the next */
    for (int run = 0; run < 2; run++) {
        ns_gen_flows gs = {0};
        uint64_t stream0 = run ? NS_GEN_STRATA - TAIL : 0;
        go.seed = 7;
        assert_int_equal(ns_generate(&m, &go, ids, N, stream0, &gs), NS_OK);
        for (size_t at = 0; at < N;) {
            size_t n = run ? (at ? N - TAIL : TAIL) : N, count[5] = {0};
            for (size_t f = at; f < at + n; f++) count[ns_model_length_class(&m.cfg, gs.len[f])]++;
            for (int k = 0; k < NL; k++) {
                double want = (double)n * p[k] / s;
                print_message("stream0 %d flows %zu..%zu class %d: %zu, expected %.2f\n", (int)stream0, at, at + n,
                              k, count[k], want);
                assert_true(fabs((double)count[k] - want) < 1.0 + 1e-6);
            }
            at += n;
        }
        ns_gen_flows_free(&gs);
    }
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
    free(l);

    /* Every flow within the window: no bins. */
    ns_dataset short_ds;
    train_tiny(dir, 1, &short_ds, &o);
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    assert_int_equal(m.cfg.len_bins, 0);
    ns_modelfile_free(&m);
    ns_dataset_free(&short_ds);
}

static void test_overfit_reproduces_flows(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    ns_train_result res = train_tiny(dir, 1000, &ds, &o);
    assert_int_equal(res.steps_done, 1000);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    for (int web = 0; web < 2; web++) {
        int32_t ids[1];
        assert_int_equal(ns_gen_parse_prompt(&m, web ? "kind=web" : "kind=dns", ids), NS_OK);
        ns_gen_flows g = {0};
        assert_int_equal(ns_generate(&m, &go, ids, 20, 0, &g), NS_OK);
        size_t right_len = 0;
        for (size_t f = 0; f < g.n_flows; f++) right_len += g.len[f] == LEN;
        double rate = match_rate(&g, web);
        print_message("kind=%s: %zu/20 flows of length %d, %.0f%% rows exact\n", web ? "web" : "dns", right_len, LEN,
                      100 * rate);
        assert_true(right_len >= 18);
        assert_true(rate >= 0.9);
        /* Directions and timing follow the class too. */
        assert_int_equal(g.dir[g.first[0] + 1], 1);
        double iat = (double)g.iat_ns[g.first[0] + 2];
        assert_true(iat > (web ? 5e6 : 2e5) && iat < (web ? 8e7 : 4e6));
        ns_gen_flows_free(&g);
    }
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

static void test_resume_equals_uninterrupted(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    assert_int_equal(ns_dataset_load(&ds, make_dataset(dir)), NS_OK);
    ns_train_opts a, b;
    ns_train_result res;
    char a_out[4096], a_ckpt[4096], b_out[4096], b_ckpt[4096];
    snprintf(a_out, sizeof a_out, "%s", tu_path(dir, "a.model"));
    snprintf(a_ckpt, sizeof a_ckpt, "%s", tu_path(dir, "a.ckpt"));
    snprintf(b_out, sizeof b_out, "%s", tu_path(dir, "b.model"));
    snprintf(b_ckpt, sizeof b_ckpt, "%s", tu_path(dir, "b.ckpt"));
    tiny_opts(&a, dir, 40);
    a.out_path = a_out, a.ckpt_path = a_ckpt;
    assert_int_equal(ns_train(&ds, &a, &res), NS_OK);
    tiny_opts(&b, dir, 40);
    b.out_path = b_out, b.ckpt_path = b_ckpt;
    b.stop_at_step = 17;
    assert_int_equal(ns_train(&ds, &b, &res), NS_OK);
    assert_true(res.interrupted);
    assert_int_equal(res.steps_done, 17);
    b.stop_at_step = 0;
    b.resume_path = b.ckpt_path;
    assert_int_equal(ns_train(&ds, &b, &res), NS_OK);
    assert_int_equal(res.steps_done, 40);
    ns_modelfile ma, mb;
    assert_int_equal(ns_modelfile_load(&ma, a.ckpt_path), NS_OK);
    assert_int_equal(ns_modelfile_load(&mb, b.ckpt_path), NS_OK);
    assert_int_equal(ma.n_params, mb.n_params);
    assert_memory_equal(ma.weights, mb.weights, ma.n_params * sizeof(float));
    assert_memory_equal(ma.train_w, mb.train_w, ma.n_params * sizeof(float));
    assert_memory_equal(ma.adam_v, mb.adam_v, ma.n_params * sizeof(float));
    ns_modelfile_free(&ma);
    ns_modelfile_free(&mb);
    ns_dataset_free(&ds);
}

static void test_model_file_round_trip_and_corruption(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 5, &ds, &o);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.ckpt_path), NS_OK);
    assert_true(m.has_state);
    assert_int_equal(m.st.step, 5);
    assert_int_equal(m.n_tokens, 2);
    assert_string_equal(m.tokens[1], "kind=web");
    assert_string_equal(m.attr_names[0], "kind");
    assert_int_equal(m.n_combos, 2);
    assert_int_equal(m.combo_count[0] + m.combo_count[1], FLOWS);
    /* Save again: byte-identical file. */
    saves_as_loaded(&m, o.ckpt_path, dir, 1);
    ns_modelfile_free(&m);

    uint8_t *buf;
    size_t len;
    assert_int_equal(ns_read_file(o.out_path, &buf, &len), NS_OK);
    const char *bad = tu_path(dir, "bad.model");
    /* One flipped byte anywhere: a checksum error, never a crash. */
    for (size_t at = 0; at < len; at += len / 37 + 1) {
        buf[at] ^= 0x40;
        assert_int_equal(tu_write_file(bad, buf, len), 0);
        int rc = ns_modelfile_load(&m, bad);
        assert_true(rc == NS_ECORRUPT || rc == NS_EFORMAT || rc == NS_EVERSION || rc == NS_ETRUNC);
        assert_non_null(strstr(ns_errmsg(), "bad.model"));
        buf[at] ^= 0x40;
    }
    /* Versions 1 and 2 (rows of 1088 or 1600 values, no IPv6) say what to do; a newer one is refused too.
     * A model of one token a packet is still written as version 3; as 4 or 5 it is an impossible config. */
    assert_int_equal(buf[8], 3);
    for (uint8_t v = 1; v <= 6; v++) {
        if (v == 4 || v == 5) { /* with a valid checksum: the header's config is refused */
            buf[8] = v;
            ns_store_le32(buf + 144, 0);
            ns_store_le32(buf + 144, ns_crc32(0, buf, len));
            assert_int_equal(tu_write_file(bad, buf, len), 0);
            assert_int_equal(ns_modelfile_load(&m, bad), NS_ECORRUPT);
            assert_non_null(strstr(ns_errmsg(), "impossible model config"));
            continue;
        }
        if (v == 3) continue;
        buf[8] = v;
        assert_int_equal(tu_write_file(bad, buf, len), 0);
        assert_int_equal(ns_modelfile_load(&m, bad), NS_EVERSION);
        const char *msg = ns_errmsg();
        assert_non_null(strstr(msg, "bad.model"));
        if (v < 3 && (!strstr(msg, "rebuild the dataset with `netsynth dataset`") || !strstr(msg, "netsynth train")))
            fail_msg("version %u: %s", v, msg);
        if (v < 3) assert_non_null(strstr(msg, "(rows without the IPv6 layer)"));   /* 1088 or 1600 values */
        if (v == 6) assert_non_null(strstr(msg, "version 6"));
    }
    buf[8] = 3;
    ns_store_le32(buf + 144, 0);
    ns_store_le32(buf + 144, ns_crc32(0, buf, len));
    /* Truncated at every size class. */
    for (size_t cut = 0; cut < len; cut += len / 23 + 1) {
        assert_int_equal(tu_write_file(bad, buf, cut), 0);
        assert_true(ns_modelfile_load(&m, bad) < 0);
    }
    /* A dataset is not a model, and says so. */
    assert_int_equal(ns_modelfile_load(&m, tu_path(dir, "tiny.ds")), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "dataset"));
    free(buf);
    ns_dataset_free(&ds);
}

/* A control branch and an adapter, whose files keep a plain model's
 * shapes, refuse m as a base, saying why. */
static void refuses_branches(ns_modelfile *m, const ns_dataset *ds, const char *why)
{
    ns_controlnet ctl;
    assert_int_equal(ns_controlnet_init(&ctl, m, 1), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), why));
    ns_lora ad;
    assert_int_equal(ns_lora_init(&ad, m, ds, 2, 1.0f, 1), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), why));
}

/* The model file at path is `version` with `value` at byte `at`; each of
 * wrong[2] (unless NULL) written there with a valid checksum is an
 * impossible config, refused naming the file, not a misread. */
static void header_refuses(const char *path, const char *dir, uint32_t version, size_t at, uint32_t value,
                           const uint32_t wrong[2])
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(ns_read_file(path, &buf, &len), NS_OK);
    assert_int_equal(ns_load_le32(buf + 8), version);
    assert_int_equal(ns_load_le32(buf + at), value);
    const char *bad = tu_path(dir, "bad.model");
    for (int i = 0; wrong && i < 2; i++) {
        ns_modelfile m;
        ns_store_le32(buf + at, wrong[i]);
        ns_store_le32(buf + 144, 0);
        ns_store_le32(buf + 144, ns_crc32(0, buf, len));
        assert_int_equal(tu_write_file(bad, buf, len), 0);
        assert_int_equal(ns_modelfile_load(&m, bad), NS_ECORRUPT);
        assert_non_null(strstr(ns_errmsg(), "bad.model"));
    }
    free(buf);
}

/* Several tokens per packet (issues 16, 17): a model of 2 tokens a row
 * trains, saves as version 4 with its groups, loads, saves again byte for
 * byte and generates flows; its header with an impossible groups count is
 * refused; control branches and adapters, whose files keep one-token
 * shapes, refuse it as a base. */
static void test_grouped_model_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    assert_int_equal(ns_dataset_load(&ds, make_dataset(dir)), NS_OK);
    tiny_opts(&o, dir, 30);
    o.groups = 2;
    ns_train_result res;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    assert_int_equal(m.cfg.groups, 2);
    assert_int_equal(m.n_params, ns_model_params_layout(NULL, &m.cfg, NULL));
    saves_as_loaded(&m, o.out_path, dir, 0);

    ns_gen_opts go;
    int32_t ids[1];
    web_prompt(&m, &go, ids);
    ns_gen_flows g = {0};
    assert_int_equal(ns_generate(&m, &go, ids, 4, 0, &g), NS_OK);
    assert_int_equal(g.n_flows, 4);
    for (size_t f = 0; f < g.n_flows; f++) {
        assert_true(g.len[f] >= 1);
        assert_true(g.rows[g.first[f] * W + NS_NP_COL_IPV4] >= 0);
    }
    ns_gen_flows_free(&g);

    refuses_branches(&m, &ds, "2 tokens per packet");
    ns_modelfile_free(&m);

    /* The header: version 4, groups at 244; groups 1 or 17 there (with a
     * valid checksum) is an impossible config, not a misread. */
    const uint32_t wrong[] = {1, 17};
    header_refuses(o.out_path, dir, 4, 244, 2, wrong);
    ns_dataset_free(&ds);
}

/* Self-conditioning (issue 16, train --self-cond). A share so small that
 * no flow draws it trains sc_w with zero gradients, so every other weight
 * must come out exactly as without self-conditioning: its draws, init and
 * layout leave the rest alone (the weights of P = 0 are those of before).
 * A share of 1/2 trains, saves as version 5 with the flag at 248 and its
 * share in the checkpoint, loads, saves again byte for byte, resumes,
 * generates the same flows for the same seed (and other flows than the
 * same weights without the estimate); a header with the flag 0 or 2 is
 * refused; control branches and adapters refuse it as a base. */
static void test_self_cond_model(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    assert_int_equal(ns_dataset_load(&ds, make_dataset(dir)), NS_OK);
    ns_train_result res;
    ns_modelfile plain, m;
    tiny_opts(&o, dir, 30);
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    assert_int_equal(ns_modelfile_load(&plain, o.ckpt_path), NS_OK);
    tiny_opts(&o, dir, 30);
    o.st.self_cond = 1e-12f;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    assert_int_equal(ns_modelfile_load(&m, o.ckpt_path), NS_OK);
    assert_int_equal(m.cfg.self_cond, 1);
    size_t n0 = plain.n_params, nsc = (size_t)m.cfg.in_dim * m.cfg.d;
    assert_int_equal(m.n_params, n0 + nsc);
    assert_memory_equal(plain.weights, m.weights, n0 * sizeof(float));
    assert_memory_equal(plain.train_w, m.train_w, n0 * sizeof(float));
    for (size_t i = 0; i < nsc; i++) assert_true(m.p.sc_w[i] == 0);
    ns_modelfile_free(&m);
    ns_modelfile_free(&plain);

    tiny_opts(&o, dir, 30);
    o.st.self_cond = 0.5f;
    o.st.val_frac = 0.1f, o.st.eval_every = 30;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    assert_true(isfinite(res.val_loss) && res.val_loss > 0);
    assert_int_equal(ns_modelfile_load(&m, o.ckpt_path), NS_OK);
    assert_true(m.st.self_cond == 0.5f);
    double moved = 0;
    for (size_t i = 0; i < nsc; i++) moved += fabs(m.p.sc_w[i]);
    assert_true(moved > 0);
    ns_modelfile_free(&m);
    /* Resumed for 10 more steps it keeps its share (the checkpoint's). */
    ns_train_opts r;
    tiny_opts(&r, dir, 40);
    r.resume_path = o.ckpt_path, r.resume_steps = 40;
    r.out_path = tu_path(dir, "resumed.model"), r.ckpt_path = tu_path(dir, "resumed.ckpt");
    assert_int_equal(ns_train(&ds, &r, &res), NS_OK);
    assert_int_equal(ns_modelfile_load(&m, r.ckpt_path), NS_OK);
    assert_true(m.st.self_cond == 0.5f && m.cfg.self_cond == 1 && m.st.step == 40);
    ns_modelfile_free(&m);

    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    saves_as_loaded(&m, o.out_path, dir, 0);
    ns_gen_opts go;
    int32_t ids[1];
    web_prompt(&m, &go, ids);
    ns_gen_flows g1 = {0}, g2 = {0}, g3 = {0};
    assert_int_equal(ns_generate(&m, &go, ids, 6, 0, &g1), NS_OK);
    assert_int_equal(ns_generate(&m, &go, ids, 6, 0, &g2), NS_OK);
    assert_int_equal(g1.n_rows, g2.n_rows);
    assert_memory_equal(g1.rows, g2.rows, g1.n_rows * W);
    assert_memory_equal(g1.iat_ns, g2.iat_ns, g1.n_rows * sizeof *g1.iat_ns);
    /* The same weights without the estimate sample other rows: it is read. */
    m.cfg.self_cond = 0;
    assert_int_equal(ns_generate(&m, &go, ids, 6, 0, &g3), NS_OK);
    m.cfg.self_cond = 1;
    assert_true(g3.n_rows != g1.n_rows || memcmp(g1.rows, g3.rows, g1.n_rows * W) != 0);
    ns_gen_flows_free(&g1), ns_gen_flows_free(&g2), ns_gen_flows_free(&g3);

    refuses_branches(&m, &ds, "self-conditioned");
    ns_modelfile_free(&m);

    /* The header: version 5, groups 1 at 244, the flag at 248; 0 or 2
     * there (with a valid checksum) is an impossible config. */
    const uint32_t wrong[] = {0, 2};
    header_refuses(o.out_path, dir, 5, 244, 1, NULL);
    header_refuses(o.out_path, dir, 5, 248, 1, wrong);
    ns_dataset_free(&ds);
}

/* The guidance scale that ns_gen_opts_init leaves is the model's: 2 below
 * a width of 192 (small, this tiny one: the same flows as --guidance 2),
 * 1.5 from the medium default on (BENCHMARK.md, "The medium model's
 * sampler (session 12)"). */
static void test_default_guidance_is_the_models(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 30, &ds, &o);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    ns_gen_opts go, two;
    ns_gen_opts_init(&go);
    assert_true(go.guidance == NS_GEN_GUIDANCE_MODEL);
    two = go, two.guidance = 2.0f;
    int32_t ids[1];
    assert_int_equal(ns_gen_parse_prompt(&m, "kind=web", ids), NS_OK);
    ns_gen_flows g1 = {0}, g2 = {0};
    assert_int_equal(ns_generate(&m, &go, ids, 12, 0, &g1), NS_OK);
    assert_int_equal(ns_generate(&m, &two, ids, 12, 0, &g2), NS_OK);
    assert_int_equal(g1.n_rows, g2.n_rows);
    assert_memory_equal(g1.rows, g2.rows, g1.n_rows * W);
    ns_model_config c;
    const char *names[] = {"tiny", "small", "medium", "base"};
    const float want[] = {2.0f, 2.0f, 1.5f, 1.5f};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ns_model_config_named(&c, names[i]), NS_OK);
        assert_true(ns_gen_guidance_default(&c) == want[i]);
    }
    ns_gen_flows_free(&g1), ns_gen_flows_free(&g2);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

static void test_same_seed_same_flows(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 30, &ds, &o);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    assert_int_equal(go.guided_steps, 0);   /* guidance at every step by default (BENCHMARK.md) */
    int32_t ids[1];
    assert_int_equal(ns_gen_parse_prompt(&m, "kind=web", ids), NS_OK);
    ns_gen_flows g1 = {0}, g2 = {0}, g3 = {0};
    assert_int_equal(ns_generate(&m, &go, ids, 12, 0, &g1), NS_OK);
    assert_int_equal(ns_generate(&m, &go, ids, 12, 0, &g2), NS_OK);
    assert_int_equal(g1.n_rows, g2.n_rows);
    assert_memory_equal(g1.rows, g2.rows, g1.n_rows * W);
    assert_memory_equal(g1.iat_ns, g2.iat_ns, g1.n_rows * sizeof(int64_t));
    /* Batches of 2 flows spread over 1 or 2 threads: the same flows. */
    ns_gen_flows gt[2] = {{0}};
    go.batch = 2;
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        assert_int_equal(ns_generate(&m, &go, ids, 12, 0, &gt[th - 1]), NS_OK);
    }
    omp_set_num_threads(omp_get_num_procs());
    assert_int_equal(gt[0].n_rows, gt[1].n_rows);
    assert_memory_equal(gt[0].rows, gt[1].rows, gt[0].n_rows * W);
    assert_memory_equal(gt[0].iat_ns, gt[1].iat_ns, gt[0].n_rows * sizeof(int64_t));
    ns_gen_flows_free(&gt[0]), ns_gen_flows_free(&gt[1]);
    /* Guidance at the last `steps` steps is guidance at every step. */
    go.batch = 0;
    go.guided_steps = go.sampler.steps;
    assert_int_equal(ns_generate(&m, &go, ids, 12, 0, &gt[0]), NS_OK);
    assert_int_equal(gt[0].n_rows, g1.n_rows);
    assert_memory_equal(gt[0].rows, g1.rows, g1.n_rows * W);
    go.guided_steps = 1; /* fewer passes: runs, gives flows of the same lengths */
    assert_int_equal(ns_generate(&m, &go, ids, 12, 0, &gt[1]), NS_OK);
    assert_int_equal(gt[1].n_rows, g1.n_rows);
    ns_gen_flows_free(&gt[0]), ns_gen_flows_free(&gt[1]);
    go.guided_steps = 0;
    go.seed = 2;
    assert_int_equal(ns_generate(&m, &go, ids, 12, 0, &g3), NS_OK);
    assert_true(g1.n_rows != g3.n_rows || memcmp(g1.iat_ns, g3.iat_ns, g1.n_rows * sizeof(int64_t)));
    /* Like-for-like with the training set: a request per class, in the
     * order the classes first appear, generated as ns_generate_many would
     * and labelled as planned. */
    go.seed = 1;
    ns_gen_plan plan;
    assert_int_equal(ns_gen_plan_like(&plan, &m, &ds, "tiny.ds"), NS_OK);
    assert_int_equal(plan.n, 2);
    assert_string_equal(plan.req[0].name, "dns"), assert_int_equal(plan.req[0].n, FLOWS / 2);
    assert_string_equal(plan.req[1].name, "web"), assert_int_equal(plan.req[1].n, FLOWS / 2);
    ns_gen_flows gp = {0}, gm = {0};
    int32_t each[FLOWS];
    for (int f = 0; f < FLOWS; f++) each[f] = f < FLOWS / 2 ? 0 : 1;
    for (size_t k = 0; k < plan.n; k++) free(plan.req[k].svc), plan.req[k].svc = NULL; /* as it comes: below */
    assert_int_equal(ns_generate_plan(&m, &go, &plan, 0, &gp), NS_OK);
    assert_int_equal(ns_generate_many(&m, &go, each, FLOWS, 0, &gm), NS_OK);
    assert_int_equal(gp.n_flows, FLOWS);
    assert_int_equal(gp.n_rows, gm.n_rows);
    assert_memory_equal(gp.rows, gm.rows, gm.n_rows * W);
    assert_memory_equal(gp.labels, each, sizeof each);
    ns_gen_flows_free(&gp);
    /* Services to match: the dns request asks for the services its flows
     * came with, in reverse order, and last for one that no flow has; the
     * web request asks for nothing. Each asked service comes out in place
     * (from the first round or a later one), the unmatched slot takes a
     * flow left over, and web's flows are ns_generate_many's. */
    uint32_t svc[FLOWS], seen = 0;
    for (int f = 0; f < FLOWS; f++) {
        assert_int_equal(ns_gen_flow_svc(&gm, (size_t)f, &svc[f]), NS_OK);
        seen |= f > 0 && f < FLOWS / 2 && svc[f] != svc[1];
    }
    assert_true(seen); /* the services differ, or the order proves nothing */
    plan.req[0].svc = malloc(FLOWS / 2 * sizeof *plan.req[0].svc);
    for (int i = 0; i < FLOWS / 2; i++)
        plan.req[0].svc[i] = i < FLOWS / 2 - 1 ? svc[FLOWS / 2 - 1 - i] : NS_GEN_SVC(6, 9);
    assert_int_equal(ns_generate_plan(&m, &go, &plan, 0, &gp), NS_OK);
    assert_int_equal(gp.n_flows, FLOWS);
    for (int f = 0; f < FLOWS / 2 - 1; f++) {
        uint32_t got;
        assert_int_equal(ns_gen_flow_svc(&gp, (size_t)f, &got), NS_OK);
        assert_int_equal(got, plan.req[0].svc[f]);
    }
    assert_memory_equal(gp.rows + gp.first[FLOWS / 2] * W, gm.rows + gm.first[FLOWS / 2] * W,
                        (gm.n_rows - gm.first[FLOWS / 2]) * W);
    assert_memory_equal(gp.labels, each, sizeof each);
    ns_gen_flows_free(&gp), ns_gen_flows_free(&gm);
    ns_gen_plan_free(&plan);
    /* Length guidance 0 draws every length from the unconditional head, 1
     * from the prompt's. A large prompt embedding makes the two differ. */
    go.seed = 1;
    for (int k = 0; k < m.cfg.d; k++) m.p.prompt[(size_t)ids[0] * m.cfg.d + k] += k % 2 ? 4.0f : -4.0f;
    int32_t none[1] = {-1};
    size_t lens[3][64];
    for (int run = 0; run < 3; run++) {
        ns_gen_flows gl = {0};
        go.length_guidance = run == 1 ? 0.0f : 1.0f;
        assert_int_equal(ns_generate(&m, &go, run == 2 ? none : ids, 64, 0, &gl), NS_OK);
        for (int f = 0; f < 64; f++) lens[run][f] = gl.len[f];
        ns_gen_flows_free(&gl);
    }
    assert_memory_equal(lens[1], lens[2], sizeof lens[1]);
    assert_memory_not_equal(lens[0], lens[2], sizeof lens[0]);
    /* Prompt errors. */
    assert_int_equal(ns_gen_parse_prompt(&m, "kind=ftp", ids), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "kind=dns kind=web"));
    assert_int_equal(ns_gen_parse_prompt(&m, "kind=web,kind=dns", ids), NS_EARG);
    assert_int_equal(ns_gen_parse_prompt(&m, "", ids), NS_OK);
    assert_int_equal(ids[0], -1);
    ns_gen_flows_free(&g1), ns_gen_flows_free(&g2), ns_gen_flows_free(&g3);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

/* Fine-tune an adapter of base on ds (1500 steps), merge it, and return the
 * share of exact rows generated for each of the three kinds. */
static void adapter_rates(const ns_modelfile *base, const ns_dataset *ds, const char *path, double rate[3])
{
    ns_finetune_opts fo;
    ns_finetune_opts_init(&fo);
    fo.st.steps = 1500, fo.st.batch = 16, fo.st.lr = 3e-3f, fo.st.warmup = 20, fo.st.log_every = 0;
    fo.threads = 1;
    fo.out_path = path;
    ns_train_result res;
    assert_int_equal(ns_finetune(base, ds, &fo, &res), NS_OK);
    assert_int_equal(res.steps_done, 1500);
    ns_lora a;
    ns_modelfile merged;
    assert_int_equal(ns_lora_load(&a, path), NS_OK);
    const ns_lora *one = &a;
    assert_int_equal(ns_lora_merge(&merged, base, &one, &path, 1), NS_OK);
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    for (int kind = 0; kind < 3; kind++) {
        static const char *prompt[3] = {"kind=dns", "kind=web", "kind=ssh"};
        int32_t ids[1];
        ns_gen_flows g = {0};
        assert_int_equal(ns_gen_parse_prompt(&merged, prompt[kind], ids), NS_OK);
        assert_int_equal(ns_generate(&merged, &go, ids, 20, 0, &g), NS_OK);
        rate[kind] = match_rate(&g, kind);
        ns_gen_flows_free(&g);
    }
    ns_lora_free(&a);
    ns_modelfile_free(&merged);
}

/* A base that never saw kind=ssh learns it from an adapter, and the base
 * alone refuses the prompt. An adapter trained on the new class alone
 * pulls the other classes toward it (it changes weights they share);
 * fine-tuning on a few flows of the old classes as well keeps them. */
static void test_lora_teaches_a_new_class(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset all, old, ssh;
    assert_int_equal(ns_dataset_load(&all, make_kinds(dir, 3, 24)), NS_OK);
    uint8_t keep[24];
    const char *old_path = strdup(tu_path(dir, "old.ds")), *ssh_path = strdup(tu_path(dir, "ssh.ds"));
    const char *lora_path = strdup(tu_path(dir, "ssh.lora"));
    for (int f = 0; f < 24; f++) keep[f] = all.labels[f] != 2;
    assert_int_equal(ns_dataset_write_subset(&all, keep, old_path), NS_OK);
    for (int f = 0; f < 24; f++) keep[f] = !keep[f];
    assert_int_equal(ns_dataset_write_subset(&all, keep, ssh_path), NS_OK);
    assert_int_equal(ns_dataset_load(&old, old_path), NS_OK);
    assert_int_equal(ns_dataset_load(&ssh, ssh_path), NS_OK);

    ns_train_opts o;
    ns_modelfile base;
    train_and_load(&old, dir, 600, &o, &base);
    int32_t ids[1];
    assert_int_equal(ns_gen_parse_prompt(&base, "kind=ssh", ids), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "'kind=ssh' was never trained"));

    double only[3], mixed[3];
    adapter_rates(&base, &ssh, lora_path, only);
    adapter_rates(&base, &all, lora_path, mixed);
    print_message("exact rows dns/web/ssh: adapter on ssh alone %.0f/%.0f/%.0f%%, on all three %.0f/%.0f/%.0f%%\n",
                  100 * only[0], 100 * only[1], 100 * only[2], 100 * mixed[0], 100 * mixed[1], 100 * mixed[2]);
    assert_true(only[2] >= 0.8 && mixed[2] >= 0.8);
    /* --per-class goes through the classes a model learned: the base's two,
     * and the adapter's third with --lora. */
    const char *bin = tu_netsynth_bin();
    assert_int_equal(tu_system("%s generate -q --model %s --per-class 2 -o %s/pc >/dev/null 2>&1 && ls %s/pc/*.pcap | wc -l "
                               "| grep -qx 2", bin, o.out_path, dir, dir), 0);
    assert_int_equal(tu_system("%s generate -q --model %s --lora %s --per-class 2 -o %s/pc2 >/dev/null 2>&1 && "
                               "test -f %s/pc2/ssh.pcap && ls %s/pc2/*.pcap | wc -l | grep -qx 3", bin, o.out_path,
                               lora_path, dir, dir, dir), 0);
    /* --like refuses a class the model never learned, as --prompt does, and takes it from the adapter. */
    assert_int_equal(tu_system("%s generate -q --model %s --like %s -o %s/lk 2>&1 | grep -q \"'kind=ssh' was never "
                               "trained\" && test ! -e %s/lk", bin, o.out_path, ssh_path, dir, dir), 0);
    assert_int_equal(tu_system("%s generate -q --model %s --lora %s --like %s -o %s/lk >/dev/null 2>&1 && test -f "
                               "%s/lk/ssh.pcap", bin, o.out_path, lora_path, ssh_path, dir, dir), 0);
    assert_true(mixed[0] >= 0.5 && mixed[1] >= 0.5 && mixed[0] + mixed[1] > only[0] + only[1] + 0.5);

    ns_modelfile_free(&base);
    ns_dataset_free(&ssh);
    ns_dataset_free(&old);
    ns_dataset_free(&all);
    free((char *)old_path), free((char *)ssh_path), free((char *)lora_path);
}

/* The lengths of a held-out pair: a tiny model trained on (dns, h1),
 * (web, h1) and (dns, h2), never on (web, h2). For that prompt the length
 * logits are the product of experts L(web) + L(h2) - L(); for a trained
 * one the head's own; length guidance g makes them L() + g (that - L()). */
static void test_length_logits_of_a_held_out_pair(void **state)
{
    (void)state;
    enum { N = 24 };
    static const char *attr_names[] = {"kind", "host"};
    static const uint32_t attr_first[] = {0, 2, 4};
    static const char *tokens[] = {"kind=dns", "kind=web", "host=h1", "host=h2"};
    static const char *files[] = {"made-in-test"};
    static const int combos[3][2] = {{0, 2}, {1, 2}, {0, 3}};
    ns_ds_flow flows[N];
    int32_t labels[2 * N];
    int64_t iat[N * LEN];
    uint8_t dirs[N * LEN], bits[N * LEN * ((W + 3) / 4)];
    int8_t row[W];
    memset(flows, 0, sizeof flows);
    uint64_t at = 0;
    for (int f = 0; f < N; f++) {
        const int *c = combos[f % 3];
        uint32_t len = c[1] == 2 ? 2 : 3; /* the host decides the length */
        flows[f].first = at, flows[f].n_packets = flows[f].seen = len, flows[f].proto = c[0] ? 6 : 17;
        labels[2 * f] = c[0], labels[2 * f + 1] = c[1];
        for (uint32_t k = 0; k < len; k++, at++) {
            make_row(row, c[0], (int)k, f);
            ns_dataset_pack_row(row, W, bits + at * ((W + 3) / 4));
            iat[at] = k ? 1000000 : 0, dirs[at] = k == 1;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = 8, .n_flows = N, .n_packets = at,
                     .n_attrs = 2, .n_tokens = 4, .n_files = 1, .attr_names = attr_names, .attr_first = attr_first,
                     .tokens = tokens, .files = files, .flows = flows, .labels = labels, .iat_ns = iat, .dir = dirs,
                     .bits = bits};
    const char *dir = tu_tmpdir();
    ns_train_opts o;
    ns_modelfile m;
    train_and_load(&ds, dir, 300, &o, &m);
    int T = m.cfg.max_packets;

    /* The head itself, on every prompt the rule can ask for. */
    enum { PAIR, TRAINED, WEB, H2, NONE, K };
    const int32_t asked[K][2] = {{1, 3}, {1, 2}, {1, -1}, {-1, 3}, {-1, -1}};
    float head[K * 8], got[2 * 8], want[2 * 8];
    ns_model_acts *acts;
    assert_int_equal(ns_model_acts_new(&acts, &m.cfg, K, 1), NS_OK);
    ns_model_length_logits(head, acts, &m.p, &m.cfg, &asked[0][0], 2, K);
    ns_model_acts_free(acts);
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    for (int g = 1; g <= 2; g++) {
        go.length_guidance = (float)g;
        assert_int_equal(ns_gen_length_logits(got, &m, &go, &asked[0][0], 2), NS_OK);
        for (int t = 0; t < T; t++) {
            const float *u = head + NONE * T;
            want[t] = u[t] + g * (head[WEB * T + t] + head[H2 * T + t] - 2 * u[t]);
            want[T + t] = u[t] + g * (head[TRAINED * T + t] - u[t]);
        }
        for (int i = 0; i < 2 * T; i++) assert_float_equal(got[i], want[i], 1e-4);
    }
    /* The held-out pair's logits are not the head's own guess for it. */
    float diff = 0;
    for (int t = 0; t < T; t++) diff += fabsf(head[PAIR * T + t] - (head[WEB * T + t] + head[H2 * T + t] - head[NONE * T + t]));
    print_message("held-out pair: |joint - product of experts| summed over lengths %.3f\n", diff);
    assert_true(diff > 0.05);
    ns_modelfile_free(&m);
}

/* ---- checkpoints that pass their CRC but say something impossible ---------- */

/* Write src's bytes to dst with state slot `slot` (8 bytes, see modelfile.c's
 * STATE_FIELDS) set to v, or with float `index` of the raw weights, first
 * moments or second moments (part 0, 1, 2) set to f; the CRC recomputed, so
 * only the validation of what the fields say can refuse it. */
static void patch_ckpt(const char *src, const char *dst, int slot, const void *v, int part, size_t index, float f)
{
    uint8_t *buf;
    size_t size;
    assert_int_equal(ns_read_file(src, &buf, &size), NS_OK);
    uint64_t off = ns_load_le64(buf + 128), n = ns_load_le64(buf + 72);
    assert_true(off > 0);
    if (slot >= 0) memcpy(buf + off + 8 * (size_t)slot, v, 8);
    else memcpy(buf + off + 256 + (size_t)part * n * 4 + index * 4, &f, 4);
    ns_store_le32(buf + 144, 0);
    ns_store_le32(buf + 144, ns_crc32(0, buf, size));
    assert_int_equal(tu_write_file(dst, buf, size), 0);
    free(buf);
}

static void test_checkpoint_state_is_validated(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 5, &ds, &o);
    enum { STEP, STEPS, SEED, BATCH, WARMUP, EVAL, CKPT, LOG, LR, MIN_LR, WD, CLIP, EMA, PUNCOND, PDROP, BALANCE, VAL,
           W_IAT, W_DIR, W_LEN, ELAPSED };
    const struct {
        int slot, is_int;
        double v;
        const char *field;
    } bad[] = {{STEP, 1, -100, "step"},         {STEP, 1, 6, "step"},           {STEPS, 1, 0, "steps"},
               {BATCH, 1, 0, "batch"},          {WARMUP, 1, 0, "warmup"},       {LOG, 1, -1, "interval"},
               {LR, 0, NAN, "lr"},              {LR, 0, -1, "lr"},              {LR, 0, 0, "lr"},
               {MIN_LR, 0, NAN, "min_lr_frac"}, {WD, 0, INFINITY, "weight_decay"}, {CLIP, 0, -1, "clip"},
               {EMA, 0, 2, "ema_decay"},        {PUNCOND, 0, NAN, "p_uncond"},  {PDROP, 0, 1.5, "p_token_drop"},
               {BALANCE, 0, 1e6, "balance"},    {BALANCE, 0, NAN, "balance"},   {VAL, 0, -1, "val_frac"},
               {VAL, 0, 1, "val_frac"},         {W_IAT, 0, NAN, "w_iat"},       {W_DIR, 0, -1, "w_dir"},
               {W_LEN, 0, INFINITY, "w_len"},   {ELAPSED, 0, NAN, "elapsed_s"}};
    const char *bad_path = tu_path(dir, "bad.ckpt");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t iv = (int64_t)bad[i].v;
        double dv = bad[i].v;
        patch_ckpt(o.ckpt_path, bad_path, bad[i].slot, bad[i].is_int ? (const void *)&iv : (const void *)&dv, 0, 0, 0);
        ns_modelfile m;
        int rc = ns_modelfile_load(&m, bad_path);
        print_message("%s = %g: %s\n", bad[i].field, bad[i].v, ns_errmsg());
        assert_int_equal(rc, NS_ECORRUPT);
        assert_non_null(strstr(ns_errmsg(), bad_path));
        assert_non_null(strstr(ns_errmsg(), bad[i].field));
    }
    /* Non-finite raw weights or moments, and a negative second moment. */
    const struct {
        int part;
        float f;
        const char *what;
    } badw[] = {{0, NAN, "raw training weight"}, {1, INFINITY, "first moment"}, {2, -1, "second moment"}};
    for (size_t i = 0; i < sizeof badw / sizeof badw[0]; i++) {
        patch_ckpt(o.ckpt_path, bad_path, -1, NULL, badw[i].part, 7, badw[i].f);
        ns_modelfile m;
        assert_int_equal(ns_modelfile_load(&m, bad_path), NS_ECORRUPT);
        print_message("%s: %s\n", badw[i].what, ns_errmsg());
        assert_non_null(strstr(ns_errmsg(), badw[i].what));
    }
    /* Resuming one of them is the same clear error (balance 1e6 was a double free). */
    double huge = 1e6;
    patch_ckpt(o.ckpt_path, bad_path, BALANCE, &huge, 0, 0, 0);
    o.resume_path = bad_path;
    o.out_path = tu_path(dir, "resumed.model");
    ns_train_result res;
    assert_int_equal(ns_train(&ds, &o, &res), NS_ECORRUPT);
    assert_non_null(strstr(ns_errmsg(), "balance"));
    /* Such options given to the library are refused as well (a balance of 1e6
     * left no flow a weight and freed the sampler twice, in train and finetune). */
    ns_train_opts fresh;
    tiny_opts(&fresh, dir, 5);
    fresh.st.balance = 1e6f;
    assert_int_equal(ns_train(&ds, &fresh, &res), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "training options: balance"));
    ns_modelfile base;
    assert_int_equal(ns_modelfile_load(&base, tu_path(dir, "m.model")) /* no state: the options count */, NS_OK);
    ns_finetune_opts fo;
    ns_finetune_opts_init(&fo);
    fo.st.balance = 1e6f, fo.threads = 1;
    assert_int_equal(ns_finetune(&base, &ds, &fo, &res), NS_EARG);
    ns_modelfile_free(&base);
    /* The file as written still loads. */
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.ckpt_path), NS_OK);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

/* The timing head's bins in the header (bytes 168..179): a model trained
 * with bins keeps them, one trained with --timing-bins 0 has those bytes
 * zero as every file before the bins did, loads with the regressed timing
 * (out_dim 3 K + 2) and samples; impossible bins are refused. */
static void test_timing_bins_in_the_model_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 5, &ds, &o);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    assert_int_equal(m.cfg.timing_bins, NS_REPR_TIMING_BINS);
    assert_int_equal(m.repr.timing_bins, NS_REPR_TIMING_BINS);
    assert_int_equal(m.cfg.out_dim, 3 * m.cfg.n_bits + 1 + NS_REPR_TIMING_BINS + NS_MODEL_TIMING_SUB);
    assert_true(m.repr.bin_lo < m.repr.bin_hi);
    ns_modelfile_free(&m);

    uint8_t *buf;
    size_t size;
    assert_int_equal(ns_read_file(o.out_path, &buf, &size), NS_OK);
    const char *bad = tu_path(dir, "bad.model");
    uint32_t lo = ns_load_le32(buf + 172), nan = 0x7fc00000u;
    /* bins 0 (the outputs are the bins'), 1, too many; bin_hi = bin_lo; bin_hi NaN */
    const struct {
        size_t at;
        uint32_t v;
    } patch[] = {{168, 0}, {168, 1}, {168, NS_MODEL_MAX_TIMING_BINS + 1}, {176, lo}, {176, nan}};
    for (size_t i = 0; i < sizeof patch / sizeof patch[0]; i++) {
        uint8_t keep[4];
        memcpy(keep, buf + patch[i].at, 4);
        ns_store_le32(buf + patch[i].at, patch[i].v);
        ns_store_le32(buf + 144, 0);
        ns_store_le32(buf + 144, ns_crc32(0, buf, size));
        assert_int_equal(tu_write_file(bad, buf, size), 0);
        assert_int_equal(ns_modelfile_load(&m, bad), NS_ECORRUPT);
        print_message("%s\n", ns_errmsg());
        memcpy(buf + patch[i].at, keep, 4);
    }
    free(buf);

    /* The regressed timing of older models. */
    tiny_opts(&o, dir, 30);
    o.timing_bins = 0;
    ns_train_result res;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    assert_int_equal(ns_read_file(o.out_path, &buf, &size), NS_OK);
    for (int k = 148; k < 256; k++) /* 152..167 place the trace section (tmodel.h), 184..199 the
                                      * provenance (modelfile.h), neither of which is timing */
        if ((k < 152 || k >= 168) && (k < 184 || k >= 200)) assert_int_equal(buf[k], 0);
    free(buf);
    assert_int_equal(ns_modelfile_load(&m, o.out_path), NS_OK);
    assert_int_equal(m.cfg.timing_bins, 0);
    assert_int_equal(m.cfg.out_dim, 3 * m.cfg.n_bits + 2);
    ns_gen_opts go;
    ns_gen_opts_init(&go);
    int32_t ids[1];
    assert_int_equal(ns_gen_parse_prompt(&m, "kind=web", ids), NS_OK);
    ns_gen_flows g = {0};
    assert_int_equal(ns_generate(&m, &go, ids, 4, 0, &g), NS_OK);
    assert_int_equal(g.n_flows, 4);
    for (size_t r = 0; r < g.n_rows; r++) assert_true(g.iat_ns[r] >= 0);
    ns_gen_flows_free(&g);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

/* Weights that are finite but overflow the forward pass: the loss is not a
 * number, and training stops there with an error rather than writing a
 * model of NaNs with exit 0. */
static void test_non_finite_loss_stops_training(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 5, &ds, &o);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.ckpt_path), NS_OK);
    for (size_t i = 0; i < m.n_params; i++) m.train_w[i] = 1e30f;
    m.st.steps = 10;
    const char *huge = tu_path(dir, "huge.ckpt");
    assert_int_equal(ns_modelfile_save(&m, huge, 1), NS_OK);
    ns_modelfile_free(&m);
    o.resume_path = huge;
    o.ckpt_path = tu_path(dir, "after.ckpt");
    o.out_path = tu_path(dir, "after.model");
    ns_train_result res;
    int rc = ns_train(&ds, &o, &res);
    print_message("%s\n", ns_errmsg());
    assert_int_equal(rc, NS_ERANGE);
    assert_non_null(strstr(ns_errmsg(), "step 6 of 10"));
    assert_int_equal(tu_system("test ! -e '%s'", o.out_path), 0);
    ns_dataset_free(&ds);
}

/* --resume without --steps: the checkpoint's total (the CLI's default 27000
 * for a fresh run must not stretch the schedule), so the result equals the
 * run never interrupted. */
static void test_resume_keeps_the_checkpoints_steps(void **state)
{
    (void)state;
    /* the provenance's date, the one thing of the clock a model file holds */
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts a, b;
    ns_train_result res = train_tiny(dir, 30, &ds, &a);
    char a_model[4096];
    snprintf(a_model, sizeof a_model, "%s", a.out_path);
    tiny_opts(&b, dir, 30);
    b.out_path = tu_path(dir, "b.model"), b.ckpt_path = tu_path(dir, "b.ckpt");
    char b_out[4096], b_ckpt[4096];
    snprintf(b_out, sizeof b_out, "%s", b.out_path), snprintf(b_ckpt, sizeof b_ckpt, "%s", b.ckpt_path);
    b.out_path = b_out, b.ckpt_path = b_ckpt;
    b.stop_at_step = 11;
    assert_int_equal(ns_train(&ds, &b, &res), NS_OK);
    assert_true(res.interrupted);
    b.stop_at_step = 0;
    b.resume_path = b_ckpt;
    b.st.steps = 27000; /* what `train` without --steps would pass */
    assert_int_equal(ns_train(&ds, &b, &res), NS_OK);
    assert_int_equal(res.steps_done, 30);
    uint8_t *x, *y;
    size_t nx, ny;
    assert_int_equal(ns_read_file(a_model, &x, &nx), NS_OK);
    assert_int_equal(ns_read_file(b_out, &y, &ny), NS_OK);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x), free(y);
    /* An explicit total: more steps, and never fewer than those done. */
    b.resume_path = b_ckpt, b.resume_steps = 35;
    assert_int_equal(ns_train(&ds, &b, &res), NS_OK);
    assert_int_equal(res.steps_done, 35);
    b.resume_steps = 20;
    assert_int_equal(ns_train(&ds, &b, &res), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "fewer than the 35 steps"));
    ns_dataset_free(&ds);
}

/* A checkpoint knows its dataset: resuming on other flows (same vocabulary)
 * is an error unless asked for; a checkpoint of an older version (no
 * checksum recorded) still resumes. */
static void test_resume_refuses_other_data(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir(), *dir2 = tu_tmpdir();
    ns_dataset ds, other;
    ns_train_opts o;
    train_tiny(dir, 10, &ds, &o);
    assert_int_equal(ns_dataset_load(&other, make_kinds(dir2, 2, 24)), NS_OK);
    assert_true(ns_train_data_sum(&ds) != ns_train_data_sum(&other));
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s", o.ckpt_path);
    o.resume_path = ckpt, o.resume_steps = 12;
    o.ckpt_path = tu_path(dir2, "c.ckpt"), o.out_path = tu_path(dir2, "c.model");
    ns_train_result res;
    assert_int_equal(ns_train(&other, &o, &res), NS_EARG);
    print_message("%s\n", ns_errmsg());
    assert_non_null(strstr(ns_errmsg(), "other data"));
    assert_non_null(strstr(ns_errmsg(), "--resume-on-other-data"));
    o.resume_other_data = 1;
    assert_int_equal(ns_train(&other, &o, &res), NS_OK);
    assert_int_equal(res.steps_done, 12);
    /* The same data resumes; so does an older checkpoint without a checksum. */
    o.resume_other_data = 0;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    int64_t zero = 0;
    const char *old = tu_path(dir, "old.ckpt");
    patch_ckpt(ckpt, old, 21, &zero, 0, 0, 0);
    o.resume_path = old;
    assert_int_equal(ns_train(&other, &o, &res), NS_OK);
    ns_dataset_free(&other);
    ns_dataset_free(&ds);
}

/* Writes the checkpoint path's directory into the way (a non-empty directory
 * where the checkpoint goes) at the first progress line: the checkpoint write
 * after it fails as on a full disk. */
static ssize_t block_ckpt(void *cookie, const char *buf, size_t size)
{
    const char *path = cookie;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/x'", path);
    if (system(cmd)) return -1;
    return (ssize_t)size;
}

static void test_output_paths_and_failed_checkpoints(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 2, &ds, &o);
    /* An output under a regular file: refused before the first step. */
    const char *file = tu_path(dir, "plain");
    assert_int_equal(tu_write_file(file, "x", 1), 0);
    char under[4096], out[4096], ckpt[4096];
    snprintf(under, sizeof under, "%s/x.ckpt", file);
    snprintf(out, sizeof out, "%s", tu_path(dir, "ok.model"));
    tiny_opts(&o, dir, 20);
    o.out_path = out, o.ckpt_path = under;
    ns_train_result res;
    assert_int_equal(ns_train(&ds, &o, &res), NS_EIO);
    print_message("%s\n", ns_errmsg());
    assert_non_null(strstr(ns_errmsg(), "not a directory"));
    assert_int_equal(res.steps_done, 0);
    o.ckpt_path = tu_path(dir, "nosuchdir/x.ckpt");
    assert_int_equal(ns_train(&ds, &o, &res), NS_EIO);
    assert_int_equal(res.steps_done, 0);
    o.out_path = under, o.ckpt_path = NULL;
    assert_int_equal(ns_train(&ds, &o, &res), NS_EIO);
    assert_int_equal(tu_system("test ! -e '%s'", out), 0);

    /* The final checkpoint fails: the finished model is written anyway. */
    snprintf(ckpt, sizeof ckpt, "%s", tu_path(dir, "late.ckpt"));
    o.out_path = out, o.ckpt_path = ckpt;
    o.st.log_every = 5;
    FILE *progress = fopencookie(ckpt, "w", (cookie_io_functions_t){.write = block_ckpt});
    assert_non_null(progress);
    setvbuf(progress, NULL, _IONBF, 0);
    o.progress = progress;
    int rc = ns_train(&ds, &o, &res);
    print_message("%s\n", ns_errmsg());
    assert_int_equal(rc, NS_EIO);
    assert_true(res.model_written);
    assert_int_equal(res.steps_done, 20);
    assert_non_null(strstr(ns_errmsg(), ckpt));
    assert_non_null(strstr(ns_errmsg(), out));
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, out), NS_OK);
    ns_modelfile_free(&m);

    /* A checkpoint fails on the way: training stops there, the model so far is written. */
    assert_int_equal(tu_system("rm -rf '%s' '%s'", ckpt, out), 0);
    o.st.ckpt_every = 10;
    rc = ns_train(&ds, &o, &res);
    fclose(progress);
    print_message("%s\n", ns_errmsg());
    assert_int_equal(rc, NS_EIO);
    assert_int_equal(res.steps_done, 10);
    assert_true(res.model_written);
    assert_non_null(strstr(ns_errmsg(), "stopped at step 10 of 20"));
    assert_int_equal(ns_modelfile_load(&m, out), NS_OK);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

/* A stop request (a signal in the CLI) writes the work so far where it can be
 * found, never the final output: a partial model must not pass for a finished one. */
static void test_stop_writes_partial_work_only(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 2, &ds, &o);
    assert_int_equal(tu_system("rm -f '%s' '%s'", o.out_path, o.ckpt_path), 0);
    tiny_opts(&o, dir, 20);
    o.stop_at_step = 7;
    ns_train_result res;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    assert_true(res.interrupted);
    assert_false(res.model_written);
    assert_int_equal(tu_system("test ! -e '%s'", o.out_path), 0);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, o.ckpt_path), NS_OK);
    assert_int_equal(m.st.step, 7);
    assert_int_equal(m.st.steps, 20);
    ns_modelfile_free(&m);

    /* The adapter and the branch: to their partial paths. */
    assert_int_equal(ns_modelfile_load(&m, o.ckpt_path), NS_OK);
    volatile int stop = 0;
    ns_finetune_opts fo;
    ns_finetune_opts_init(&fo);
    fo.st.steps = 20, fo.st.batch = 8, fo.st.log_every = 0, fo.threads = 1;
    fo.out_path = tu_path(dir, "a.lora"), fo.ckpt_path = tu_path(dir, "a.lora.partial");
    fo.stop_at_step = 3;
    assert_int_equal(ns_finetune(&m, &ds, &fo, &res), NS_OK);
    assert_true(res.interrupted);
    assert_int_equal(res.steps_done, 3);
    assert_int_equal(tu_system("test ! -e '%s' && test -s '%s'", fo.out_path, fo.ckpt_path), 0);
    ns_lora a;
    assert_int_equal(ns_lora_load(&a, fo.ckpt_path), NS_OK);
    ns_lora_free(&a);
    stop = 1; /* as the signal handler sets it */
    fo.stop = &stop, fo.stop_at_step = 0;
    assert_int_equal(ns_finetune(&m, &ds, &fo, &res), NS_OK);
    assert_true(res.interrupted);
    assert_int_equal(res.steps_done, 0);
    assert_int_equal(tu_system("test ! -e '%s'", fo.out_path), 0);

    /* Their outputs' directories are checked before the first step too. */
    char under[4096];
    snprintf(under, sizeof under, "%s/x", o.ckpt_path);
    fo.out_path = under;
    assert_int_equal(ns_finetune(&m, &ds, &fo, &res), NS_EIO);
    fo.out_path = tu_path(dir, "a.lora");

    ns_train_control_opts co;
    ns_train_control_opts_init(&co);
    co.st.steps = 20, co.st.batch = 8, co.threads = 1;
    co.ckpt_path = tu_path(dir, "c.ctl.partial");
    co.stop_at_step = 4;
    const char *ctl = tu_path(dir, "c.ctl");
    ns_train_control_result cres;
    assert_int_equal(ns_train_control(&m, &ds, &co, ctl, &cres), NS_OK);
    assert_true(cres.interrupted);
    assert_int_equal(cres.steps_done, 4);
    assert_int_equal(tu_system("test ! -e '%s' && test -s '%s'", ctl, co.ckpt_path), 0);
    assert_int_equal(ns_train_control(&m, &ds, &co, under, &cres), NS_EIO);
    co.stop_at_step = 0, co.stop = &stop;
    assert_int_equal(ns_train_control(&m, &ds, &co, ctl, &cres), NS_OK);
    assert_true(cres.interrupted);
    assert_int_equal(tu_system("test ! -e '%s'", ctl), 0);
    ns_modelfile_free(&m);
    ns_dataset_free(&ds);
}

/* The CLI: SIGTERM (what `timeout` and schedulers send) during training
 * writes the checkpoint, exits 143 and says how to continue; SIGINT to
 * train-control in the background (where a shell leaves SIGINT ignored)
 * writes the partial branch and exits 130. */
static void test_signals_stop_the_cli(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir(), *bin = tu_netsynth_bin();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 20, &ds, &o);
    ns_dataset_free(&ds);
    const char *data = tu_path(dir, "tiny.ds");
    char model[4096];
    snprintf(model, sizeof model, "%s", o.out_path);
    /* Waits for the first progress line, so the signal comes during training
     * (and gives up on a run that ignores the signal after 2 minutes). */
    static const char *wait_and_kill =
        "i=0; while ! grep -q '^step ' '%s/log' && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; "
        "kill -%s $pid; i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; "
        "kill -9 $pid 2>/dev/null; wait $pid; echo $? >'%s/status'";
    char script[8192];
    snprintf(script, sizeof script, wait_and_kill, dir, "TERM", dir);
    assert_int_equal(tu_system("%s train --data '%s' -o '%s/t.model' --config tiny --steps 1000000 --batch 8 "
                               "--threads 1 --log-every 1 --ckpt-every 0 --eval-every 0 2>'%s/log' & pid=$!; %s",
                               bin, data, dir, dir, script),
                     0);
    assert_int_equal(tu_system("cat '%s/log' | tail -n 2 >&2; test \"$(cat '%s/status')\" = 143", dir, dir), 0);
    assert_int_equal(tu_system("grep -q 'stopped by SIGTERM' '%s/log' && grep -q -- '--resume %s/t.model.ckpt' '%s/log'",
                               dir, dir, dir),
                     0);
    assert_int_equal(tu_system("test ! -e '%s/t.model'", dir), 0);
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, tu_path(dir, "t.model.ckpt")), NS_OK);
    assert_true(m.st.step > 0 && m.st.step < m.st.steps);
    /* The printed command continues it (here to a nearer end); options the
     * checkpoint overrides are named as ignored. */
    assert_int_equal(tu_system("%s train --data '%s' -o '%s/t.model' --resume '%s/t.model.ckpt' --steps %lld "
                               "--lr 0.5 --threads 1 -q 2>'%s/log2' && grep -q -- '--lr is ignored' '%s/log2' && "
                               "test -s '%s/t.model'",
                               bin, data, dir, dir, (long long)m.st.step + 2, dir, dir, dir),
                     0);
    ns_modelfile_free(&m);

    snprintf(script, sizeof script, wait_and_kill, dir, "INT", dir);
    assert_int_equal(tu_system("rm -f '%s/log'; %s train-control --model '%s' --data '%s' -o '%s/c.ctl' "
                               "--steps 1000000 --batch 4 --threads 1 2>'%s/log' & pid=$!; %s",
                               dir, bin, model, data, dir, dir, script),
                     0);
    assert_int_equal(tu_system("tail -n 1 '%s/log' >&2; test \"$(cat '%s/status')\" = 130", dir, dir), 0);
    assert_int_equal(tu_system("test ! -e '%s/c.ctl' && test -s '%s/c.ctl.partial'", dir, dir), 0);
}

/* train-control's hyper-parameters are its options' or its base's, not
 * literals: the weight decay option changes the branch, and so does the
 * prompt dropout of a base whose file keeps its training state. */
static void test_control_hyper_parameters_from_options_and_base(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    ns_train_opts o;
    train_tiny(dir, 5, &ds, &o);
    ns_modelfile base;
    assert_int_equal(ns_modelfile_load(&base, o.ckpt_path), NS_OK);
    assert_true(base.has_state);
    float *w[3];
    for (int run = 0; run < 3; run++) {
        ns_train_control_opts co;
        ns_train_control_opts_init(&co);
        co.st.steps = 10, co.st.batch = 8, co.threads = 1;
        if (run == 1) co.st.weight_decay = 0.5f;
        base.st.p_uncond = run == 2 ? 1.0f : o.st.p_uncond;
        const char *path = tu_path(dir, "run.nsc");
        ns_train_control_result res;
        assert_int_equal(ns_train_control(&base, &ds, &co, path, &res), NS_OK);
        ns_controlnet ctl;
        assert_int_equal(ns_controlnet_load(&ctl, path), NS_OK);
        w[run] = ctl.weights;
        ctl.weights = NULL;
        if (run) assert_memory_not_equal(w[0], w[run], ctl.n_params * sizeof(float));
        ns_controlnet_free(&ctl);
    }
    for (int run = 0; run < 3; run++) free(w[run]);
    ns_modelfile_free(&base);
    ns_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overfit_reproduces_flows),
        cmocka_unit_test(test_whole_flows_train_as_their_window),
        cmocka_unit_test(test_continuation_share),
        cmocka_unit_test(test_flows_past_the_window),
        cmocka_unit_test(test_whole_length_head),
        cmocka_unit_test(test_resume_equals_uninterrupted),
        cmocka_unit_test(test_model_file_round_trip_and_corruption),
        cmocka_unit_test(test_grouped_model_file),
        cmocka_unit_test(test_same_seed_same_flows),
        cmocka_unit_test(test_default_guidance_is_the_models),
        cmocka_unit_test(test_lora_teaches_a_new_class),
        cmocka_unit_test(test_length_logits_of_a_held_out_pair),
        cmocka_unit_test(test_checkpoint_state_is_validated),
        cmocka_unit_test(test_timing_bins_in_the_model_file),
        cmocka_unit_test(test_non_finite_loss_stops_training),
        cmocka_unit_test(test_resume_keeps_the_checkpoints_steps),
        cmocka_unit_test(test_resume_refuses_other_data),
        cmocka_unit_test(test_output_paths_and_failed_checkpoints),
        cmocka_unit_test(test_stop_writes_partial_work_only),
        cmocka_unit_test(test_signals_stop_the_cli),
        cmocka_unit_test(test_control_hyper_parameters_from_options_and_base),
        cmocka_unit_test(test_self_cond_model),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
