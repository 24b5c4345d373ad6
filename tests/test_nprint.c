/* test_nprint.c: the nPrint codec: layout, byte-identical encode against
 * nPrint 1.2.1's own output, the CSV reader on hostile input, and the way
 * back to packets (checked field by field with tcpdump). */
#include "testutil.h"

#include <pcap/dlt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"

static const char *const devices[] = {"HueBridge", "D-LinkCam", "WeMoInsightSwitch", "EdnetCam1", "D-LinkHomeHub"};
static const struct golden_kind {
    const char *suffix, *flags;
} kinds[] = {
    {"4tui", "-4 -t -u -i -F -1 -O 4"},
    {"e46tui-R", "-e -4 -6 -t -u -i -F -1 -O 4 -R"},
    {"4tu-p32", "-4 -t -u -p 32 -F -1 -O 4"},
    {"46tui-p16-A-F0", "-4 -6 -t -u -i -p 16 -A -F 0 -O 0"},
};

/* ---- helpers ------------------------------------------------------------------ */

static uint8_t *gunzip_file(const char *path, size_t *len)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    int got;
    while (buf && (got = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    gzclose(gz);
    *len = n;
    return buf;
}

static int csv_from_text(const char *text, ns_nprint_csv *c)
{
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(fp);
    int rc = ns_nprint_csv_read_stream(fp, "mem.csv", c);
    fclose(fp);
    return rc;
}

/* tcpdump -vv text, reduced to what a CSV round trip must keep: one line
 * per packet with the link and IP headers and the transport header as far
 * as tcpdump prints it before decoding the application (the payload comes
 * back zero-filled). Checksum values and verdicts go (recomputed on the way
 * back, and the original's may be wrong), and so does the frame length
 * (Ethernet padding is not part of the IP packet). Everything else must
 * match: times, MACs, ethertype, TOS, TTL, id, flags, offset, protocol, IP
 * length, addresses, ports, TCP flags, seq, ack, window, urgent pointer,
 * options, IPv6 flow label and hop limit, ICMP echo id and seq. */
static const char norm_awk[] =
    "function norm(s,   t, i) {\n"
    "    gsub(/[ \\t]+/, \" \", s)\n"
    "    sub(/, length [0-9]+: /, \": \", s)\n"
    "    gsub(/, bad cksum [0-9a-f]+ \\(->[0-9a-f]+\\)!/, \"\", s)\n"
    "    gsub(/cksum 0x[0-9a-f]+ \\((correct|incorrect[^)]*)\\)/, \"cksum\", s)\n"
    /* A capture snapped short (the lab corpus keeps 160 bytes) has no checksum
     * tcpdump can verify, so it prints none: drop the token on both sides. */
    "    gsub(/ cksum,/, \"\", s)\n"
    "    gsub(/\\[(udp sum ok|bad udp cksum[^]]*|no cksum)\\] /, \"\", s)\n"
    "    if (!match(s, /\\) [^ ]+ > [^ ]+: /)) return s\n"
    "    i = RSTART + RLENGTH - 1\n"
    "    t = substr(s, i + 1)\n"
    "    if (t ~ /^Flags \\[/) {\n"
    "        if (match(t, /, length [0-9]+/)) return substr(s, 1, i + RSTART + RLENGTH - 1)\n"
    "        return s\n"
    "    }\n"
    "    if (match(t, /^ICMP echo (request|reply), id [0-9]+, seq [0-9]+, length [0-9]+/)) return substr(s, 1, i + RLENGTH)\n"
    "    if (t ~ /^ICMP /) return substr(s, 1, i + 4)\n"
    "    return substr(s, 1, i)\n"
    "}\n"
    "/^[0-9]/ { if (pkt != \"\") print norm(pkt); pkt = $0; next }\n"
    "{ pkt = pkt \" \" $0 }\n"
    "END { if (pkt != \"\") print norm(pkt) }\n";

/* The packets nPrint (and so encode) keeps, as a tcpdump filter. */
#define KEPT_FILTER "(ip and (tcp or udp or icmp)) or (ip6 and (ip6[6]==6 or ip6[6]==17 or ip6[6]==1))"

/* Encode `pcap` with every layer and rts, decode it back starting at the
 * first kept packet's time, and compare the normalised tcpdump views.
 * `kept` is a tcpdump filter for the packets encode keeps. */
static void roundtrip_with_tcpdump(const char *pcap, const char *kept)
{
    if (!tu_have_program("tcpdump") || !tu_have_program("awk")) {
        print_message("SKIP %s: tcpdump or awk is not installed\n", __func__);
        skip();
    }
    const char *dir = tu_tmpdir();
    const char *bin = tu_netsynth_bin();
    const char *awk = tu_path(dir, "norm.awk");
    assert_int_equal(tu_write_file(awk, norm_awk, strlen(norm_awk)), 0);
    char start[64] = "";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "tcpdump -tt -nn -r '%s' '%s' 2>/dev/null | head -n 1 | cut -d' ' -f1", pcap, kept);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(start, sizeof start, p));
    pclose(p);
    start[strcspn(start, "\n")] = 0;
    assert_int_equal(tu_system("%s encode -P '%s' -e -4 -6 -t -u -i -R -O 4 -W '%s/rt.csv' 2>/dev/null", bin, pcap, dir), 0);
    assert_int_equal(tu_system("%s decode -i '%s/rt.csv' -o '%s/rt.pcap' --start %s", bin, dir, dir, start), 0);
    assert_int_equal(tu_system("tcpdump -nn -vv -e -r '%s' '%s' 2>/dev/null | awk -f '%s' > '%s/a.txt'", pcap, kept, awk, dir), 0);
    assert_int_equal(tu_system("tcpdump -nn -vv -e -r '%s/rt.pcap' 2>/dev/null | awk -f '%s' > '%s/b.txt'", dir, awk, dir), 0);
    assert_int_equal(tu_system("test -s '%s/a.txt'", dir), 0);
    int rc = tu_system("diff '%s/a.txt' '%s/b.txt' | head -n 20", dir, dir);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_system("cmp -s '%s/a.txt' '%s/b.txt'", dir, dir), 0);
}

/* ---- a capture made here ------------------------------------------------------ */

static size_t put_eth(uint8_t *b, uint16_t type)
{
    static const uint8_t macs[12] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    memcpy(b, macs, 12);
    b[12] = (uint8_t)(type >> 8);
    b[13] = (uint8_t)type;
    return 14;
}

/* IPv4 header with ihl_words, total length, protocol; checksum filled. */
static void put_ipv4(uint8_t *ip, int ihl_words, int total, int proto, uint16_t id)
{
    memset(ip, 0, (size_t)ihl_words * 4);
    ip[0] = (uint8_t)(0x40 | ihl_words);
    ip[1] = 0x10;
    ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
    ip[4] = (uint8_t)(id >> 8), ip[5] = (uint8_t)id;
    ip[6] = 0x40; /* DF */
    ip[8] = 63;
    ip[9] = (uint8_t)proto;
    memcpy(ip + 12, (uint8_t[]){192, 168, 1, 10}, 4);
    memcpy(ip + 16, (uint8_t[]){10, 0, 0, 7}, 4);
    if (ihl_words > 5) ip[20] = 0x94, ip[21] = 4; /* router alert */
    uint16_t c = ns_ipv4_header_checksum(ip, (size_t)ihl_words * 4);
    ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
}

static void write_frame(ns_pcap_writer *w, int64_t t, const uint8_t *f, size_t len, size_t caplen)
{
    assert_int_equal(ns_pcap_write(w, t, f, (uint32_t)caplen, (uint32_t)len), NS_OK);
}

/* TCP SYN with options, UDP under IPv4 options, ICMP echo, IPv6 UDP; and
 * ARP, ICMPv6, IGMP and a cut-short TCP header, which are skipped. */
