/* test_cli.c: what the netsynth program says and leaves behind when things
 * go wrong (issue 12, defects 11, 13 and 14): each message names the file
 * and the real problem, a full disk leaves no partial set of files, and
 * --deterministic gives the same bytes with and without AMX and OpenBLAS.
 * Runs build/netsynth (or $NETSYNTH_BIN) on a tiny model trained here. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/controlnet.h"
#include "netsynth/lora.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"

enum { W = NS_NP_MODEL_WIDTH, FLOWS = 24, LEN = 4 };

static const char *dir;      /* this run's files */
static char bin[1024];       /* the program, as an absolute path (commands run in dir) */
static char model[1024];     /* the tiny model */
static char data[1024];      /* its training dataset */
static char full[1024];      /* dir/full, while a small tmpfs is mounted there */

/* UDP flows of three kinds (kind=a, b, c: server ports 53, 123, 5353),
 * written as `path`; kinds[] are the token names (another vocabulary for
 * the mismatch tests). */
static void write_dataset(const char *path, const char *const kinds[3])
{
    static const char *attr_names[] = {"kind"};
    static const uint32_t attr_first[] = {0, 3};
    static const char *files[] = {"made-in-test"};
    static ns_ds_flow fl[FLOWS];
    static int32_t labels[FLOWS];
    static int64_t iat[FLOWS * LEN];
    static uint8_t dirs[FLOWS * LEN], bits[FLOWS * LEN * ((W + 3) / 4)];
    static const int ports[3] = {53, 123, 5353};
    int8_t row[W];
    for (int i = 0; i < FLOWS; i++) {
        int kind = i % 3;
        fl[i].first = (uint64_t)i * LEN;
        fl[i].n_packets = fl[i].seen = LEN;
        fl[i].proto = 17;
        labels[i] = kind;
        for (int k = 0; k < LEN; k++) {
            int back = k % 2;
            memset(row, -1, sizeof row);
            ns_nprint_put(row, NS_NPF_IPV4_VER, 4);
            ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
            ns_nprint_put(row, NS_NPF_IPV4_TL, 28 + 10 * (uint64_t)k);
            ns_nprint_put(row, NS_NPF_IPV4_TTL, 64);
            ns_nprint_put(row, NS_NPF_IPV4_PROTO, 17);
            ns_nprint_put(row, NS_NPF_UDP_SPORT, back ? (uint64_t)ports[kind] : 40000 + (uint64_t)i);
            ns_nprint_put(row, NS_NPF_UDP_DPORT, back ? 40000 + (uint64_t)i : (uint64_t)ports[kind]);
            ns_nprint_put(row, NS_NPF_UDP_LEN, 8 + 10 * (uint64_t)k);
            ns_dataset_pack_row(row, W, bits + (size_t)(i * LEN + k) * ((W + 3) / 4));
            iat[i * LEN + k] = k ? 1000000 : 0;
            dirs[i * LEN + k] = (uint8_t)back;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = 8, .n_flows = FLOWS,
                     .n_packets = FLOWS * LEN, .n_attrs = 1, .n_tokens = 3, .n_files = 1,
                     .attr_names = attr_names, .attr_first = attr_first, .tokens = (const char **)kinds,
                     .files = files, .flows = fl, .labels = labels, .iat_ns = iat, .dir = dirs, .bits = bits};
    assert_int_equal(ns_dataset_write(&ds, path), NS_OK);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    if (!realpath(tu_netsynth_bin(), bin)) return -1;
    static const char *const kinds[3] = {"kind=a", "kind=b", "kind=c"};
    /* Trained through the program, as a user would. */
    snprintf(data, sizeof data, "%s", tu_path(dir, "train.ds"));
    write_dataset(data, kinds);
    snprintf(model, sizeof model, "%s", tu_path(dir, "m.nsm"));
    int rc = tu_system("'%s' train --data '%s' -o '%s' --config tiny --steps 30 --batch 8 --val-frac 0 --threads 1 "
                       "-q 2>/dev/null",
                       bin, data, model);
    return rc;
}

/* Run `netsynth ARGS` with stdout and stderr in files; the exit status. */
static int run(const char *args)
{
    return tu_system("cd '%s' && '%s' %s >out.txt 2>err.txt", dir, bin, args);
}

/* The text of dir/name (a static buffer, "" when absent). */
static const char *text_of(const char *name)
{
    static char buf[1 << 16];
    buf[0] = 0;
    FILE *fp = fopen(tu_path(dir, name), "rb");
    if (!fp) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

#define ERR_HAS(s)                                                                        \
    do {                                                                                  \
        const char *e_ = text_of("err.txt");                                              \
        if (!strstr(e_, (s))) fail_msg("stderr lacks \"%s\": %s", (s), e_);              \
    } while (0)
#define ERR_LACKS(s)                                                                      \
    do {                                                                                  \
        const char *e_ = text_of("err.txt");                                              \
        if (strstr(e_, (s))) fail_msg("stderr has \"%s\": %s", (s), e_);                 \
    } while (0)

/* ------------------------------------------------------------------ inspect */

static void test_inspect_adapter_and_branch(void **state)
{
    (void)state;
    char args[8192];
    snprintf(args, sizeof args, "finetune --model '%s' --data '%s' -o a.lora --steps 3 --batch 4 --threads 1 -q", model,
             data);
    assert_int_equal(run(args), 0);
    assert_int_equal(run("inspect a.lora"), 0);
    assert_non_null(strstr(text_of("out.txt"), "a.lora: netsynth LoRA adapter"));
    assert_non_null(strstr(text_of("out.txt"), "kind=b"));
    /* its provenance (issue 19), which survives a load and save */
    assert_non_null(strstr(text_of("out.txt"), "provenance:\n  made_by=netsynth "));
    assert_non_null(strstr(text_of("out.txt"), " finetune\n"));
    assert_non_null(strstr(text_of("out.txt"), "  command=netsynth finetune --model "));
    ns_lora ad;
    assert_int_equal(ns_lora_load(&ad, tu_path(dir, "a.lora")), NS_OK);
    assert_non_null(ad.provenance);
    char *was = strdup(ad.provenance);
    assert_int_equal(ns_lora_save(&ad, tu_path(dir, "b.lora")), NS_OK);
    free(ad.provenance), ad.provenance = NULL;
    assert_int_equal(ns_lora_save(&ad, tu_path(dir, "none.lora")), NS_OK);
    ns_lora_free(&ad);
    assert_int_equal(ns_lora_load(&ad, tu_path(dir, "b.lora")), NS_OK);
    assert_string_equal(ad.provenance, was);
    ns_lora_free(&ad);
    free(was);
    assert_int_equal(run("inspect none.lora"), 0);
    assert_non_null(strstr(text_of("out.txt"), "provenance: none recorded"));
    uint8_t *lb;
    size_t ls;
    assert_int_equal(ns_read_file(tu_path(dir, "b.lora"), &lb, &ls), NS_OK);
    uint32_t loff = ns_load_le32(lb + 116);
    assert_true(loff >= 128 && loff < ls);
    lb[loff + 20] ^= 1;
    ns_store_le32(lb + 112, 0);
    ns_store_le32(lb + 112, ns_crc32(0, lb, ls));
    assert_int_equal(tu_write_file(tu_path(dir, "bad.lora"), lb, ls), 0);
    free(lb);
    assert_int_equal(run("inspect bad.lora"), 1);
    ERR_HAS("bad.lora: provenance checksum mismatch");
    snprintf(args, sizeof args, "train-control --model '%s' --data '%s' -o c.nsc --steps 2 --batch 4 --threads 1",
             model, data);
    assert_int_equal(run(args), 0);
    assert_int_equal(run("inspect c.nsc"), 0);
    assert_non_null(strstr(text_of("out.txt"), "c.nsc: netsynth control branch, version 2"));
    assert_non_null(strstr(text_of("out.txt"), "provenance:\n  made_by=netsynth "));
    assert_non_null(strstr(text_of("out.txt"), "  command=netsynth train-control --model "));
    ns_controlnet cn;
    assert_int_equal(ns_controlnet_load(&cn, tu_path(dir, "c.nsc")), NS_OK);
    assert_non_null(cn.provenance);
    char *cwas = strdup(cn.provenance);
    assert_int_equal(ns_controlnet_save(&cn, tu_path(dir, "d.nsc")), NS_OK);
    free(cn.provenance), cn.provenance = NULL;
    assert_int_equal(ns_controlnet_save(&cn, tu_path(dir, "old.nsc")), NS_OK);
    ns_controlnet_free(&cn);
    assert_int_equal(ns_controlnet_load(&cn, tu_path(dir, "d.nsc")), NS_OK);
    assert_string_equal(cn.provenance, cwas);
    ns_controlnet_free(&cn);
    free(cwas);
    /* without provenance a branch is written as version 1, which older builds read */
    assert_int_equal(run("inspect old.nsc"), 0);
    assert_non_null(strstr(text_of("out.txt"), "old.nsc: netsynth control branch, version 1"));
    assert_non_null(strstr(text_of("out.txt"), "provenance: none recorded"));
    uint8_t *cb;
    size_t cs;
    assert_int_equal(ns_read_file(tu_path(dir, "d.nsc"), &cb, &cs), NS_OK);
    uint64_t coff = ns_load_le64(cb + 96);
    assert_true(coff >= 128 && coff + 16 < cs);
    cb[coff + 16] = 0; /* a NUL inside the text, under good CRCs */
    ns_store_le32(cb + coff + 12, ns_crc32(0, cb + coff + 16, cs - coff - 16));
    ns_store_le32(cb + 88, 0);
    ns_store_le32(cb + 88, ns_crc32(0, cb, cs));
    assert_int_equal(tu_write_file(tu_path(dir, "bad.nsc"), cb, cs), 0);
    free(cb);
    assert_int_equal(run("inspect bad.nsc"), 1);
    ERR_HAS("bad.nsc: provenance is not printable UTF-8 text");
    /* A file cut inside the magic is truncated, not "unknown". */
    assert_int_equal(tu_write_file(tu_path(dir, "cut.nsm"), "NSYNM", 5), 0);
    assert_int_equal(run("inspect cut.nsm"), 1);
    ERR_HAS("cut.nsm: truncated");
    assert_int_equal(run("inspect --help"), 0);
    assert_non_null(strstr(text_of("out.txt"), "LoRA adapter"));
}

/* ------------------------------------------------------------------ provenance */

/* Rewrite the model file's CRC after a byte of it was changed on purpose. */
static void refresh_crc(uint8_t *buf, size_t size)
{
    ns_store_le32(buf + 144, 0);
    ns_store_le32(buf + 144, ns_crc32(0, buf, size));
}

/* Issue 19: a model says how it was made, round trip and all, and a damaged
 * record is refused naming the file rather than printed. */
static void test_provenance(void **state)
{
    (void)state;
    char args[4096];
    snprintf(args, sizeof args, "inspect '%s'", model);
    assert_int_equal(run(args), 0);
    const char *out = text_of("out.txt");
    char want[2048];
    snprintf(want, sizeof want, "  dataset=%s\n", data);
    const char *lines[] = {"provenance:\n", "  made_by=netsynth ", " train\n", "  config=tiny\n", "  steps=30 of 30 ",
                           "  train_loss=", "  data_checksum=", "  date=20", "  command=netsynth train --data ", want};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        if (!strstr(out, lines[i])) fail_msg("inspect lacks \"%s\": %s", lines[i], out);

    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, model), NS_OK);
    assert_non_null(m.provenance);
    free(m.provenance);
    m.provenance = strdup("a=b \xc3\xa9\nkey=value=with equals\n");
    const char *p = tu_path(dir, "p.nsm"), *n = tu_path(dir, "n.nsm");
    assert_int_equal(ns_modelfile_save(&m, p, 0), NS_OK);
    char *kept = m.provenance;
    m.provenance = NULL; /* as files from before provenance are */
    assert_int_equal(ns_modelfile_save(&m, n, 0), NS_OK);
    m.provenance = strdup("no equals sign\n");
    assert_int_equal(ns_modelfile_save(&m, tu_path(dir, "bad.nsm"), 0), NS_ECORRUPT);
    assert_int_equal(access(tu_path(dir, "bad.nsm"), F_OK), -1); /* never written what the reader refuses */
    ns_modelfile_free(&m);

    assert_int_equal(ns_modelfile_load(&m, p), NS_OK);
    assert_string_equal(m.provenance, kept);
    ns_modelfile_free(&m);
    free(kept);
    assert_int_equal(ns_modelfile_load(&m, n), NS_OK);
    assert_null(m.provenance);
    ns_modelfile_free(&m);
    assert_int_equal(run("inspect n.nsm"), 0);
    assert_non_null(strstr(text_of("out.txt"), "provenance: none recorded"));

    /* Damage: a changed byte under a good file CRC fails the section's own
     * CRC; a control byte under both CRCs fails the text check. */
    uint8_t *buf;
    size_t size;
    assert_int_equal(ns_read_file(p, &buf, &size), NS_OK);
    uint64_t off = ns_load_le64(buf + 184), len = ns_load_le64(buf + 192);
    assert_true(off >= 256 && len == 16 + strlen("a=b \xc3\xa9\nkey=value=with equals\n"));
    buf[off + 16] = 'x';
    refresh_crc(buf, size);
    assert_int_equal(tu_write_file(tu_path(dir, "c1.nsm"), buf, size), 0);
    assert_int_equal(run("inspect c1.nsm"), 1);
    ERR_HAS("c1.nsm: provenance checksum mismatch");
    buf[off + 16] = 0x1b; /* ESC: would move a terminal's cursor */
    ns_store_le32(buf + off + 12, ns_crc32(0, buf + off + 16, len - 16));
    refresh_crc(buf, size);
    assert_int_equal(tu_write_file(tu_path(dir, "c2.nsm"), buf, size), 0);
    assert_int_equal(run("inspect c2.nsm"), 1);
    ERR_HAS("c2.nsm: provenance is not printable UTF-8 text");
    buf[off + 16] = 'a';
    ns_store_le64(buf + 192, size); /* a length past the end */
    refresh_crc(buf, size);
    assert_int_equal(tu_write_file(tu_path(dir, "c3.nsm"), buf, size), 0);
    assert_int_equal(ns_modelfile_load(&m, tu_path(dir, "c3.nsm")), NS_ECORRUPT);
    assert_non_null(strstr(ns_errmsg(), "c3.nsm: the provenance section lies outside the file"));
    free(buf);
}

