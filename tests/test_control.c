/* test_control.c: control maps from CSV templates (and their errors), from
 * a capture and from a dataset; and end to end, a tiny base plus a briefly
 * trained branch makes generated directions follow a map that the base
 * alone does not know. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/capture.h"
#include "netsynth/control.h"
#include "netsynth/controlnet.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/generate.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"
#include "netsynth/train.h"

enum { W = NS_NP_MODEL_WIDTH };

static int parse(ns_control_maps *m, const char *text, int max_packets)
{
    memset(m, 0, sizeof *m);
    return ns_control_maps_parse_csv(m, text, strlen(text), "t.csv", max_packets);
}

static void test_csv_template(void **state)
{
    (void)state;
    ns_control_maps m;
    const char *text = "# a handshake and a DNS exchange\r\n"
                       "flow, proto, dir, size, flags\r\n"
                       "a,tcp,0,60,S\r\n"
                       "a,tcp,s2c,60,SA\n"
                       "\n"
                       "a,tcp,c2s,40,A\n"
                       "a,tcp,1,1500,FPA\n"
                       "b,udp,0,76,\n"
                       "b,udp,1,120,-\n"
                       "c,icmp,0,84,\n";
    assert_int_equal(parse(&m, text, 64), NS_OK);
    assert_int_equal(m.n_maps, 3);
    assert_int_equal(m.len[0], 4), assert_int_equal(m.len[1], 2), assert_int_equal(m.len[2], 1);
    const ns_control_row *r = m.rows;
    assert_int_equal(r[0].proto, 6), assert_int_equal(r[0].dir, 0), assert_int_equal(r[0].flags, 0x02);
    assert_int_equal(r[1].dir, 1), assert_int_equal(r[1].flags, 0x12);
    assert_int_equal(r[2].size, ns_control_size_bucket(40)), assert_int_equal(r[2].size, 0);
    assert_int_equal(r[3].flags, 0x19), assert_int_equal(r[3].size, NS_CONTROL_SIZE_BUCKETS - 1);
    assert_int_equal(r[4].proto, 17), assert_int_equal(r[4].flags, 0), assert_int_equal(r[5].dir, 1);
    assert_int_equal(r[6].proto, 1);
    char buf[9];
    ns_control_flags_text(0x12, buf);
    assert_string_equal(buf, "AS");
    ns_control_flags_text(0, buf);
    assert_string_equal(buf, "-");
    /* The features: present, one-hot transport, direction, size, flags. */
    float feat[5 * NS_CONTROL_FEATURES];
    ns_control_features(r, 4, 5, feat);
    assert_true(feat[0] == 1 && feat[1] == 1 && feat[2] == 0 && feat[4] == -1 && feat[5 + r[0].size] == 1);
    assert_true(feat[5 + NS_CONTROL_SIZE_BUCKETS + 6] == 1); /* SYN */
    assert_true(feat[NS_CONTROL_FEATURES + 4] == 1);          /* row 1 from the server */
    for (int k = 4 * NS_CONTROL_FEATURES; k < 5 * NS_CONTROL_FEATURES; k++) assert_true(feat[k] == 0);
    ns_control_maps_free(&m);
    /* No flow column: one map. */
    assert_int_equal(parse(&m, "proto,dir,size\ntcp,0,40\nudp,1,40\n", 0), NS_OK);
    assert_int_equal(m.n_maps, 1);
    assert_int_equal(m.len[0], 2);
    ns_control_maps_free(&m);
}

