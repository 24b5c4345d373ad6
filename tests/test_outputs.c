/* test_outputs.c: what the verbs write, as users of tcpdump, tshark and
 * nPrint expect it (issue 19, problems 1 to 3):
 *   - generate picks its format from -F or the output's extension (pcap,
 *     pcapng, csv, ds; any case), refuses an unknown extension, and writes
 *     pcap to standard output for `-o -`;
 *   - its CSV, whose rows have blank (-1) addresses, decodes to packets
 *     with the addresses of the generate address plan, as does a dataset
 *     flow through render and unrender; a decode that writes no packet fails;
 *   - eval --dump-features makes its directory.
 * Runs build/netsynth (or $NETSYNTH_BIN) on a dataset of the lab corpus
 * (lab/corpus, part of the repository) and a tiny model trained here. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsynth/bytes.h"
#include "netsynth/capture.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/gen_write.h"
#include "netsynth/generate.h"
#include "netsynth/nprint.h"

enum { W = NS_NP_MODEL_WIDTH };

static const char *dir;   /* this run's files */
static char bin[1024];    /* the program, as an absolute path (commands run in dir) */

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    char lab[1024];
    const char *d = getenv("NETSYNTH_LAB");
    if (!realpath(tu_netsynth_bin(), bin) || !realpath(d && *d ? d : "lab/corpus", lab)) return -1;
    return tu_system("cd '%s' && '%s' dataset --labels '%s/labels.tsv' --label app -o lab.ds >/dev/null && "
                     "'%s' train --data lab.ds -o m.nsm --config tiny --steps 20 --batch 8 --val-frac 0 --threads 1 "
                     "-q 2>/dev/null",
                     dir, bin, lab, bin);
}

/* Run `netsynth ARGS` in dir with stdout and stderr in files; the exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return tu_system("cd '%s' && '%s' %s >out.txt 2>err.txt", dir, bin, args);
}

/* The first n bytes of dir/name (a static buffer; zeros past its end). */
static const uint8_t *head_of(const char *name, size_t n)
{
    static uint8_t buf[1 << 16];
    memset(buf, 0, n);
    FILE *fp = fopen(tu_path(dir, name), "rb");
    if (fp) {
        size_t got = fread(buf, 1, n, fp);
        (void)got;
        fclose(fp);
    }
    return buf;
}

static const char *text_of(const char *name)
{
    const char *t = (const char *)head_of(name, (1 << 16) - 1);
    return t;
}

static int exists(const char *name) { return access(tu_path(dir, name), F_OK) == 0; }

static const uint8_t PCAP_MAGIC[4] = {0xd4, 0xc3, 0xb2, 0xa1}, PCAPNG_MAGIC[4] = {0x0a, 0x0d, 0x0d, 0x0a};

/* The packets of a capture (pcap or pcapng), their times and bytes. */
typedef struct packets {
    size_t n;
    int64_t ts[4096];
    uint32_t len[4096];
    uint8_t *bytes[4096];
} packets;

static void read_packets(const char *name, packets *p)
{
    ns_capture *c;
    memset(p, 0, sizeof *p);
    assert_int_equal(ns_capture_open(&c, tu_path(dir, name), NULL), NS_OK);
    ns_frame f;
    while (ns_capture_next(c, &f) > 0) {
        assert_true(p->n < 4096);
        p->ts[p->n] = f.ts_ns, p->len[p->n] = f.caplen;
        p->bytes[p->n] = malloc(f.caplen ? f.caplen : 1);
        memcpy(p->bytes[p->n], f.data, f.caplen);
        p->n++;
    }
    ns_capture_close(c);
}

static void free_packets(packets *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->bytes[i]);
}

/* ------------------------------------------------------------ formats */