/* ------------------------------------------------------------------ progress */

/* Issue 19: on a terminal the training verbs redraw one line in place (rate,
 * ETA, loss) and clear it before each plain line; off one, plain lines
 * only, no carriage return; with -q nothing. The terminal is script(1)'s. */
static void test_training_progress(void **state)
{
    (void)state;
    char args[8192];
    snprintf(args, sizeof args, "train --data '%s' -o p1.nsm --config tiny --steps 40 --batch 4 --threads 1 --log-every 20",
             data);
    assert_int_equal(run(args), 0);
    const char *e = text_of("err.txt");
    assert_null(strchr(e, '\r'));
    assert_non_null(strstr(e, "step 20/40  loss "));
    assert_non_null(strstr(e, "trained 40 steps"));
    snprintf(args, sizeof args, "train -q --data '%s' -o p2.nsm --config tiny --steps 40 --batch 4 --threads 1", data);
    assert_int_equal(run(args), 0);
    assert_string_equal(text_of("err.txt"), "");
    if (!tu_have_program("script")) {
        fprintf(stderr, "skipping the terminal half: no script(1)\n");
        return;
    }
    static const char *const verbs[] = {"train --config tiny --batch 4 -o p3.nsm --steps 3000 --log-every 1500",
                                        "finetune --model '%s' --batch 4 -o p3.lora --steps 3000 --log-every 1500",
                                        "train-control --model '%s' --batch 4 -o p3.nsc --steps 2000"};
    static const char *const names[] = {"\rtrain: ", "\rfinetune: ", "\rtrain-control: "};
    for (int v = 0; v < 3; v++) {
        char verb[4096];
        snprintf(verb, sizeof verb, verbs[v], model);
        assert_int_equal(tu_system("cd '%s' && script -qfec \"'%s' %s --data '%s' --threads 1\" /dev/null >tty.txt "
                                   "2>&1 </dev/null",
                                   dir, bin, verb, data),
                         0);
        const char *t = text_of("tty.txt");
        if (!strstr(t, names[v]) || !strstr(t, " steps/s, eta ") || !strstr(t, ", loss ") || !strstr(t, "\033[K"))
            fail_msg("%s: no line drawn in place: %s", verb, t);
        /* the plain line after it starts on a cleared row */
        if (!strstr(t, "\r\033[Kstep ")) fail_msg("%s: a plain line shares the in-place line's row: %s", verb, t);
    }
}