static void test_csv_errors(void **state)
{
    (void)state;
    static const struct { const char *text, *says; } bad[] = {
        {"proto,dir,size,flags\ntcp,0,40,A\nsctp,0,40,\n", "t.csv:3: proto 'sctp'"},
        {"proto,dir,size,flags\n\n#x\nudp,0,40,S\n", "t.csv:4: flags 'S' on a udp packet"},
        {"proto,dir,size,flags\ntcp,2,40,A\n", "t.csv:2: dir '2'"},
        {"proto,dir,size,flags\ntcp,0,19,A\n", "t.csv:2: size '19'"},
        {"proto,dir,size,flags\ntcp,0,70000,A\n", "t.csv:2: size '70000'"},
        {"proto,dir,size,flags\ntcp,0,40x,A\n", "t.csv:2: size '40x'"},
        {"proto,dir,size,flags\ntcp,0,40,AX\n", "t.csv:2: flags 'AX': 'X'"},
        {"proto,dir,size,flags\ntcp,0,40,AA\n", "t.csv:2: flags 'AA': 'A' twice"},
        {"proto,dir,size,flags\ntcp,0,40\n", "t.csv:2: 3 fields, the header has 4"},
        {"proto,dir,size,flags\ntcp,0,40,A,x\n", "t.csv:2: 5 fields, the header has 4"},
        {"proto,dir,size,flags\ntcp,0,40,A,x,y,z\n", "t.csv:2: more than 5 fields"},
        {"proto,dir,flags\ntcp,0,A\n", "t.csv:1: the header needs the columns proto, dir and size"},
        {"proto,dir,size,colour\n", "t.csv:1: unknown column 'colour'"},
        {"proto,dir,size,size\n", "t.csv:1: column 'size' twice"},
        {"proto,dir,size,flags\n", "t.csv: no rows"},
        {"", "t.csv: no rows"},
        {"proto,dir,size\ntcp,0,40\ntcp,1,40\ntcp,0,40\n", "t.csv:4: flow '' has more than 2 rows"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns_control_maps m;
        assert_int_equal(parse(&m, bad[i].text, 2), NS_EFORMAT);
        if (!strstr(ns_errmsg(), bad[i].says)) fail_msg("case %zu: '%s' lacks '%s'", i, ns_errmsg(), bad[i].says);
        ns_control_maps_free(&m);
    }
    ns_control_maps m = {0};
    const char nul[] = "proto,dir,size\ntcp,0\0,40\n";
    assert_int_equal(ns_control_maps_parse_csv(&m, nul, sizeof nul - 1, "t.csv", 0), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "t.csv:2: a NUL byte"));
    assert_int_equal(ns_control_maps_load(&m, "/nonexistent/map.csv", 0), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "/nonexistent/map.csv"));
}

/* One IPv4 packet row of a TCP (flags) or UDP flow between 10.0.0.1:40000
 * and 192.0.2.7:443/53, from the client when dir is 0. */
static void make_row(int8_t *row, int tcp, int dir, unsigned flags, unsigned payload)
{
    memset(row, -1, W);
    ns_nprint_put(row, NS_NPF_IPV4_VER, 4), ns_nprint_put(row, NS_NPF_IPV4_HL, 5), ns_nprint_put(row, NS_NPF_IPV4_TOS, 0);
    ns_nprint_put(row, NS_NPF_IPV4_TL, (tcp ? 40 : 28) + payload);
    ns_nprint_put(row, NS_NPF_IPV4_ID, 1), ns_nprint_put(row, NS_NPF_IPV4_RBIT, 0), ns_nprint_put(row, NS_NPF_IPV4_DFBIT, 0);
    ns_nprint_put(row, NS_NPF_IPV4_MFBIT, 0), ns_nprint_put(row, NS_NPF_IPV4_FOFF, 0), ns_nprint_put(row, NS_NPF_IPV4_TTL, 64);
    ns_nprint_put(row, NS_NPF_IPV4_PROTO, tcp ? 6 : 17), ns_nprint_put(row, NS_NPF_IPV4_CKSUM, 0);
    ns_nprint_put(row, NS_NPF_IPV4_SRC, dir ? 0xc0000207 : 0x0a000001);
    ns_nprint_put(row, NS_NPF_IPV4_DST, dir ? 0x0a000001 : 0xc0000207);
    unsigned server = tcp ? 443 : 53;
    if (tcp) {
        ns_nprint_put(row, NS_NPF_TCP_SPRT, dir ? server : 40000), ns_nprint_put(row, NS_NPF_TCP_DPRT, dir ? 40000 : server);
        ns_nprint_put(row, NS_NPF_TCP_SEQ, 7), ns_nprint_put(row, NS_NPF_TCP_ACKN, 0), ns_nprint_put(row, NS_NPF_TCP_DOFF, 5);
        ns_nprint_put(row, NS_NPF_TCP_RES, 0), ns_nprint_put(row, NS_NPF_TCP_NS, 0);
        static const ns_nprint_field_id flag[8] = {NS_NPF_TCP_CWR, NS_NPF_TCP_ECE, NS_NPF_TCP_URG, NS_NPF_TCP_ACKF,
                                                   NS_NPF_TCP_PSH, NS_NPF_TCP_RST, NS_NPF_TCP_SYN, NS_NPF_TCP_FIN};
        for (int k = 0; k < 8; k++) ns_nprint_put(row, flag[k], flags >> (7 - k) & 1);
        ns_nprint_put(row, NS_NPF_TCP_WSIZE, 1000), ns_nprint_put(row, NS_NPF_TCP_CKSUM, 0), ns_nprint_put(row, NS_NPF_TCP_URP, 0);
    } else {
        ns_nprint_put(row, NS_NPF_UDP_SPORT, dir ? server : 40000), ns_nprint_put(row, NS_NPF_UDP_DPORT, dir ? 40000 : server);
        ns_nprint_put(row, NS_NPF_UDP_LEN, 8 + payload), ns_nprint_put(row, NS_NPF_UDP_CKSUM, 0);
    }
}