static void make_capture(const char *path)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    ns_pcap_writer w;
    assert_int_equal(ns_pcap_writer_begin(&w, fp, NS_LINKTYPE_ETHERNET, 0), NS_OK);
    uint8_t f[256];
    int64_t t = INT64_C(1600000000123456000);

    /* TCP SYN, 20 bytes of options: mss, sackOK, timestamps, nop, wscale. */
    size_t n = put_eth(f, 0x0800);
    static const uint8_t syn[40] = {0xc3, 0x50, 0x01, 0xbb, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0,
                                    0, 0, 0, 0, 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 1, 2, 3, 0, 0, 0, 0, 1, 3, 3, 7};
    put_ipv4(f + n, 5, 60, 6, 1);
    memcpy(f + n + 20, syn, 40);
    uint16_t c = ns_l4_checksum_ipv4(f + n, 6, f + n + 20, 40);
    f[n + 36] = (uint8_t)(c >> 8), f[n + 37] = (uint8_t)c;
    write_frame(&w, t, f, n + 60, n + 60);

    /* UDP (DNS port) behind a router-alert IP option, 4 bytes of payload. */
    n = put_eth(f, 0x0800);
    put_ipv4(f + n, 6, 24 + 12, 17, 2);
    static const uint8_t udp[12] = {0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};
    memcpy(f + n + 24, udp, 12);
    c = ns_l4_checksum_ipv4(f + n, 17, f + n + 24, 12);
    f[n + 30] = (uint8_t)(c >> 8), f[n + 31] = (uint8_t)c;
    write_frame(&w, t + 1500000, f, n + 36, n + 36);

    /* ICMP echo request, id 0x1234 seq 7, 8 bytes of data. */
    n = put_eth(f, 0x0800);
    put_ipv4(f + n, 5, 36, 1, 3);
    static const uint8_t echo[16] = {8, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(f + n + 20, echo, 16);
    c = ns_l4_checksum_ipv4(f + n, 1, f + n + 20, 16);
    f[n + 22] = (uint8_t)(c >> 8), f[n + 23] = (uint8_t)c;
    write_frame(&w, t + 2000000, f, n + 36, n + 36);

    /* ARP: skipped as non-IP. */
    n = put_eth(f, 0x0806);
    memset(f + n, 0, 28);
    write_frame(&w, t + 3000000, f, n + 28, n + 28);

    /* IPv6 UDP, flow label 0x12345, hop limit 255. */
    n = put_eth(f, 0x86dd);
    memset(f + n, 0, 40);
    f[n] = 0x60, f[n + 1] = 0x01, f[n + 2] = 0x23, f[n + 3] = 0x45;
    f[n + 5] = 10, f[n + 6] = 17, f[n + 7] = 255;
    f[n + 8] = 0xfe, f[n + 9] = 0x80, f[n + 23] = 1;
    f[n + 24] = 0xff, f[n + 25] = 0x02, f[n + 39] = 0xfb;
    static const uint8_t udp6[10] = {0x14, 0xe9, 0x14, 0xe9, 0, 10, 0, 0, 0, 0};
    memcpy(f + n + 40, udp6, 10);
    write_frame(&w, t + 3500000, f, n + 50, n + 50);

    /* ICMPv6 (next header 58): nPrint does not print it. */
    f[n + 6] = 58;
    write_frame(&w, t + 3600000, f, n + 50, n + 50);

    /* IGMP: other transport. */
    n = put_eth(f, 0x0800);
    put_ipv4(f + n, 5, 28, 2, 4);
    memset(f + n + 20, 0, 8);
    write_frame(&w, t + 4000000, f, n + 28, n + 28);

    /* TCP whose data offset claims options the capture cut off. */
    n = put_eth(f, 0x0800);
    put_ipv4(f + n, 5, 60, 6, 5);
    memcpy(f + n + 20, syn, 40);
    write_frame(&w, t + 5000000, f, n + 60, n + 30);
    assert_int_equal(fclose(fp), 0);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_layout(void **state)
{
    (void)state;
    assert_int_equal(ns_nprint_width(NS_NP_MODEL_LAYERS), NS_NP_MODEL_WIDTH);
    assert_int_equal(ns_nprint_width(NS_NP_ALL), NS_NP_MAX_WIDTH);
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_IPV6), 480);
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_TCP), 800);
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_ICMP), 1344);
    assert_int_equal(ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, NS_NP_ETH), -1);
    size_t nf;
    const ns_nprint_field *f = ns_nprint_fields(&nf);
    /* Fields tile each layer exactly, in order. */
    int sum[NS_NP_PAY + 1] = {0};
    for (size_t i = 0; i < nf; i++) {
        assert_int_equal(f[i].bit, sum[f[i].layer]);
        sum[f[i].layer] += f[i].width;
    }
    for (unsigned l = 1; l <= NS_NP_PAY; l <<= 1) assert_int_equal(sum[l], ns_nprint_width(l));
    /* The payload layer is no header: NS_NP_ALL (nPrint's header flags) leaves it out. */
    assert_int_equal(NS_NP_ALL & NS_NP_PAY, 0);
    assert_int_equal(ns_nprint_width(NS_NP_ALL | NS_NP_PAY), NS_NP_MAX_WIDTH + NS_NP_BITS_PAY);
}

/* The model row's columns as nPrint 1.2.1 lays them out for -4 -6 -t -u -i: the
 * one place outside nprint.h where they are written as numbers, to pin the
 * table's derived constants. */
static void test_model_columns(void **state)
{
    (void)state;
    assert_int_equal(NS_NP_MODEL_LAYERS, NS_NP_IPV4 | NS_NP_IPV6 | NS_NP_TCP | NS_NP_UDP | NS_NP_ICMP | NS_NP_PAY);
    assert_int_equal(NS_NP_MODEL_WIDTH, 1408 + 512);
    assert_int_equal(NS_NP_COL_PAY, 1408), assert_int_equal(NS_NP_BITS_PAY, 512);
    assert_int_equal(NS_NP_COL_PAY_BIT, 1408);
    assert_int_equal(NS_NP_MAX_WIDTH, 1520);
    assert_int_equal(NS_NP_COL_ETH, -1), assert_int_equal(NS_NP_COL_IPV6, 480);
    assert_int_equal(NS_NP_COL_IPV4, 0), assert_int_equal(NS_NP_COL_TCP, 800);
    assert_int_equal(NS_NP_COL_UDP, 1280), assert_int_equal(NS_NP_COL_ICMP, 1344);
    assert_int_equal(NS_NP_BITS_TCP, 480), assert_int_equal(NS_NP_BITS_UDP, 64);
    assert_int_equal(NS_NP_COL_IPV4_TL, 16), assert_int_equal(NS_NP_COL_IPV4_PROTO, 72);
    assert_int_equal(NS_NP_COL_IPV4_SRC, 96), assert_int_equal(NS_NP_COL_IPV4_OPT, 160);
    assert_int_equal(NS_NP_COL_TCP_DPRT, 816), assert_int_equal(NS_NP_COL_TCP_CWR, 904);
    assert_int_equal(NS_NP_COL_TCP_OPT, 960), assert_int_equal(NS_NP_COL_UDP_DPORT, 1296);
    assert_int_equal(NS_NP_COL_ICMP_ROH, 1376), assert_int_equal(NS_NP_BITS_ICMP_ROH, 32);
    assert_int_equal(NS_NP_BITS_TCP_FLAGS, 8);
    assert_int_equal(NS_NP_COL_ETH_DHOST, -1), assert_int_equal(NS_NP_COL_IPV6_SRC, 544);
    assert_int_equal(NS_NP_COL_IPV6_NH, 528), assert_int_equal(NS_NP_COL_IPV6_LEN, 512);

    /* Every field: its id, its name, its constants and the runtime lookups agree. */
    static const int cols[] = {
#define COL(id, name, layer, bit, bits) NS_NP_COL_##id,
        NS_NP_FIELD_TABLE(COL)
#undef COL
    };
    size_t nf;
    const ns_nprint_field *f = ns_nprint_fields(&nf);
    assert_int_equal(nf, NS_NPF_COUNT);
    assert_int_equal(sizeof cols / sizeof cols[0], NS_NPF_COUNT);
    for (size_t i = 0; i < nf; i++) {
        assert_int_equal(ns_nprint_field_find(f[i].name), (int)i);
        int off = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, f[i].layer);
        assert_int_equal(cols[i], off < 0 ? -1 : off + f[i].bit);
        assert_int_equal(ns_nprint_field_col(NS_NP_MODEL_LAYERS, (ns_nprint_field_id)i), cols[i]);
        assert_int_equal(ns_nprint_field_col(NS_NP_ALL, (ns_nprint_field_id)i),
                         ns_nprint_layer_offset(NS_NP_ALL, f[i].layer) + f[i].bit);
    }
    assert_int_equal(ns_nprint_field_find("tcp_dprt"), NS_NPF_TCP_DPRT);
    assert_int_equal(ns_nprint_field_find("tcp_dport"), -1);
    assert_int_equal(ns_nprint_field_col(NS_NP_IPV4 | NS_NP_UDP, NS_NPF_UDP_DPORT), 480 + 16);
    assert_int_equal(ns_nprint_field_col(NS_NP_IPV4 | NS_NP_UDP, NS_NPF_TCP_DPRT), -1);
    assert_int_equal(ns_nprint_field_col(NS_NP_ALL, NS_NPF_IPV6_SRC), 112 + 480 + 64);
}