static void test_generate_formats(void **state)
{
    (void)state;
    const char *gen = "generate --model m.nsm -n 4 --seed 3 -q --threads 1";
    assert_int_equal(run("%s -o a.pcap", gen), 0);
    assert_memory_equal(head_of("a.pcap", 4), PCAP_MAGIC, 4);
    /* Before, each of these was a netsynth dataset file, exit 0. */
    assert_int_equal(run("%s -o b.pcapng", gen), 0);
    assert_memory_equal(head_of("b.pcapng", 4), PCAPNG_MAGIC, 4);
    assert_int_equal(run("%s -o C.PCAP", gen), 0);
    assert_memory_equal(head_of("C.PCAP", 4), PCAP_MAGIC, 4);
    assert_int_equal(run("%s -o d.cap", gen), 0);
    assert_memory_equal(head_of("d.cap", 4), PCAP_MAGIC, 4);

    /* The pcapng holds the very packets of the pcap, read back by libpcap. */
    packets *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    read_packets("a.pcap", a);
    read_packets("b.pcapng", b);
    assert_true(a->n > 4);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->ts[i], b->ts[i]);
        assert_int_equal(a->len[i], b->len[i]);
        assert_memory_equal(a->bytes[i], b->bytes[i], a->len[i]);
    }
    free_packets(a), free_packets(b);
    free(a), free(b);

    /* An unknown extension, or none, is an error naming it; nothing written. */
    assert_int_equal(run("%s -o out.pcpa", gen), 2);
    assert_non_null(strstr(text_of("err.txt"), "out.pcpa: unknown output extension '.pcpa'"));
    assert_false(exists("out.pcpa"));
    assert_int_equal(run("%s -o out", gen), 2);
    assert_non_null(strstr(text_of("err.txt"), "out: no extension"));
    assert_int_equal(run("%s -F pcapx -o x.pcap", gen), 2);

    /* -F wins over the extension. */
    assert_int_equal(run("%s -F csv -o rows.txt", gen), 0);
    assert_int_equal(strncmp(text_of("rows.txt"), "flow,rts,ipv4_ver_0", 19), 0);
    assert_int_equal(run("%s --format ds -o flows.bin", gen), 0);
    assert_int_equal(run("inspect flows.bin"), 0);
    assert_non_null(strstr(text_of("out.txt"), "dataset"));

    /* Standard output: pcap, or -F's format. */
    assert_int_equal(run("%s -o -", gen), 0);
    assert_memory_equal(head_of("out.txt", 4), PCAP_MAGIC, 4);
    assert_int_equal(run("%s -F pcapng -o -", gen), 0);
    assert_memory_equal(head_of("out.txt", 4), PCAPNG_MAGIC, 4);
    assert_int_equal(run("%s --per-flow -o -", gen), 2);
    assert_int_equal(run("generate --model m.nsm --per-class 1 -q --threads 1 -o -"), 2);
    assert_false(exists("-"));
    if (tu_have_program("tcpdump"))
        assert_int_equal(tu_system("cd '%s' && '%s' %s -o - | tcpdump -r - >/dev/null 2>&1", dir, bin, gen), 0);
    else
        print_message("no tcpdump: generate -o - | tcpdump -r - not tried\n");
}

static void test_pcapng_read_by_tshark(void **state)
{
    (void)state;
    TU_REQUIRE_PROGRAM("tshark");
    assert_int_equal(run("generate --model m.nsm -n 5 --seed 4 -q --threads 1 -o t.pcap"), 0);
    assert_int_equal(run("generate --model m.nsm -n 5 --seed 4 -q --threads 1 -o t.pcapng"), 0);
    /* The same frames, times and dissection either way. */
    const char *fields = "-T fields -e frame.time_epoch -e frame.len -e ip.src -e ip.dst -e _ws.col.Info";
    assert_int_equal(tu_system("cd '%s' && tshark -r t.pcap %s >a.txt 2>/dev/null && tshark -r t.pcapng %s >b.txt "
                               "2>/dev/null && test -s a.txt && cmp -s a.txt b.txt",
                               dir, fields, fields),
                     0);
    assert_int_equal(tu_system("cd '%s' && capinfos -t t.pcapng 2>/dev/null | grep -q pcapng || "
                               "! command -v capinfos >/dev/null",
                               dir),
                     0);
}

/* ------------------------------------------------------------ decode */

/* The first `flows` flows of lab.ds as generated flows: their rows have the
 * dataset's blank addresses, as generated rows do. */