static void test_maps_from_capture_and_dataset(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir(), *path = tu_path(dir, "two.pcap");
    static const struct { int tcp, dir; unsigned flags, payload; } pk[] = {
        {1, 0, 0x02, 0}, {0, 0, 0, 20}, {1, 1, 0x12, 0}, {1, 0, 0x10, 0}, {0, 1, 0, 200}, {1, 0, 0x18, 300}};
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    ns_pcap_writer w;
    assert_int_equal(ns_pcap_writer_begin(&w, fp, NS_LINKTYPE_ETHERNET, 0), NS_OK);
    static uint8_t buf[NS_NP_MAX_PACKET];
    int8_t row[W];
    for (size_t i = 0; i < sizeof pk / sizeof pk[0]; i++) {
        make_row(row, pk[i].tcp, pk[i].dir, pk[i].flags, pk[i].payload);
        size_t len;
        assert_int_equal(ns_nprint_row_to_packet(row, NS_NP_MODEL_LAYERS, 1, buf, &len), NS_OK);
        assert_int_equal(ns_pcap_write(&w, 1000000000 + (int64_t)i * 1000, buf, (uint32_t)len, (uint32_t)len), NS_OK);
    }
    fclose(fp);
    ns_control_maps m = {0};
    assert_int_equal(ns_control_maps_load(&m, path, 64), NS_OK);
    assert_int_equal(m.n_maps, 2);
    assert_int_equal(m.len[0], 4), assert_int_equal(m.len[1], 2); /* TCP first: its first packet came first */
    const ns_control_row *r = m.rows;
    assert_int_equal(r[0].flags, 0x02), assert_int_equal(r[1].dir, 1), assert_int_equal(r[1].flags, 0x12);
    assert_int_equal(r[3].flags, 0x18), assert_int_equal(r[3].size, ns_control_size_bucket(340));
    assert_int_equal(r[4].proto, 17), assert_int_equal(r[5].dir, 1), assert_int_equal(r[5].size, ns_control_size_bucket(228));
    ns_control_maps_free(&m);
    /* Cut to the model's length. */
    assert_int_equal(ns_control_maps_load(&m, path, 3), NS_OK);
    assert_int_equal(m.len[0], 3);
    ns_control_maps_free(&m);
}

/* ---- end to end ---------------------------------------------------------- */

enum { FLOWS = 32, LEN = 6 };

/* Flow f's direction at row k: a pattern per flow that no prompt tells apart. */
static int dir_of(int f, int k) { return k == 0 ? 0 : ((f * 37 + 11) >> (k % 5)) & 1; }