static void test_field_access(void **state)
{
    (void)state;
    int8_t row[NS_NP_MODEL_WIDTH], before[NS_NP_MODEL_WIDTH];
    memset(row, -1, sizeof row);
    assert_int_equal(ns_nprint_get(row, NS_NPF_TCP_DPRT), 0); /* absent bits read as 0 */
    assert_false(ns_nprint_has(row, NS_NPF_TCP_DPRT));
    ns_nprint_put(row, NS_NPF_TCP_DPRT, 443);
    assert_int_equal(ns_nprint_get(row, NS_NPF_TCP_DPRT), 443);
    assert_true(ns_nprint_has(row, NS_NPF_TCP_DPRT));
    for (int c = 0; c < NS_NP_MODEL_WIDTH; c++)
        if (c < 816 || c >= 832) assert_int_equal(row[c], -1);  /* only its 16 columns */
    assert_int_equal(row[816 + 7], 1), assert_int_equal(row[816 + 8], 1), assert_int_equal(row[816], 0);

    row[820] = -1;   /* an absent bit where 443 (0x01bb) has a 0 */
    assert_false(ns_nprint_has(row, NS_NPF_TCP_DPRT));
    assert_int_equal(ns_nprint_get(row, NS_NPF_TCP_DPRT), 443);
    row[824] = -1;   /* the 0x80 bit of 443 (0x01bb) */
    assert_int_equal(ns_nprint_get(row, NS_NPF_TCP_DPRT), 443 - 0x80);

    /* Values are cut to the field's width; a 1-bit flag. */
    ns_nprint_put(row, NS_NPF_IPV4_TTL, 0x1ff);
    assert_int_equal(ns_nprint_get(row, NS_NPF_IPV4_TTL), 0xff);
    ns_nprint_put(row, NS_NPF_TCP_SYN, 1);
    assert_int_equal(row[800 + 110], 1);
    /* A field wider than 64 bits: its last 64, the rest 0. */
    ns_nprint_put(row, NS_NPF_TCP_OPT, 0x0102030405060708ull);
    assert_int_equal(ns_nprint_get(row, NS_NPF_TCP_OPT), 0x0102030405060708ull);
    assert_int_equal(ns_nprint_bits_get(row, NS_NP_COL_TCP_OPT, 64), 0);
    assert_int_equal(ns_nprint_bits_get(row, NS_NP_COL_TCP_OPT + 320 - 8, 8), 8);
    assert_int_equal(ns_nprint_bits_present(row, NS_NP_COL_TCP_OPT, 320), 320);

    /* A field of a layer the model does not learn: nothing read or written. */
    memcpy(before, row, sizeof row);
    ns_nprint_put(row, NS_NPF_ETH_ETHERTYPE, 0x0800);
    assert_memory_equal(row, before, sizeof row);
    assert_int_equal(ns_nprint_get(row, NS_NPF_ETH_ETHERTYPE), 0);
    assert_false(ns_nprint_has(row, NS_NPF_ETH_ETHERTYPE));
    /* IPv6 is learnt: its next header lies at 528. */
    ns_nprint_put(row, NS_NPF_IPV6_NH, 58);
    assert_int_equal(ns_nprint_get(row, NS_NPF_IPV6_NH), 58);
    assert_int_equal(ns_nprint_bits_get(row, 528, 8), 58);

    /* Spans: what the field accessors are made of. */
    ns_nprint_bits_put(row, 10, 3, 5);
    assert_int_equal(row[10], 1), assert_int_equal(row[11], 0), assert_int_equal(row[12], 1);
    assert_int_equal(ns_nprint_bits_get(row, 10, 3), 5);
    row[11] = -1;
    assert_int_equal(ns_nprint_bits_present(row, 10, 3), 2);
}

static void test_golden_byte_identical(void **state)
{
    (void)state;
    const char *shared = TU_REQUIRE_SHARED();
    const char *dir = tu_tmpdir();
    for (size_t d = 0; d < sizeof devices / sizeof devices[0]; d++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            char gold[4096], out[4096];
            snprintf(gold, sizeof gold, "%s/golden/nprint-1.2.1/%s.%s.csv.gz", shared, devices[d], kinds[k].suffix);
            snprintf(out, sizeof out, "%s/%s.%s.csv", dir, devices[d], kinds[k].suffix);
            assert_int_equal(tu_system("%s encode -P '%s/data/iot-sentinel/pcaps/%s/Setup-A-1-STA.pcap' %s -W '%s' 2>/dev/null",
                                       tu_netsynth_bin(), shared, devices[d], kinds[k].flags, out), 0);
            size_t glen = 0, olen = 0;
            uint8_t *g = gunzip_file(gold, &glen), *o = NULL;
            assert_non_null(g);
            assert_int_equal(ns_read_file(out, &o, &olen), NS_OK);
            if (glen != olen || memcmp(g, o, glen)) fail_msg("%s: differs from nPrint 1.2.1's %s", out, gold);
            free(g);
            free(o);
        }
}

/* The reader takes nPrint's own files, including the row whose rts nPrint
 * dropped (exactly -1, in D-LinkHomeHub). */
static void test_read_golden(void **state)
{
    (void)state;
    const char *shared = TU_REQUIRE_SHARED();
    const char *dir = tu_tmpdir();
    char gold[4096];
    snprintf(gold, sizeof gold, "%s/golden/nprint-1.2.1/D-LinkHomeHub.e46tui-R.csv.gz", shared);
    assert_int_equal(tu_system("zcat '%s' > '%s/g.csv'", gold, dir), 0);
    ns_nprint_csv c;
    assert_int_equal(ns_nprint_csv_read(tu_path(dir, "g.csv"), &c), NS_OK);
    assert_string_equal(c.index_name, "flow");
    assert_int_equal(c.layers, NS_NP_ALL);
    assert_int_equal(c.width, NS_NP_MAX_WIDTH);
    assert_true(c.has_rts);
    assert_int_equal(c.rows, 692);
    assert_int_equal(c.rts[0], 0);
    assert_int_equal(c.rts[491], -1); /* line 493 */
    assert_int_equal(c.rts[117], -29);
    assert_string_equal(c.index_text + c.index_off[491], "10.10.10.87_54.231.176.42_34025_80_TCP");
    ns_nprint_csv_free(&c);
}