/* --continuation-share: a value outside [0, 1] or not a number is refused
 * naming the option; the checkpoint keeps the share given, inspect prints
 * it, and --resume keeps it over one given again (with a warning). */
static void test_continuation_share_option(void **state)
{
    (void)state;
    char args[8192];
    static const char *const bad[] = {"1.5", "-0.1", "half", ""};
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "train --data '%s' -o cs.nsm --config tiny --steps 4 --threads 1 -q "
                 "--continuation-share '%s'", data, bad[i]);
        assert_int_not_equal(run(args), 0);
        char want[128];
        snprintf(want, sizeof want, "--continuation-share: expected a number in [0, 1], got '%s'", bad[i]);
        ERR_HAS(want);
    }
    snprintf(args, sizeof args, "train --data '%s' -o cs.nsm --config tiny --steps 8 --batch 4 --threads 1 -q "
             "--continuation-share 0.25", data);
    assert_int_equal(run(args), 0);
    assert_int_equal(run("inspect cs.nsm.ckpt"), 0);
    assert_non_null(strstr(text_of("out.txt"), "continuation-share 0.25\n"));
    snprintf(args, sizeof args, "train --data '%s' -o cs.nsm --resume cs.nsm.ckpt --steps 12 --threads 1 -q "
             "--continuation-share 0.75", data);
    assert_int_equal(run(args), 0);
    ERR_HAS("--continuation-share is ignored with --resume");
    assert_int_equal(run("inspect cs.nsm.ckpt"), 0);
    assert_non_null(strstr(text_of("out.txt"), "training: step 12 of 12"));
    assert_non_null(strstr(text_of("out.txt"), "continuation-share 0.25\n"));
}