static void test_branch_makes_directions_follow_the_map(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    static const char *files[] = {"made-in-test"};
    ns_ds_flow flows[FLOWS];
    int64_t iat[FLOWS * LEN];
    uint8_t dirs[FLOWS * LEN], bits[FLOWS * LEN * ((W + 3) / 4)];
    int8_t row[W];
    memset(flows, 0, sizeof flows);
    for (int f = 0; f < FLOWS; f++) {
        flows[f].first = (uint64_t)f * LEN;
        flows[f].n_packets = flows[f].seen = LEN;
        flows[f].proto = 6;
        for (int k = 0; k < LEN; k++) {
            int d = dir_of(f, k);
            make_row(row, 1, d, k ? 0x10 : 0x02, d ? 100 : 0);
            ns_nprint_put(row, NS_NPF_IPV4_ID, (uint64_t)(f * LEN + k));
            ns_dataset_pack_row(row, W, bits + (size_t)(f * LEN + k) * ((W + 3) / 4));
            iat[f * LEN + k] = k ? 1000000 : 0;
            dirs[f * LEN + k] = (uint8_t)d;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = 8, .n_flows = FLOWS,
                     .n_packets = FLOWS * LEN, .n_files = 1, .files = files, .flows = flows, .iat_ns = iat,
                     .dir = dirs, .bits = bits};
    const char *model_path = tu_train_tiny(&ds, dir, 300);
    ns_modelfile base;
    assert_int_equal(ns_modelfile_load(&base, model_path), NS_OK);
    ns_dataset loaded;
    assert_int_equal(ns_dataset_load(&loaded, tu_path(dir, "tiny.ds")), NS_OK);

    ns_train_control_opts o;
    ns_train_control_opts_init(&o);
    o.st.steps = 300, o.st.batch = 16, o.st.lr = 3e-3f, o.threads = 1;
    const char *ctl_path = tu_path(dir, "tiny.nsc");
    ns_train_control_result res;
    assert_int_equal(ns_train_control(&base, &loaded, &o, ctl_path, &res), NS_OK);
    print_message("branch loss %.4f -> %.4f in %.1f s\n", res.first_loss, res.last_loss, res.seconds);
    /* inspect summarises the file. */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s' | grep -q 'copies of the first 2 of the model.s 2 blocks'",
             tu_netsynth_bin(), ctl_path);
    assert_int_equal(tu_system("%s", cmd), 0);
    ns_controlnet trained, fresh;
    assert_int_equal(ns_controlnet_load(&trained, ctl_path), NS_OK);
    assert_int_equal(ns_controlnet_check_base(&trained, ctl_path, &base, model_path), NS_OK);
    assert_int_equal(ns_controlnet_init(&fresh, &base, 2), NS_OK); /* zero projections: the base alone */

    ns_control_maps maps = {0};
    assert_int_equal(ns_control_maps_from_dataset(&maps, &loaded, 0, FLOWS, base.cfg.max_packets), NS_OK);
    double rate[3];
    for (int t = 0; t < 3; t++) {
        ns_gen_opts go;
        ns_gen_opts_init(&go);
        go.controlnet = t == 1 ? &trained : &fresh;
        go.control_hard = t == 2; /* 0, 1: the branch alone; 2: the base held to the map by the clamp */
        go.control = &maps;
        int32_t ids[1] = {-1};
        ns_gen_flows g = {0};
        assert_int_equal(ns_generate(&base, &go, ids, FLOWS, 0, &g), NS_OK);
        size_t same = 0, rows = 0;
        for (size_t f = 0; f < g.n_flows; f++) {
            assert_int_equal(g.len[f], maps.len[f]); /* the map decides the length */
            for (uint32_t k = 1; k < g.len[f]; k++, rows++) {
                ns_control_row got;
                ns_control_row_of(g.rows + (g.first[f] + k) * W, g.dir[g.first[f] + k], &got);
                const ns_control_row *want = &maps.rows[maps.first[f] + k];
                same += got.dir == want->dir;
                if (t == 2) assert_true(got.proto == want->proto && got.flags == want->flags);
            }
        }
        rate[t] = (double)same / (double)rows;
        ns_gen_flows_free(&g);
    }
    print_message("directions that follow the map: base alone %.2f, with the trained branch %.2f, base + clamp %.2f\n",
                  rate[0], rate[1], rate[2]);
    assert_true(rate[1] >= 0.85);
    assert_true(rate[1] >= rate[0] + 0.2);
    assert_true(rate[2] == 1.0);

    /* The branch steers a base with an adapter merged in (checked against the
     * base it was trained for): the CLI generates through both. */
    const char *bin = tu_netsynth_bin(), *ds_path = tu_path(dir, "tiny.ds");
    const char *lora_path = strdup(tu_path(dir, "tiny.lora")), *out_path = strdup(tu_path(dir, "both.ds"));
    assert_int_equal(tu_system("'%s' finetune -q --model '%s' --data '%s' -o '%s' --steps 30 --batch 8 --threads 1",
                               bin, model_path, ds_path, lora_path), 0);
    assert_int_equal(tu_system("'%s' generate -q --model '%s' --lora '%s' --controlnet '%s' --control '%s' "
                               "--control-soft -o '%s' --threads 1", bin, model_path, lora_path, ctl_path, ds_path,
                               out_path), 0);
    ns_dataset both;
    assert_int_equal(ns_dataset_load(&both, out_path), NS_OK);
    assert_int_equal(both.n_flows, maps.n_maps);
    size_t same = 0, rows = 0;
    for (uint64_t f = 0; f < both.n_flows; f++)
        for (uint32_t k = 1; k < both.flows[f].n_packets; k++, rows++)
            same += both.dir[both.flows[f].first + k] == maps.rows[maps.first[f] + k].dir;
    print_message("with an adapter merged in, directions that follow the map: %.2f\n", (double)same / (double)rows);
    assert_true((double)same / (double)rows >= 0.85);
    ns_dataset_free(&both);
    free((char *)lora_path), free((char *)out_path);
    ns_controlnet_free(&trained), ns_controlnet_free(&fresh);
    ns_control_maps_free(&maps);
    ns_dataset_free(&loaded);
    ns_modelfile_free(&base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_template),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_maps_from_capture_and_dataset),
        cmocka_unit_test(test_branch_makes_directions_follow_the_map),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