static void test_crafted_capture(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *pcap = tu_path(dir, "made.pcap");
    make_capture(pcap);
    const char *bin = tu_netsynth_bin();
    assert_int_equal(tu_system("%s encode -P '%s' -e -4 -6 -t -u -i -R -O 4 -W '%s/m.csv' 2>'%s/err'", bin, pcap, dir, dir), 0);
    uint8_t *err;
    size_t elen;
    assert_int_equal(ns_read_file(tu_path(dir, "err"), &err, &elen), NS_OK);
    assert_non_null(strstr((char *)err, "skipped 4 packets: 2 other transport, 1 non-IP, 1 truncated TCP"));
    free(err);

    ns_nprint_csv c;
    assert_int_equal(ns_nprint_csv_read(tu_path(dir, "m.csv"), &c), NS_OK);
    assert_int_equal(c.rows, 4);
    assert_string_equal(c.index_text + c.index_off[0], "192.168.1.10_10.0.0.7_50000_443_TCP");
    assert_string_equal(c.index_text + c.index_off[1], "192.168.1.10_10.0.0.7_12345_53_UDP");
    assert_string_equal(c.index_text + c.index_off[2], "192.168.1.10_10.0.0.7_NULL_NULL_NULL");
    assert_string_equal(c.index_text + c.index_off[3], "fe80::1_ff02::fb_5353_5353_UDP");
    assert_int_equal(c.rts[1], 1500);
    assert_int_equal(c.rts[3], 1500);

    /* The library encoder (from ns_packet) agrees with the CSV for each row,
     * and the TCP options are there: 40 header bytes, then fill. */
    int tcp = ns_nprint_layer_offset(c.layers, NS_NP_TCP);
    const int8_t *r0 = c.bits;
    assert_int_equal(r0[tcp + 40 * 8 - 1], 1);      /* last bit of wscale 7 */
    assert_int_equal(r0[tcp + 40 * 8], -1);         /* beyond doff */
    int v4 = ns_nprint_layer_offset(c.layers, NS_NP_IPV4);
    assert_int_equal(c.bits[c.width + v4 + 24 * 8 - 1], 0); /* the IP option's last byte */
    assert_int_equal(c.bits[c.width + v4 + 24 * 8], -1);

    ns_capture *cap;
    assert_int_equal(ns_capture_open(&cap, pcap, NULL), NS_OK);
    ns_frame fr;
    size_t row = 0;
    int8_t *mine = malloc(NS_NP_MAX_WIDTH);
    while (ns_capture_next(cap, &fr) == 1) {
        ns_packet p;
        ns_skip_reason why = ns_packet_parse(&p, ns_capture_linktype(cap), fr.data, fr.caplen);
        if (why != NS_SKIP_NONE || p.l4_proto == 58 || p.l4_proto == 2) continue;
        ns_nprint_encode(&p, c.layers, mine);
        assert_memory_equal(mine, c.bits + row * (size_t)c.width, (size_t)c.width);
        row++;
    }
    assert_int_equal(row, 4);
    free(mine);
    ns_capture_close(cap);
    ns_nprint_csv_free(&c);

    /* All but the cut-short TCP packet (IP id 5). */
    roundtrip_with_tcpdump(pcap, "(" KEPT_FILTER ") and not (ip and ip[4:2] = 5)");
}

static void test_roundtrip_real_capture(void **state)
{
    (void)state;
    const char *shared = TU_REQUIRE_SHARED();
    char pcap[4096];
    /* Negative rts values and nPrint's dropped -1 are in this one. */
    snprintf(pcap, sizeof pcap, "%s/data/iot-sentinel/pcaps/D-LinkHomeHub/Setup-A-1-STA.pcap", shared);
    roundtrip_with_tcpdump(pcap, KEPT_FILTER);
}

/* The same on captures of the lab corpus that ships with the project, so the
 * round trip of real software's packets is tested without ../shared too. */
static void test_roundtrip_lab_captures(void **state)
{
    (void)state;
    static const char *const lab[] = {
        "lab/corpus/pcaps/ssh/ssh-rtt10ms-loss1-5.pcap",  "lab/corpus/pcaps/dns/dns-rtt50ms-loss0-1.pcap",
        "lab/corpus/pcaps/ping/ping-rtt50ms-loss0-1.pcap", "lab/corpus/pcaps/ntp/ntp-rtt50ms-loss0-1.pcap",
        "lab/corpus/pcaps/https/https-rtt50ms-loss0-1.pcap",
    };
    for (size_t i = 0; i < sizeof lab / sizeof lab[0]; i++) {
        if (access(lab[i], R_OK) != 0) {
            print_message("SKIP %s: %s is absent\n", __func__, lab[i]);
            skip();
        }
        roundtrip_with_tcpdump(lab[i], KEPT_FILTER);
    }
}

/* Hostile CSV: each case must fail with NS_EFORMAT and a message that
 * names the file, the line and the problem. */
static void test_malformed_csv(void **state)
{
    (void)state;
    char hdr[8192] = "flow,rts";
    size_t nf;
    const ns_nprint_field *f = ns_nprint_fields(&nf);
    for (size_t i = 0; i < nf; i++)
        if (f[i].layer == NS_NP_UDP)
            for (int b = 0; b < f[i].width; b++) sprintf(hdr + strlen(hdr), ",%s_%d", f[i].name, b);
    char good[256] = "", bits[200] = "";
    for (int i = 0; i < 64; i++) strcat(bits, i ? ",1" : "0");
    snprintf(good, sizeof good, "a_b_1_2_UDP,5,%s\n", bits);

    static char big[1 << 25];   /* past the header limit, which leaves room for -p 65535 */
    memset(big, '1', sizeof big - 1);

    struct bad {
        const char *text, *want;
    } cases[18];
    char b[18][12000];
    int n = 0;
    cases[n++] = (struct bad){"", "empty file"};
    cases[n++] = (struct bad){"flow\nx\n", "line 1: no header bit columns"};
    snprintf(b[n], sizeof b[n], "flow,udp_sport_0,udp_sport_2\n");
    cases[n] = (struct bad){b[n], "line 1: column 3: expected 'udp_sport_1'"}, n++;
    snprintf(b[n], sizeof b[n], "flow,ip_ver_0\n");
    cases[n] = (struct bad){b[n], "line 1: column 2: unexpected name 'ip_ver_0'"}, n++;
    snprintf(b[n], sizeof b[n], "%s\na_b,5,0,1\n", hdr);
    cases[n] = (struct bad){b[n], "line 2: 4 columns, the header has 66"}, n++;
    snprintf(b[n], sizeof b[n], "%s\n%sx,5,%s,1\n", hdr, good, bits);
    cases[n] = (struct bad){b[n], "line 3: 67 columns, the header has 66"}, n++;
    snprintf(b[n], sizeof b[n], "%s\nx,5,2%s\n", hdr, bits + 1);
    cases[n] = (struct bad){b[n], "line 2: column 3: '2' is not -1, 0 or 1"}, n++;
    snprintf(b[n], sizeof b[n], "%s\nx,5,1.0%s\n", hdr, bits + 1);
    cases[n] = (struct bad){b[n], "line 2: column 3: '1.0' is not -1, 0 or 1"}, n++;
    snprintf(b[n], sizeof b[n], "%s\nx,five,%s\n", hdr, bits);
    cases[n] = (struct bad){b[n], "line 2: rts 'five' is not an integer"}, n++;
    snprintf(b[n], sizeof b[n], "%s\n,5,%s\n", hdr, bits);
    cases[n] = (struct bad){b[n], "line 2: empty index value"}, n++;
    snprintf(b[n], sizeof b[n], "%s\n%s\n%s", hdr, good, good);
    cases[n] = (struct bad){b[n], "line 3: empty line"}, n++;
    /* Payload columns (-p): whole bytes, in order, after every header column. */
    char pay8[256] = "";
    for (int i = 0; i < 8; i++) sprintf(pay8 + strlen(pay8), ",payload_bit_%d", i);
    snprintf(b[n], sizeof b[n], "%s,payload_bit_0,payload_bit_2\n", hdr);
    cases[n] = (struct bad){b[n], "line 1: column 68: expected 'payload_bit_1'"}, n++;
    snprintf(b[n], sizeof b[n], "%s%.*s\n", hdr, (int)(strrchr(pay8, ',') - pay8), pay8);
    cases[n] = (struct bad){b[n], "line 1: 7 payload bit columns, not whole bytes"}, n++;
    snprintf(b[n], sizeof b[n], "flow%s,udp_sport_0\n", pay8);
    cases[n] = (struct bad){b[n], "line 1: column 10: expected 'payload_bit_8' (payload columns come after every header column), found 'udp_sport_0'"}, n++;
    snprintf(b[n], sizeof b[n], "flow%s\n", pay8);
    cases[n] = (struct bad){b[n], "line 1: no header bit columns"}, n++;
    snprintf(b[n], sizeof b[n], "%s%s\na_b_1_2_UDP,5,%s,0,1,-1,-1,2,0,0,0\n", hdr, pay8, bits);
    cases[n] = (struct bad){b[n], "line 2: column 71: '2' is not -1, 0 or 1"}, n++;
    snprintf(b[n], sizeof b[n], "%s%s\na_b_1_2_UDP,5,%s,0,1\n", hdr, pay8, bits);
    cases[n] = (struct bad){b[n], "line 2: 68 columns, the header has 74"}, n++;
    for (int i = 0; i < n; i++) {
        ns_nprint_csv c;
        int rc = csv_from_text(cases[i].text, &c);
        if (rc != NS_EFORMAT || !strstr(ns_errmsg(), cases[i].want) || strncmp(ns_errmsg(), "mem.csv: ", 9))
            fail_msg("case %d: rc %d, message '%s', wanted '%s'", i, rc, ns_errmsg(), cases[i].want);
        assert_null(c.bits);
    }

    /* A huge line: rejected by its length, without reading it all in. */
    char *huge = malloc(strlen(hdr) + sizeof big + 8);
    assert_non_null(huge);
    sprintf(huge, "%s\n%s\n", hdr, big);
    ns_nprint_csv c;
    assert_int_equal(csv_from_text(huge, &c), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "line 2: longer than"));
    sprintf(huge, "%s\n", big);
    assert_int_equal(csv_from_text(huge, &c), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "line 1: longer than"));
    free(huge);

    /* The good row alone reads; CRLF and a missing final newline are fine. */
    char ok[12000];
    snprintf(ok, sizeof ok, "%s\r\n%s", hdr, good);
    ok[strlen(ok) - 1] = 0;
    assert_int_equal(csv_from_text(ok, &c), NS_OK);
    assert_int_equal(c.rows, 1);
    assert_int_equal(c.layers, NS_NP_UDP);
    assert_int_equal(c.rts[0], 5);
    assert_int_equal(c.bits[0], 0);
    assert_int_equal(c.bits[63], 1);
    ns_nprint_csv_free(&c);
}