/* Several tokens per packet: train --groups writes a model that inspect
 * calls version 4 with its tokens per packet and that generate samples;
 * out of range is refused by name. */
static void test_train_groups(void **state)
{
    (void)state;
    char args[8192];
    snprintf(args, sizeof args, "train -q --data '%s' -o g2.nsm --config tiny --groups 2 --steps 5 --batch 4 --threads 1",
             data);
    assert_int_equal(run(args), 0);
    assert_int_equal(run("inspect g2.nsm"), 0);
    assert_non_null(strstr(text_of("out.txt"), "g2.nsm: netsynth model, version 4"));
    assert_non_null(strstr(text_of("out.txt"), "2 tokens per packet"));
    assert_non_null(strstr(text_of("out.txt"), "groups=2"));
    assert_int_equal(run("generate -q --model g2.nsm -n 2 --steps 2 -o g2.pcap"), 0);
    snprintf(args, sizeof args, "train -q --data '%s' -o g17.nsm --config tiny --groups 17 --steps 5", data);
    assert_int_equal(run(args), 2);
    ERR_HAS("--groups");
}

/* ------------------------------------------------------------------ decode */

static void test_decode_binary_file(void **state)
{
    (void)state;
    uint8_t junk[600];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(tu_write_file(tu_path(dir, "junk.csv"), junk, sizeof junk), 0);
    assert_int_equal(run("decode -i junk.csv -o junk.pcap"), 1);
    ERR_HAS("junk.csv: not an nPrint CSV");
    ERR_LACKS("index column");
    assert_int_not_equal(access(tu_path(dir, "junk.pcap"), F_OK), 0);
}