static void dataset_as_generated(ns_gen_flows *g, size_t flows)
{
    ns_dataset ds;
    assert_int_equal(ns_dataset_load(&ds, tu_path(dir, "lab.ds")), NS_OK);
    assert_true(ds.n_flows >= flows);
    memset(g, 0, sizeof *g);
    size_t rows = 0;
    for (size_t i = 0; i < flows; i++) rows += ds.flows[i].n_packets;
    g->n_flows = flows, g->n_rows = rows;
    g->len = calloc(flows, sizeof *g->len), g->first = calloc(flows, sizeof *g->first);
    g->rows = malloc(rows * W), g->dir = calloc(rows, 1), g->iat_ns = calloc(rows, sizeof *g->iat_ns);
    for (size_t i = 0, at = 0; i < flows; i++) {
        g->first[i] = at, g->len[i] = ds.flows[i].n_packets;
        for (uint32_t k = 0; k < g->len[i]; k++, at++) {
            ns_dataset_row(&ds, ds.flows[i].first + k, g->rows + at * W);
            g->iat_ns[at] = ds.iat_ns[ds.flows[i].first + k];
            g->dir[at] = ds.dir[ds.flows[i].first + k];
        }
    }
    /* blank, as generated rows' addresses are */
    for (size_t r = 0; r < rows; r++) {
        assert_int_equal(ns_nprint_has(g->rows + r * W, NS_NPF_IPV4_SRC), 0);
        assert_int_equal(ns_nprint_has(g->rows + r * W, NS_NPF_IPV4_DST), 0);
    }
    ns_dataset_free(&ds);
}

/* The IPv4 source and destination of a raw IP packet (decode of CSV without
 * eth columns writes LINKTYPE_RAW). */
static void addresses(const uint8_t *frame, uint32_t len, uint32_t *src, uint32_t *dst)
{
    ns_bytes b = ns_bytes_make(frame, len);
    assert_true(ns_get_be32(b, 12, src));
    assert_true(ns_get_be32(b, 16, dst));
}

static void test_decode_generated_csv(void **state)
{
    (void)state;
    ns_gen_flows g;
    dataset_as_generated(&g, 3);
    assert_int_equal(ns_gen_write_csv(&g, tu_path(dir, "g.csv")), NS_OK);
    /* Before: "skipped N of N rows that are not packets", exit 0, an empty pcap. */
    assert_int_equal(run("decode -i g.csv -o g.pcap"), 0);
    assert_null(strstr(text_of("err.txt"), "skipped"));
    packets *p = malloc(sizeof *p);
    read_packets("g.pcap", p);
    assert_int_equal(p->n, g.n_rows);
    /* Flow k: client 10.0.0.(k+1), server 198.51.100.1; a client's row goes
     * to the server, the server's back (the dataset's direction). */
    for (size_t i = 0, at = 0; i < g.n_flows; i++)
        for (uint32_t k = 0; k < g.len[i]; k++, at++) {
            uint32_t src, dst, client = 0x0a000001u + (uint32_t)i, server = 0xc6336401u;
            addresses(p->bytes[at], p->len[at], &src, &dst);
            if (g.dir[at]) assert_true(src == server && dst == client);
            else assert_true(src == client && dst == server);
        }
    free_packets(p);
    /* Other nets, as generate's --client-net and --server-net. */
    assert_int_equal(run("decode -i g.csv -o g2.pcap --client-net 192.168.7.0/24 --server-net 203.0.113.0/24"), 0);
    read_packets("g2.pcap", p);
    uint32_t src, dst;
    addresses(p->bytes[0], p->len[0], &src, &dst);
    assert_int_equal(src, 0xc0a80701u);
    assert_int_equal(dst, 0xcb007101u);
    free_packets(p);
    free(p);

    /* Rows none of which is a packet: an error, and no file. Before: exit 0
     * and a pcap of no packet. */
    memset(g.rows, -1, g.n_rows * W);
    assert_int_equal(ns_gen_write_csv(&g, tu_path(dir, "blank.csv")), NS_OK);
    assert_int_equal(run("decode -i blank.csv -o blank.pcap"), 1);
    assert_non_null(strstr(text_of("err.txt"), "blank.csv: none of its"));
    assert_false(exists("blank.pcap"));
    ns_gen_flows_free(&g);
}

static void test_render_unrender_decode(void **state)
{
    (void)state;
    assert_int_equal(run("render --data lab.ds -n 1 -o img -q"), 0);
    assert_int_equal(tu_system("cd '%s' && '%s' unrender img/0_*.png -o u.csv", dir, bin), 0);
    assert_int_equal(run("decode -i u.csv -o u.pcap"), 0);
    ns_dataset ds;
    assert_int_equal(ns_dataset_load(&ds, tu_path(dir, "lab.ds")), NS_OK);
    packets *p = malloc(sizeof *p);
    read_packets("u.pcap", p);
    assert_int_equal(p->n, ds.flows[0].n_packets);
    uint32_t src, dst;
    addresses(p->bytes[0], p->len[0], &src, &dst);
    assert_int_equal(src, 0x0a000001u);
    free_packets(p);
    free(p);
    ns_dataset_free(&ds);
}