/* Issue 12 defect 8: decode summed rts * 1000 in int64 without a check:
 * rts = INT64_MAX overflowed (UBSan) or wrapped. Now a clear error naming
 * the file and line, nothing written. */
static void test_decode_huge_rts(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    uint8_t frame[14 + 60];
    size_t n = put_eth(frame, 0x0800);
    put_ipv4(frame + n, 5, 40, 6, 9);
    memset(frame + n + 20, 0, 20);
    frame[n + 20 + 12] = 0x50;
    ns_packet p;
    assert_int_equal(ns_packet_parse(&p, DLT_EN10MB, frame, n + 40), NS_SKIP_NONE);
    int8_t row[NS_NP_MODEL_WIDTH];
    ns_nprint_encode(&p, NS_NP_MODEL_LAYERS, row);
    /* rts of row 2 (line 3) overflows at once, or the sum past 2106, or before 1970. */
    static const int64_t second[] = {INT64_MAX, INT64_MAX / 1000, 4300000000000000, INT64_MIN + 1, -200000000};
    for (size_t k = 0; k < sizeof second / sizeof second[0]; k++) {
        const char *csv = tu_path(dir, "r.csv");
        FILE *fp = fopen(csv, "w");
        assert_int_equal(ns_nprint_csv_write_header(fp, "src_ip", 1, NS_NP_MODEL_LAYERS), NS_OK);
        assert_int_equal(ns_nprint_csv_write_row(fp, "192.168.1.10", 0, row, NS_NP_MODEL_LAYERS), NS_OK);
        fclose(fp);
        fp = fopen(csv, "a");   /* the writer leaves out negative rts (nPrint's sentinel): write it by hand */
        char line[16];
        snprintf(line, sizeof line, "192.168.1.10,");
        char *rest = NULL;
        size_t cap = 0;
        FILE *in = fopen(csv, "r");
        assert_true(getline(&rest, &cap, in) > 0 && getline(&rest, &cap, in) > 0);   /* the first row */
        fclose(in);
        char *bits = strchr(strchr(rest, ',') + 1, ',');   /* past index and rts */
        fprintf(fp, "%s%" PRId64 "%s", line, second[k], bits);
        free(rest);
        fclose(fp);
        int rc = tu_system("%s decode -i '%s' -o '%s/out.pcap' --start 100 2>'%s/err'", tu_netsynth_bin(), csv, dir,
                           dir);
        if (rc != 1 || tu_system("grep -q 'r.csv: line 3: the rts puts the packet.s time outside' '%s/err'", dir) ||
            tu_system("test ! -e '%s/out.pcap'", dir))
            fail_msg("rts %" PRId64 ": exit %d", second[k], rc);
    }
}

/* decode: timestamps from rts (a running sum from --start), or evenly
 * spaced without; raw IP without eth columns; real lengths, good checksums. */
static void test_decode_timestamps(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    /* One TCP row of the model's layers, written with and without rts. */
    uint8_t frame[14 + 60];
    size_t n = put_eth(frame, 0x0800);
    put_ipv4(frame + n, 5, 40 + 100, 6, 9);
    memset(frame + n + 20, 0, 20);
    frame[n + 20 + 12] = 0x50;
    frame[n + 20 + 13] = 0x18;
    ns_packet p;
    assert_int_equal(ns_packet_parse(&p, DLT_EN10MB, frame, n + 40), NS_SKIP_NONE);
    int8_t row[NS_NP_MODEL_WIDTH];
    ns_nprint_encode(&p, NS_NP_MODEL_LAYERS, row);

    const int64_t rts[3] = {0, 250, 1000000};
    for (int with_rts = 0; with_rts < 2; with_rts++) {
        const char *csv = tu_path(dir, with_rts ? "r.csv" : "n.csv");
        FILE *fp = fopen(csv, "w");
        assert_int_equal(ns_nprint_csv_write_header(fp, "src_ip", with_rts, NS_NP_MODEL_LAYERS), NS_OK);
        for (int i = 0; i < 3; i++)
            assert_int_equal(ns_nprint_csv_write_row(fp, "192.168.1.10", with_rts ? rts[i] : -1, row, NS_NP_MODEL_LAYERS), NS_OK);
        fclose(fp);
        assert_int_equal(tu_system("%s decode -i '%s' -o '%s/out.pcap' --start 100.5 --interval 20", tu_netsynth_bin(), csv, dir), 0);
        ns_capture *cap;
        assert_int_equal(ns_capture_open(&cap, tu_path(dir, "out.pcap"), NULL), NS_OK);
        assert_int_equal(ns_capture_linktype(cap), DLT_RAW);
        int64_t want = INT64_C(100500000000);
        for (int i = 0; i < 3; i++) {
            ns_frame f;
            assert_int_equal(ns_capture_next(cap, &f), 1);
            want += with_rts ? rts[i] * 1000 : (i ? 20000 : 0);
            assert_int_equal(f.ts_ns, want);
            assert_int_equal(f.caplen, 140);
            assert_int_equal(ns_ipv4_header_checksum(f.data, 20), f.data[10] << 8 | f.data[11]);
            assert_int_equal(ns_l4_checksum_ipv4(f.data, 6, f.data + 20, 120), f.data[36] << 8 | f.data[37]);
            assert_int_equal(f.data[139], 0);
        }
        ns_frame f;
        assert_int_equal(ns_capture_next(cap, &f), 0);
        ns_capture_close(cap);
    }
}