/* ------------------------------------------------------------------ eval */

static void test_eval_messages(void **state)
{
    (void)state;
    uint8_t *bytes;
    size_t len;
    assert_int_equal(ns_read_file(data, &bytes, &len), NS_OK);
    /* Cut inside the magic and inside the header: both "truncated". */
    size_t cuts[] = {5, 100};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(tu_write_file(tu_path(dir, "cut.ds"), bytes, cuts[i]), 0);
        char args[8192];
        snprintf(args, sizeof args, "eval --real cut.ds --synth '%s' --label kind --trees 2", data);
        assert_int_equal(run(args), 1);
        ERR_HAS("cut.ds: truncated");
        ERR_LACKS("path' column");
    }
    free(bytes);
    /* An error of the library is not prefixed twice. */
    char args[8192];
    snprintf(args, sizeof args, "eval --real '%s' --real-test '%s' --label nosuch --trees 2", data, data);
    assert_int_not_equal(run(args), 0);
    ERR_HAS("no attribute 'nosuch'");
    ERR_LACKS("eval: eval:");
}

/* The model that made the synthetic side heads the report with its
 * provenance: printed, in JSON and in the (escaped) HTML. */
static void test_eval_model(void **state)
{
    (void)state;
    char args[8192];
    snprintf(args, sizeof args,
             "eval --real '%s' --real-test '%s' --synth '%s' --label kind --trees 2 --threads 1 --model '%s' "
             "--json rm.json --html rm.html",
             data, data, data, model);
    assert_int_equal(run(args), 0);
    char line[1200];
    snprintf(line, sizeof line, "model: %s\n  made_by: netsynth ", model);
    assert_non_null(strstr(text_of("out.txt"), line));
    assert_non_null(strstr(text_of("out.txt"), "\n  steps: 30 of 30 "));
    const char *j = text_of("rm.json");
    assert_non_null(strstr(j, "\"model\": {\"path\": \""));
    assert_non_null(strstr(j, "\"made_by\": \"netsynth "));
    assert_non_null(strstr(j, "\"steps\": \"30 of 30 "));
    const char *h = text_of("rm.html");
    assert_non_null(strstr(h, "<h2>Model</h2>"));
    assert_non_null(strstr(h, "<tr><th class=l>made_by</th><td class=l>netsynth "));
    assert_non_null(strstr(h, "<tr><th class=l>steps</th><td class=l>30 of 30 "));

    /* A value with markup is escaped; a model without provenance says so. */
    ns_modelfile m;
    assert_int_equal(ns_modelfile_load(&m, model), NS_OK);
    assert_int_equal(ns_prov_add(&m.provenance, "note", "<b>&\"x\"</b>"), NS_OK);
    assert_int_equal(ns_modelfile_save(&m, tu_path(dir, "marked.nsm"), 0), NS_OK);
    free(m.provenance), m.provenance = NULL;
    assert_int_equal(ns_modelfile_save(&m, tu_path(dir, "bare.nsm"), 0), NS_OK);
    ns_modelfile_free(&m);
    snprintf(args, sizeof args,
             "eval --real '%s' --real-test '%s' --synth '%s' --label kind --trees 2 --threads 1 --model marked.nsm "
             "--json rm.json --html rm.html -q",
             data, data, data);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(text_of("rm.html"), "<td class=l>&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;</td>"));
    assert_null(strstr(text_of("rm.html"), "<b>&"));
    assert_non_null(strstr(text_of("rm.json"), "\"note\": \"<b>&\\\"x\\\"</b>\""));
    snprintf(args, sizeof args,
             "eval --real '%s' --real-test '%s' --synth '%s' --label kind --trees 2 --threads 1 --model bare.nsm "
             "--json rm.json --html rm.html",
             data, data, data);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(text_of("out.txt"), "model: bare.nsm\n  provenance: none recorded\n"));
    assert_non_null(strstr(text_of("rm.json"), "\"model\": {\"path\": \"bare.nsm\", \"provenance\": null}"));
    assert_non_null(strstr(text_of("rm.html"), "provenance: none recorded"));

    /* Without --model, no model block. */
    snprintf(args, sizeof args, "eval --real '%s' --real-test '%s' --synth '%s' --label kind --trees 2 --threads 1 "
             "--json rm.json", data, data, data);
    assert_int_equal(run(args), 0);
    assert_null(strstr(text_of("out.txt"), "model:"));
    assert_null(strstr(text_of("rm.json"), "\"model\""));

    /* A bad model path: a data error naming the file, and no report. */
    unlink(tu_path(dir, "rm.json"));
    snprintf(args, sizeof args,
             "eval --real '%s' --synth '%s' --label kind --trees 2 --model nosuch.nsm --json rm.json", data, data);
    assert_int_equal(run(args), 1);
    ERR_HAS("nosuch.nsm");
    assert_int_not_equal(access(tu_path(dir, "rm.json"), F_OK), 0);
    /* and a file that is not a model */
    snprintf(args, sizeof args, "eval --real '%s' --synth '%s' --label kind --trees 2 --model '%s'", data, data, data);
    assert_int_equal(run(args), 1);
    ERR_HAS("train.ds");
}