/* ------------------------------------------------------------ progress */

/* Lines of text that contain `needle`. */
static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        n += strstr(buf, needle) != NULL;
        line += len + (eol != NULL);
    }
    return n;
}

static void test_generate_progress(void **state)
{
    (void)state;
    /* Not a terminal: plain lines, here after every batch. Before: nothing
     * until the end. */
    assert_int_equal(tu_system("cd '%s' && NETSYNTH_PROGRESS_S=0 '%s' generate --model m.nsm -n 64 --batch 4 "
                               "--threads 1 -o p1.pcap >out.txt 2>err.txt",
                               dir, bin),
                     0);
    const char *err = text_of("err.txt");
    assert_true(count_lines(err, "generate: ") >= 5);
    assert_non_null(strstr(err, "/64 flows ("));
    assert_non_null(strstr(err, "flows/s, eta "));
    assert_null(strchr(err, '\r'));
    /* -q: nothing at all, and the same flows. */
    assert_int_equal(tu_system("cd '%s' && NETSYNTH_PROGRESS_S=0 '%s' generate --model m.nsm -n 64 --batch 4 "
                               "--threads 1 -q -o p2.pcap >out.txt 2>err.txt && cmp -s p1.pcap p2.pcap",
                               dir, bin),
                     0);
    assert_string_equal(text_of("err.txt"), "");
}

static void test_eval_progress(void **state)
{
    (void)state;
    /* Before: nothing on stderr until the table. */
    assert_int_equal(tu_system("cd '%s' && NETSYNTH_PROGRESS_S=0 '%s' eval --real lab.ds --synth lab.ds --label app "
                               "--trees 5 --threads 1 >out.txt 2>err.txt",
                               dir, bin),
                     0);
    assert_non_null(strstr(text_of("err.txt"), "eval: forests 0/2, "));
    assert_non_null(strstr(text_of("err.txt"), "eval: distances, "));
    assert_non_null(strstr(text_of("out.txt"), "TSTR"));
    /* -q: neither progress nor table; --json is still written. */
    assert_int_equal(tu_system("cd '%s' && NETSYNTH_PROGRESS_S=0 '%s' eval --real lab.ds --synth lab.ds --label app "
                               "--trees 5 --threads 1 -q --json e.json >out.txt 2>err.txt",
                               dir, bin),
                     0);
    assert_string_equal(text_of("err.txt"), "");
    assert_string_equal(text_of("out.txt"), "");
    assert_true(exists("e.json"));
}

static void test_train_log(void **state)
{
    (void)state;
    /* Before: --log was an unknown option. */
    assert_int_equal(run("train --data lab.ds -o l.nsm --config tiny --steps 6 --batch 4 --log-every 2 "
                         "--eval-every 3 --threads 1 -q --log train.jsonl"),
                     0);
    assert_string_equal(text_of("err.txt"), ""); /* -q: no progress, no summary */
    const char *log = text_of("train.jsonl");
    assert_int_equal(count_lines(log, "{\"step\": "), 5);
    assert_int_equal(count_lines(log, "\"loss\": "), 3);
    assert_int_equal(count_lines(log, "\"val_loss\": "), 2);
    assert_non_null(strstr(log, "{\"step\": 6, \"steps\": 6, \"loss\": "));
    assert_non_null(strstr(log, "\"lr\": "));
    assert_non_null(strstr(log, "\"flows_per_s\": "));
    if (tu_have_program("python3"))
        assert_int_equal(tu_system("cd '%s' && python3 -c 'import json,sys; [json.loads(l) for l in "
                                   "open(\"train.jsonl\")]'",
                                   dir),
                         0);
    /* A log that cannot be written is an error naming it, before training. */
    assert_int_equal(run("train --data lab.ds -o l2.nsm --config tiny --steps 2 --batch 4 --threads 1 -q "
                         "--log no/such/dir/t.jsonl"),
                     1);
    assert_non_null(strstr(text_of("err.txt"), "no/such/dir/t.jsonl: cannot write the log"));
    assert_false(exists("l2.nsm"));
    /* The adapter's and the branch's training, the same way. */
    assert_int_equal(run("finetune --model m.nsm --data lab.ds -o l.lora --steps 4 --batch 4 --log-every 2 "
                         "--threads 1 -q --log ft.jsonl"),
                     0);
    assert_int_equal(count_lines(text_of("ft.jsonl"), "\"loss\": "), 2);
    assert_non_null(strstr(text_of("ft.jsonl"), "{\"step\": 4, \"steps\": 4, "));
    assert_int_equal(run("train-control --model m.nsm --data lab.ds -o l.nsc --steps 3 --batch 4 --threads 1 -q "
                         "--log tc.jsonl"),
                     0);
    assert_int_equal(count_lines(text_of("tc.jsonl"), "\"loss\": "), 1);
    assert_non_null(strstr(text_of("tc.jsonl"), "{\"step\": 3, \"steps\": 3, "));
}