static void test_row_to_packet_errors(void **state)
{
    (void)state;
    int8_t row[NS_NP_MAX_WIDTH];
    uint8_t *buf = malloc(NS_NP_MAX_PACKET);
    size_t len;
    memset(row, -1, sizeof row);
    assert_int_equal(ns_nprint_row_to_packet(row, NS_NP_ALL, 1, buf, &len), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "no IP header"));

    /* IPv4 saying TCP, 20 bytes, total length 20: shorter than IP + TCP. */
    uint8_t ip[20] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6};
    for (int i = 0; i < 160; i++) row[i] = (int8_t)(ip[i / 8] >> (7 - i % 8) & 1);
    memset(row + NS_NP_COL_TCP, 0, NS_NP_COL_TCP_OPT - NS_NP_COL_TCP);
    ns_nprint_put(row, NS_NPF_TCP_DOFF, 5);
    assert_int_equal(ns_nprint_row_to_packet(row, NS_NP_MODEL_LAYERS, 0, buf, &len), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "shorter than the headers"));
    ip[3] = 40;
    for (int i = 0; i < 160; i++) row[i] = (int8_t)(ip[i / 8] >> (7 - i % 8) & 1);
    assert_int_equal(ns_nprint_row_to_packet(row, NS_NP_MODEL_LAYERS, 0, buf, &len), NS_OK);
    assert_int_equal(len, 40);
    row[5] = -1; /* an absent bit inside the fixed IPv4 header */
    assert_int_equal(ns_nprint_row_to_packet(row, NS_NP_MODEL_LAYERS, 0, buf, &len), NS_EFORMAT);
    free(buf);
}

/* ---- payload columns (-p) and capture times (-A) ------------------------------ */

/* The IP packet's length in an Ethernet frame (its padding is not part of it). */
static size_t frame_ip_len(const uint8_t *f, size_t caplen)
{
    assert_true(caplen >= 14 + 20);
    if (f[12] == 0x86 && f[13] == 0xdd) return 40 + (size_t)(f[18] << 8 | f[19]);
    return (size_t)(f[16] << 8 | f[17]);
}

/* The packets `kept` selects of `orig` and of `back` are the same byte for
 * byte (Ethernet header and IP packet, checksums as they were) at the same
 * microsecond. Returns how many packets were compared. */
static size_t compare_packets(const char *orig, const char *kept, const char *back)
{
    ns_capture *a, *b;
    assert_int_equal(ns_capture_open(&a, orig, kept), NS_OK);
    assert_int_equal(ns_capture_open(&b, back, kept), NS_OK);
    assert_int_equal(ns_capture_linktype(b), DLT_EN10MB);
    size_t n = 0;
    ns_frame fa, fb;
    while (ns_capture_next(a, &fa) == 1) {
        if (ns_capture_next(b, &fb) != 1) fail_msg("%s: packet %zu is missing from %s", orig, n + 1, back);
        size_t len = 14 + frame_ip_len(fa.data, fa.caplen);
        if (len > fa.caplen) fail_msg("%s: packet %zu was cut short by the capture", orig, n + 1);
        if (fb.caplen != len || memcmp(fa.data, fb.data, len))
            fail_msg("%s: packet %zu (%u bytes) differs from the original (%zu bytes)", back, n + 1, fb.caplen, len);
        if (fb.ts_ns != fa.ts_ns / 1000 * 1000) fail_msg("%s: packet %zu has another time", back, n + 1);
        n++;
    }
    assert_int_equal(ns_capture_next(b, &fb), 0);
    ns_capture_close(a);
    ns_capture_close(b);
    return n;
}

/* A TCP segment with `n` payload bytes; a deliberately wrong TCP checksum
 * when `bad` (what a capture on the sending host has under checksum
 * offload). Returns the frame length. */