/* -------------------------------------------------- another model's data */

static void test_mismatched_data(void **state)
{
    (void)state;
    static const char *const other[3] = {"kind=a", "kind=x", "kind=y"};
    write_dataset(tu_path(dir, "other.ds"), other);
    char args[8192];
    /* --like with labels the model never learned: a data error (1), not usage (2). */
    snprintf(args, sizeof args, "generate --model '%s' --like other.ds -o like-out -q --threads 1", model);
    assert_int_equal(run(args), 1);
    ERR_HAS("other.ds: label 'kind=x' is not in the model's vocabulary");
    assert_int_not_equal(access(tu_path(dir, "like-out"), F_OK), 0);
    /* train-control names both files once, from the error code (no text match). */
    snprintf(args, sizeof args, "train-control --model '%s' --data other.ds -o x.nsc --steps 2", model);
    assert_int_equal(run(args), 1);
    char want[8192];
    snprintf(want, sizeof want, "train-control: %s and other.ds: the dataset's vocabulary is not the model's", model);
    ERR_HAS(want);
}

/* ------------------------------------------------------------- full disk */

/* A 64 KiB tmpfs at dir/full, or NULL (with a message) where mounting is
 * not allowed (not root, no CAP_SYS_ADMIN, a container without it). */
static const char *small_disk(void)
{
    snprintf(full, sizeof full, "%s", tu_path(dir, "full"));
    if (tu_system("mkdir -p '%s'", full) != 0) return NULL;
    if (mount("tmpfs", full, "tmpfs", 0, "size=64k") != 0) {
        print_message("SKIP %s: cannot mount a small tmpfs (needs root)\n", __func__);
        full[0] = 0;
        return NULL;
    }
    return full;
}

/* Also the group's teardown, so that a failed test leaves no mount. */
static int release_disk(void **state)
{
    (void)state;
    if (full[0]) umount(full);
    full[0] = 0;
    return 0;
}