static void test_encode_of_nothing_fails(void **state)
{
    (void)state;
    char pcap[1200];
    const char *d = getenv("NETSYNTH_LAB");
    snprintf(pcap, sizeof pcap, "%s/pcaps/web/web-rtt10ms-loss0-1.pcap", d && *d ? d : "lab/corpus");
    char abs[1200];
    assert_non_null(realpath(pcap, abs));
    /* Before: exit 0 and a CSV of its header alone. */
    assert_int_equal(run("encode -P '%s' -4 -f 'udp port 9' -W none.csv", abs), 1);
    assert_non_null(strstr(text_of("err.txt"), "no packet to write, nothing written"));
    assert_false(exists("none.csv"));
    assert_int_equal(run("encode -P '%s' -4 -t -c 3 -W three.csv", abs), 0);
    assert_true(exists("three.csv"));
}

/* -q: nothing on stderr, on every verb that prints a summary or progress.
 * Before: dataset and render had no -q; finetune and train-control printed
 * their summary with it. */
static void test_quiet_is_quiet(void **state)
{
    (void)state;
    char lab[1200];
    const char *d = getenv("NETSYNTH_LAB");
    assert_non_null(realpath(d && *d ? d : "lab/corpus", lab));
    const char *cmds[] = {
        "dataset --labels '%s/labels.tsv' --label app -o q.ds -q",
        "finetune --model m.nsm --data lab.ds -o q.lora --steps 2 --batch 4 --threads 1 -q",
        "train-control --model m.nsm --data lab.ds -o q.nsc --steps 2 --batch 4 --threads 1 -q",
        "generate --model m.nsm -n 3 -o q.pcap --threads 1 -q",
        "render --data lab.ds -n 2 -o qimg -q",
        "subset --data lab.ds --only app=dns -o q-sub.ds -q",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char args[2048];
        snprintf(args, sizeof args, cmds[i], lab);
        if (run("%s", args) != 0) fail_msg("netsynth %s failed: %s", args, text_of("err.txt"));
        if (text_of("err.txt")[0]) fail_msg("netsynth %s printed: %s", args, text_of("err.txt"));
        if (i == 0 && text_of("out.txt")[0]) fail_msg("netsynth %s printed: %s", args, text_of("out.txt"));
    }
}

/* ------------------------------------------------------------ eval */

static void test_eval_dump_features_makes_dir(void **state)
{
    (void)state;
    /* Before: an error unless the directory existed. */
    assert_int_equal(run("eval --real lab.ds --label app --dump-features feats --threads 1"), 0);
    assert_true(exists("feats"));
    assert_int_equal(tu_system("ls '%s'/feats/*.npy >/dev/null 2>&1", dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_formats),
        cmocka_unit_test(test_pcapng_read_by_tshark),
        cmocka_unit_test(test_decode_generated_csv),
        cmocka_unit_test(test_render_unrender_decode),
        cmocka_unit_test(test_eval_dump_features_makes_dir),
        cmocka_unit_test(test_encode_of_nothing_fails),
        cmocka_unit_test(test_generate_progress),
        cmocka_unit_test(test_eval_progress),
        cmocka_unit_test(test_train_log),
        cmocka_unit_test(test_quiet_is_quiet),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    tu_cleanup();
    return rc;
}