static size_t put_tcp_data(uint8_t *f, uint16_t id, size_t n, int bad)
{
    size_t e = put_eth(f, 0x0800);
    put_ipv4(f + e, 5, (int)(20 + 20 + n), 6, id);
    uint8_t *t = f + e + 20;
    static const uint8_t hdr[20] = {0xc3, 0x51, 0x00, 0x50, 0, 0, 1, 0, 0, 0, 2, 0, 0x50, 0x18, 0x01, 0xf6};
    memcpy(t, hdr, 20);
    static const char req[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n";
    for (size_t i = 0; i < n; i++) t[20 + i] = (uint8_t)(req[i % (sizeof req - 1)] ^ i / (sizeof req - 1));
    uint16_t c = bad ? 0x1234 : ns_l4_checksum_ipv4(f + e, 6, t, 20 + n);
    t[16] = (uint8_t)(c >> 8), t[17] = (uint8_t)c;
    return e + 40 + n;
}

/* The TCP checksum of an IPv6 packet (RFC 8200 8.1) at ip6 with tcp_len bytes of TCP. */
static uint16_t tcp6_checksum(const uint8_t *ip6, const uint8_t *tcp, size_t tcp_len)
{
    uint32_t sum = ns_inet_sum(0, ip6 + 8, 32) + (uint32_t)tcp_len + 6;
    return (uint16_t)~ns_inet_fold(ns_inet_sum(sum, tcp, tcp_len));
}

/* Packets with payload: TCP with 100 bytes (checksum right, then the same
 * segment with a wrong one), UDP with 4 bytes in a padded 60-byte frame,
 * ICMP echo with 8 bytes, IPv6 UDP with 6, IPv6 TCP with 30 (where nPrint
 * reads 20 times the TCP header length too far), a TCP SYN without payload;
 * then a TCP segment the capture cut inside its payload (after 10 of 100
 * bytes). */
static void make_payload_capture(const char *path)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    ns_pcap_writer w;
    assert_int_equal(ns_pcap_writer_begin(&w, fp, NS_LINKTYPE_ETHERNET, 0), NS_OK);
    uint8_t f[256];
    int64_t t = INT64_C(1600000000123456789);   /* nanoseconds: -A writes microseconds */
    size_t n = put_tcp_data(f, 11, 100, 0);
    write_frame(&w, t, f, n, n);
    n = put_tcp_data(f, 12, 100, 1);
    write_frame(&w, t + 1000, f, n, n);

    n = put_eth(f, 0x0800);
    put_ipv4(f + n, 5, 20 + 12, 17, 13);
    static const uint8_t udp[12] = {0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};
    memcpy(f + n + 20, udp, 12);
    uint16_t c = ns_l4_checksum_ipv4(f + n, 17, f + n + 20, 12);
    f[n + 26] = (uint8_t)(c >> 8), f[n + 27] = (uint8_t)c;
    memset(f + n + 32, 0xee, 60 - (n + 32));   /* Ethernet padding, not payload */
    write_frame(&w, t + 2000000, f, 60, 60);

    n = put_eth(f, 0x0800);
    put_ipv4(f + n, 5, 36, 1, 14);
    static const uint8_t echo[16] = {8, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(f + n + 20, echo, 16);
    c = ns_l4_checksum_ipv4(f + n, 1, f + n + 20, 16);
    f[n + 22] = (uint8_t)(c >> 8), f[n + 23] = (uint8_t)c;
    write_frame(&w, t + 3000000, f, n + 36, n + 36);

    n = put_eth(f, 0x86dd);
    memset(f + n, 0, 40);
    f[n] = 0x60, f[n + 5] = 14, f[n + 6] = 17, f[n + 7] = 64;
    f[n + 8] = 0xfe, f[n + 9] = 0x80, f[n + 23] = 1;
    f[n + 24] = 0xfe, f[n + 25] = 0x80, f[n + 39] = 2;
    static const uint8_t udp6[14] = {0x14, 0xe9, 0x14, 0xe9, 0, 14, 0xab, 0xcd, 'q', 'u', 'e', 'r', 'y', '!'};
    memcpy(f + n + 40, udp6, 14);
    write_frame(&w, t + 4000000, f, n + 54, n + 54);

    f[n + 5] = 20 + 30, f[n + 6] = 6;
    uint8_t *t6 = f + n + 40;
    memset(t6, 0, 20);
    t6[0] = 0xc3, t6[1] = 0x53, t6[3] = 80, t6[7] = 1, t6[12] = 0x50, t6[13] = 0x18, t6[14] = 0x10;
    for (int i = 0; i < 30; i++) t6[20 + i] = (uint8_t)(0xa0 + i);
    c = tcp6_checksum(f + n, t6, 50);
    t6[16] = (uint8_t)(c >> 8), t6[17] = (uint8_t)c;
    write_frame(&w, t + 4500000, f, n + 90, n + 90);

    n = put_eth(f, 0x0800);
    put_ipv4(f + n, 5, 40, 6, 15);
    memcpy(f + n + 20, (uint8_t[]){0xc3, 0x52, 0, 80, 0, 0, 0, 9, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0}, 16);
    memset(f + n + 36, 0, 4);
    c = ns_l4_checksum_ipv4(f + n, 6, f + n + 20, 20);
    f[n + 36] = (uint8_t)(c >> 8), f[n + 37] = (uint8_t)c;
    write_frame(&w, t + 5000000, f, n + 40, n + 40);

    n = put_tcp_data(f, 16, 100, 0);
    write_frame(&w, t + 6000000, f, n, 14 + 40 + 10);
    assert_int_equal(fclose(fp), 0);
}

/* The packets of make_payload_capture that come back whole: all but the
 * one cut short (IP id 16). */
#define WHOLE_FILTER "not (ip and ip[4:2] = 16)"

/* -p and -A from a capture made here: the CSV holds the payload bytes and
 * then fill (never bytes past what was captured, nor the Ethernet padding),
 * and decode gives back every packet the row holds whole, byte for byte,
 * checksums as they were (the wrong one too), at the same microsecond. */
static void test_payload_roundtrip(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *pcap = tu_path(dir, "pay.pcap");
    make_payload_capture(pcap);
    const char *bin = tu_netsynth_bin();
    for (int fill = -1; fill <= 0; fill++) {
        assert_int_equal(tu_system("%s encode -P '%s' -e -4 -6 -t -u -i -p 128 -A -R -F %d -O 4 -W '%s/p.csv'", bin,
                                   pcap, fill, dir), 0);
        ns_nprint_csv c;
        assert_int_equal(ns_nprint_csv_read(tu_path(dir, "p.csv"), &c), NS_OK);
        assert_int_equal(c.rows, 8);
        assert_int_equal(c.payload_bytes, 128);
        assert_int_equal(c.width, NS_NP_MAX_WIDTH);
        assert_true(c.has_abs && c.has_rts);
        assert_int_equal(c.abs_us[0], INT64_C(1600000000123456));
        assert_int_equal(c.abs_us[1], INT64_C(1600000000123457));
        const int8_t *udp = c.payload + 2 * 8 * 128;
        assert_int_equal(ns_nprint_bits_get(udp, 0, 32), 0x61626364);   /* "abcd" */
        for (int i = 32; i < 8 * 128; i++) assert_int_equal(udp[i], fill);   /* not the 0xee padding */
        const int8_t *tcp6 = c.payload + 5 * 8 * 128;   /* right after the TCP header */
        for (int i = 0; i < 30; i++) assert_int_equal(ns_nprint_bits_get(tcp6, 8 * i, 8), 0xa0 + i);
        assert_int_equal(tcp6[8 * 30], fill);
        const int8_t *cut = c.payload + 7 * 8 * 128;
        assert_int_equal(ns_nprint_bits_get(cut, 0, 8), 'G');
        for (int i = 80; i < 8 * 128; i++) assert_int_equal(cut[i], fill);   /* past the 10 captured bytes */
        ns_nprint_csv_free(&c);

        assert_int_equal(tu_system("%s decode -i '%s/p.csv' -o '%s/p.pcap'", bin, dir, dir), 0);
        assert_int_equal(compare_packets(pcap, WHOLE_FILTER, tu_path(dir, "p.pcap")), 7);
    }

    /* The cut-short packet (-F -1): its 10 bytes, zeros after, checksum
     * recomputed over what was written. */
    assert_int_equal(tu_system("%s encode -P '%s' -e -4 -t -p 128 -W '%s/p.csv' 2>/dev/null", bin, pcap, dir), 0);
    assert_int_equal(tu_system("%s decode -i '%s/p.csv' -o '%s/p.pcap'", bin, dir, dir), 0);
    ns_capture *cap;
    ns_frame f;
    assert_int_equal(ns_capture_open(&cap, tu_path(dir, "p.pcap"), "ip[4:2] = 16"), NS_OK);
    assert_int_equal(ns_capture_next(cap, &f), 1);
    assert_int_equal(f.caplen, 14 + 140);
    assert_int_equal(f.data[14 + 40], 'G');
    assert_int_equal(f.data[14 + 40 + 10], 0);
    assert_int_equal(ns_l4_checksum_ipv4(f.data + 14, 6, f.data + 34, 120), f.data[50] << 8 | f.data[51]);
    ns_capture_close(cap);

    /* --recompute-checksums: the wrong TCP checksum (IP id 12) becomes the
     * right one, which is that of the same segment with a right one (id 11). */
    assert_int_equal(tu_system("%s decode -i '%s/p.csv' -o '%s/r.pcap' --recompute-checksums", bin, dir, dir), 0);
    assert_int_equal(ns_capture_open(&cap, tu_path(dir, "r.pcap"), "tcp"), NS_OK);
    uint8_t sum[2][2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ns_capture_next(cap, &f), 1);
        assert_int_equal(f.data[19], 11 + i);
        memcpy(sum[i], f.data + 50, 2);
    }
    assert_memory_equal(sum[0], sum[1], 2);
    ns_capture_close(cap);
}

/* Payload past -p N: the first N bytes come back, the rest is zero-filled up
 * to the IP length and every checksum is recomputed, as for a row without
 * payload columns. A payload of at most N bytes still comes back whole. */
static void test_payload_past_n(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *pcap = tu_path(dir, "pay.pcap");
    make_payload_capture(pcap);
    const char *bin = tu_netsynth_bin();
    assert_int_equal(tu_system("%s encode -P '%s' -4 -t -p 65536 2>/dev/null >&2", bin, pcap), 2);
    assert_int_equal(tu_system("%s encode -P '%s' -4 -t -p -1 2>/dev/null >&2", bin, pcap), 2);
    assert_int_equal(tu_system("%s encode -P '%s' -e -4 -6 -t -u -i -p 8 -A -W '%s/p8.csv'", bin, pcap, dir), 0);
    assert_int_equal(tu_system("%s decode -i '%s/p8.csv' -o '%s/p8.pcap'", bin, dir, dir), 0);
    /* UDP "abcd", ICMP's 8 bytes, the SYN's none: whole. */
    assert_int_equal(compare_packets(pcap, "(udp and ip) or icmp or (ip and tcp[13] = 2)", tu_path(dir, "p8.pcap")), 3);
    ns_capture *cap;
    ns_frame f;
    assert_int_equal(ns_capture_open(&cap, tu_path(dir, "p8.pcap"), "ip[4:2] = 12"), NS_OK);
    assert_int_equal(ns_capture_next(cap, &f), 1);
    assert_int_equal(f.caplen, 14 + 140);
    assert_memory_equal(f.data + 54, "GET /ind", 8);
    for (int i = 8; i < 100; i++) assert_int_equal(f.data[54 + i], 0);
    assert_int_equal(ns_l4_checksum_ipv4(f.data + 14, 6, f.data + 34, 120), f.data[50] << 8 | f.data[51]);
    ns_capture_close(cap);
    /* IPv6 UDP "query!" is 6 bytes: whole too, checksum as it was. */
    assert_int_equal(ns_capture_open(&cap, tu_path(dir, "p8.pcap"), "ip6"), NS_OK);
    assert_int_equal(ns_capture_next(cap, &f), 1);
    assert_int_equal(f.caplen, 14 + 54);
    static const uint8_t tail6[8] = {0xab, 0xcd, 'q', 'u', 'e', 'r', 'y', '!'};
    assert_memory_equal(f.data + 14 + 46, tail6, 8);
    /* IPv6 TCP: 8 of its 30 bytes, zeros after, the checksum recomputed. */
    assert_int_equal(ns_capture_next(cap, &f), 1);
    assert_int_equal(f.caplen, 14 + 90);
    assert_int_equal(f.data[14 + 60], 0xa0);
    assert_int_equal(f.data[14 + 60 + 7], 0xa7);
    assert_int_equal(f.data[14 + 60 + 8], 0);
    assert_int_equal(tcp6_checksum(f.data + 14, f.data + 54, 50), 0);   /* with the field: sums to all ones */
    ns_capture_close(cap);
}