static void test_full_disk(void **state)
{
    (void)state;
    if (!small_disk()) skip();
    char args[8192];
    /* Sources big enough to fill 64 KiB: nPrint CSV of (repaired) packets and its picture. */
    snprintf(args, sizeof args, "generate --model '%s' -n 1000 --seed 2 -o big.pcap -q --threads 1", model);
    assert_int_equal(run(args), 0);
    assert_int_equal(run("encode -P big.pcap -4 -u -W big.csv"), 0);
    assert_int_equal(run("render -i big.csv -o big.png"), 0);

    assert_int_equal(run("decode -i big.csv -o full/back.pcap"), 1);
    ERR_HAS("full/back.pcap: write failed: No space left on device");
    assert_int_equal(run("unrender big.png -o full/back.csv"), 1);
    ERR_HAS("full/back.csv: write failed: No space left on device");
    snprintf(args, sizeof args, "generate --model '%s' -n 2000 -o full/g.pcap -q --threads 1", model);
    assert_int_equal(run(args), 1);
    ERR_HAS("full/g.pcap: write failed: No space left on device");
    ERR_LACKS("write failed: write failed");

    /* Sets of files: nothing of them stays, no staging directory either.
     * (--like needs a dataset of many labelled flows: a directory's.) */
    snprintf(args, sizeof args, "generate --model '%s' --per-class 300 -o many -q --threads 1", model);
    assert_int_equal(run(args), 0);
    const char *sets[] = {"--per-class 200 -o full/dir", "--like many/synthetic.ds -o full/like",
                          "-n 300 --per-flow -o full/f.pcap"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "generate --model '%s' %s -q --threads 1", model, sets[i]);
        assert_int_equal(run(args), 1);
        ERR_HAS("No space left on device");
        assert_int_equal(tu_system("test -z \"$(ls -A '%s')\"", full), 0);
    }
    /* render's directories too (a tmpfs file takes a 4 KiB page: 16 fill it). */
    const char *renders[] = {"render --data train.ds -o full/img", "render --data many/synthetic.ds -o full/img"};
    for (size_t i = 0; i < 2; i++) {
        int st = run(renders[i]);
        ERR_HAS("full/img: nothing written");
        assert_int_equal(st, 1);
        ERR_HAS("No space left on device");
        assert_int_equal(tu_system("test -z \"$(ls -A '%s')\"", full), 0);
    }
    /* A directory with the user's files: they stay, and so do the files of
     * an earlier run when this one fails. */
    assert_int_equal(tu_system("mkdir '%s/mine' && echo keep > '%s/mine/notes.txt'", full, full), 0);
    snprintf(args, sizeof args, "generate --model '%s' --per-class 1 -o full/mine -q --threads 1", model);
    assert_int_equal(run(args), 0);
    assert_string_equal(text_of("full/mine/notes.txt"), "keep\n");
    assert_int_equal(tu_system("test -s '%s/mine/labels.tsv' && test -s '%s/mine/a.pcap'", full, full), 0);
    assert_int_equal(tu_system("cp '%s/mine/labels.tsv' '%s/labels.before'", full, dir), 0);
    snprintf(args, sizeof args, "generate --model '%s' --per-class 200 -o full/mine -q --threads 1", model);
    assert_int_equal(run(args), 1);
    assert_int_equal(tu_system("cmp -s '%s/mine/labels.tsv' '%s/labels.before'", full, dir), 0);
    assert_int_equal(tu_system("test \"$(ls -A '%s')\" = mine", full), 0);
    release_disk(NULL);
}

/* The directory forms on a disk with room: DIR created whole, or filled
 * beside the user's files, which stay. */
static void test_directory_output(void **state)
{
    (void)state;
    char args[8192];
    snprintf(args, sizeof args, "generate --model '%s' --per-class 2 -o fresh -q --threads 1", model);
    assert_int_equal(run(args), 0);
    assert_int_equal(tu_system("cd '%s/fresh' && test -s a.pcap && test -s b.pcap && test -s c.pcap && "
                               "test -s labels.tsv && test -s synthetic.ds", dir),
                     0);
    assert_int_equal(tu_system("test -z \"$(ls -d '%s'/fresh.tmp.* 2>/dev/null)\"", dir), 0);
    assert_int_equal(tu_system("echo keep > '%s/fresh/notes.txt'", dir), 0);
    snprintf(args, sizeof args, "generate --model '%s' --per-class 1 --per-flow -o fresh/ -q --threads 1", model);
    assert_int_equal(run(args), 0);
    assert_string_equal(text_of("fresh/notes.txt"), "keep\n");
    assert_int_equal(tu_system("test -s '%s/fresh/a-0.pcap'", dir), 0);
    assert_non_null(strstr(text_of("fresh/labels.tsv"), "a-0.pcap\ta"));
    /* A killed run's staging directory goes with the next run of the same
     * output; one that a live run holds (its flock) stays. */
    assert_int_equal(tu_system("cd '%s' && mkdir fresh.tmp.Dead01 live.tmp.x && touch fresh.tmp.Dead01/a.pcap && "
                               "mkdir fresh.tmp.Live01",
                               dir),
                     0);
    int held = open(tu_path(dir, "fresh.tmp.Live01"), O_RDONLY | O_DIRECTORY);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0);
    snprintf(args, sizeof args, "generate --model '%s' --per-class 1 -o fresh -q --threads 1", model);
    assert_int_equal(run(args), 0);
    assert_int_not_equal(access(tu_path(dir, "fresh.tmp.Dead01"), F_OK), 0);
    assert_int_equal(access(tu_path(dir, "fresh.tmp.Live01"), F_OK), 0);
    assert_int_equal(access(tu_path(dir, "live.tmp.x"), F_OK), 0);
    close(held);
    /* A file where the directory should be is refused before any work (no
     * "generated ..." line first). */
    assert_int_equal(tu_write_file(tu_path(dir, "plain"), "x", 1), 0);
    snprintf(args, sizeof args, "generate --model '%s' --per-class 1 -o plain --threads 1", model);
    assert_int_equal(run(args), 1);
    ERR_HAS("plain: exists and is not a directory");
    ERR_LACKS("generated");
}

/* ------------------------------------------------------- --deterministic */

static void test_deterministic_bytes(void **state)
{
    (void)state;
    static const char *const envs[] = {"", "NETSYNTH_NO_AMX=1", "NETSYNTH_BLAS=builtin",
                                       "NETSYNTH_NO_AMX=1 NETSYNTH_BLAS=builtin OMP_NUM_THREADS=2"};
    char args[8192];
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++) {
        snprintf(args, sizeof args,
                 "cd '%s' && env %s '%s' generate --model '%s' --prompt kind=b -n 60 --seed 9 --deterministic "
                 "-o det%zu.csv -q 2>/dev/null",
                 dir, envs[i], bin, model, i);
        assert_int_equal(tu_system("%s", args), 0);
        if (i) assert_int_equal(tu_system("cmp '%s/det0.csv' '%s/det%zu.csv'", dir, dir, i), 0);
    }
    /* The environment variable is the same switch. */
    snprintf(args, sizeof args,
             "cd '%s' && NETSYNTH_DETERMINISTIC=1 NETSYNTH_NO_AMX=1 '%s' generate --model '%s' --prompt kind=b -n 60 "
             "--seed 9 -o env.csv -q 2>/dev/null && cmp det0.csv env.csv",
             dir, bin, model);
    assert_int_equal(tu_system("%s", args), 0);
}

/* Self-conditioning: train --self-cond writes a model that inspect calls
 * version 5 and self-conditioned, with its share in the checkpoint and
 * the provenance, and that generate samples; out of range is refused by
 * name, and --resume says it keeps the checkpoint's share. */
static void test_train_self_cond(void **state)
{
    (void)state;
    char args[8192];
    snprintf(args, sizeof args, "train -q --data '%s' -o sc.nsm --config tiny --self-cond 0.5 --steps 5 --batch 4 "
             "--threads 1", data);
    assert_int_equal(run(args), 0);
    assert_int_equal(run("inspect sc.nsm"), 0);
    assert_non_null(strstr(text_of("out.txt"), "sc.nsm: netsynth model, version 5"));
    assert_non_null(strstr(text_of("out.txt"), "self-conditioned"));
    assert_non_null(strstr(text_of("out.txt"), "self_cond=0.5"));
    assert_int_equal(run("inspect sc.nsm.ckpt"), 0);
    assert_non_null(strstr(text_of("out.txt"), "self-cond 0.5\n"));
    assert_int_equal(run("generate -q --model sc.nsm -n 2 --steps 2 -o sc.pcap"), 0);
    snprintf(args, sizeof args, "train -q --data '%s' -o sc.nsm --resume sc.nsm.ckpt --self-cond 0.1 --steps 6 "
             "--threads 1", data);
    assert_int_equal(run(args), 0);
    ERR_HAS("--self-cond is ignored with --resume");
    snprintf(args, sizeof args, "train -q --data '%s' -o sc2.nsm --config tiny --self-cond 1.5 --steps 5", data);
    assert_int_equal(run(args), 2);
    ERR_HAS("--self-cond");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_adapter_and_branch),
        cmocka_unit_test(test_decode_binary_file),
        cmocka_unit_test(test_provenance),
        cmocka_unit_test(test_training_progress),
        cmocka_unit_test(test_continuation_share_option),
        cmocka_unit_test(test_train_groups),
        cmocka_unit_test(test_eval_messages),
        cmocka_unit_test(test_eval_model),
        cmocka_unit_test(test_mismatched_data),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_directory_output),
        cmocka_unit_test(test_deterministic_bytes),
        cmocka_unit_test(test_train_self_cond),
    };
    int rc = cmocka_run_group_tests(tests, setup, release_disk);
    tu_cleanup();
    return rc;
}