/* nPrint's own -p -A files read back: the payload and times are there, and
 * the packets whose payload fits in 16 bytes come back whole. */
static void test_read_golden_payload(void **state)
{
    (void)state;
    const char *shared = TU_REQUIRE_SHARED();
    const char *dir = tu_tmpdir();
    char pcap[4096];
    snprintf(pcap, sizeof pcap, "%s/data/iot-sentinel/pcaps/HueBridge/Setup-A-1-STA.pcap", shared);
    assert_int_equal(tu_system("zcat '%s/golden/nprint-1.2.1/HueBridge.46tui-p16-A-F0.csv.gz' > '%s/g.csv'", shared, dir), 0);
    ns_nprint_csv c;
    assert_int_equal(ns_nprint_csv_read(tu_path(dir, "g.csv"), &c), NS_OK);
    assert_string_equal(c.index_name, "src_ip");
    assert_int_equal(c.layers, NS_NP_IPV4 | NS_NP_IPV6 | NS_NP_TCP | NS_NP_UDP | NS_NP_ICMP);
    assert_int_equal(c.payload_bytes, 16);
    assert_true(c.has_abs && !c.has_rts);
    ns_capture *cap;
    ns_frame f;
    assert_int_equal(ns_capture_open(&cap, pcap, KEPT_FILTER), NS_OK);
    for (size_t i = 0; i < c.rows; i++) {
        assert_int_equal(ns_capture_next(cap, &f), 1);
        assert_int_equal(c.abs_us[i], f.ts_ns / 1000);
    }
    assert_int_equal(ns_capture_next(cap, &f), 0);
    ns_capture_close(cap);

    /* Every row decodes, the IPv6 ones too (-F 0 makes their ipv4 bits
     * zeros, not absent), at its capture time. */
    assert_int_equal(tu_system("%s decode -i '%s/g.csv' -o '%s/g.pcap' 2>'%s/err'", tu_netsynth_bin(), dir, dir, dir), 0);
    assert_int_equal(tu_system("test ! -s '%s/err'", dir), 0);
    assert_int_equal(ns_capture_open(&cap, tu_path(dir, "g.pcap"), NULL), NS_OK);
    size_t v6 = 0;
    for (size_t i = 0; i < c.rows; i++) {
        assert_int_equal(ns_capture_next(cap, &f), 1);
        assert_int_equal(f.ts_ns, c.abs_us[i] * 1000);
        v6 += f.data[0] >> 4 == 6;
    }
    assert_int_equal(v6, 12);
    ns_capture_close(cap);
    ns_nprint_csv_free(&c);

    /* The -p 32 file: 32 bytes of payload columns after the tcp and udp ones. */
    assert_int_equal(tu_system("zcat '%s/golden/nprint-1.2.1/HueBridge.4tu-p32.csv.gz' > '%s/g.csv'", shared, dir), 0);
    assert_int_equal(ns_nprint_csv_read(tu_path(dir, "g.csv"), &c), NS_OK);
    assert_int_equal(c.payload_bytes, 32);
    assert_int_equal(c.layers, NS_NP_IPV4 | NS_NP_TCP | NS_NP_UDP);
    assert_false(c.has_abs || c.has_rts);
    ns_nprint_csv_free(&c);
}

/* A real capture through CSV and back with every payload byte: the same
 * packets byte for byte, its checksums as captured (HueBridge's gateway
 * packets carry wrong ones, from checksum offload), at the same microsecond. */
static void test_payload_roundtrip_real_capture(void **state)
{
    (void)state;
    const char *shared = TU_REQUIRE_SHARED();
    const char *dir = tu_tmpdir();
    char pcap[4096];
    snprintf(pcap, sizeof pcap, "%s/data/iot-sentinel/pcaps/HueBridge/Setup-A-1-STA.pcap", shared);
    const char *bin = tu_netsynth_bin();
    assert_int_equal(tu_system("%s encode -P '%s' -e -4 -6 -t -u -i -p 1480 -A -O 4 -W '%s/h.csv' 2>/dev/null", bin,
                               pcap, dir), 0);
    assert_int_equal(tu_system("%s decode -i '%s/h.csv' -o '%s/h.pcap'", bin, dir, dir), 0);
    assert_int_equal(compare_packets(pcap, KEPT_FILTER, tu_path(dir, "h.pcap")), 1475);
}

/* A model row's payload layer goes to CSV as -p 64's columns and is read
 * back apart from the header bits, as any -p CSV is. */
static void test_model_row_payload_csv(void **state)
{
    (void)state;
    int8_t row[NS_NP_MODEL_WIDTH];
    memset(row, -1, sizeof row);
    ns_nprint_put(row, NS_NPF_IPV4_VER, 4);
    ns_nprint_put(row, NS_NPF_IPV4_TTL, 64);
    for (int i = 0; i < 5; i++) ns_nprint_bits_put(row, NS_NP_COL_PAY + 8 * i, 8, (uint64_t)("GET /"[i]));
    const char *path = tu_path(tu_tmpdir(), "m.csv");
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(ns_nprint_csv_write_header(fp, "flow", 1, NS_NP_MODEL_LAYERS), NS_OK);
    assert_int_equal(ns_nprint_csv_write_row(fp, "f0", 0, row, NS_NP_MODEL_LAYERS), NS_OK);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(tu_system("head -1 '%s' | grep -q 'icmp_roh_31,payload_bit_0,.*,payload_bit_511$'", path), 0);
    ns_nprint_csv c;
    assert_int_equal(ns_nprint_csv_read(path, &c), NS_OK);
    assert_int_equal(c.layers, NS_NP_MODEL_LAYERS & ~NS_NP_PAY);
    assert_int_equal(c.payload_bytes, NS_NP_BITS_PAY / 8);
    assert_memory_equal(c.bits, row, (size_t)NS_NP_COL_PAY);
    assert_memory_equal(c.payload, row + NS_NP_COL_PAY, NS_NP_BITS_PAY);
    ns_nprint_csv_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_model_columns),
        cmocka_unit_test(test_field_access),
        cmocka_unit_test(test_golden_byte_identical),
        cmocka_unit_test(test_read_golden),
        cmocka_unit_test(test_crafted_capture),
        cmocka_unit_test(test_roundtrip_real_capture),
        cmocka_unit_test(test_roundtrip_lab_captures),
        cmocka_unit_test(test_malformed_csv),
        cmocka_unit_test(test_decode_timestamps),
        cmocka_unit_test(test_decode_huge_rts),
        cmocka_unit_test(test_row_to_packet_errors),
        cmocka_unit_test(test_payload_roundtrip),
        cmocka_unit_test(test_payload_past_n),
        cmocka_unit_test(test_read_golden_payload),
        cmocka_unit_test(test_payload_roundtrip_real_capture),
        cmocka_unit_test(test_model_row_payload_csv),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
