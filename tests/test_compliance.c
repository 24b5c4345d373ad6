/* test_compliance.c: repaired captures as other tools see them.
 *
 * tshark (skipped with a message when absent) reads captures of crafted and
 * of random flows, written by ns_gen_write_pcap, with checksum validation on:
 * no malformed packet, no bad checksum, no expert error; its conversation
 * statistics count the flows written. The same through `netsynth generate`
 * with a tiny model trained here (--fix, --link raw, --per-flow,
 * --repair-report). And a replay: tcpreplay sends a capture over a veth pair
 * between two network namespaces made here, and tcpdump on the far side
 * receives every packet (needs root, `ip netns`, tcpreplay and tcpdump;
 * skipped with a message otherwise). NETSYNTH_TEST_KEEP=FILE keeps a copy of
 * the last capture tshark read; NETSYNTH_TEST_VERBOSE=1 prints its verdicts. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsynth/capture.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/flow.h"
#include "netsynth/gen_write.h"
#include "netsynth/generate.h"
#include "netsynth/nprint.h"
#include "netsynth/repair.h"
#include "netsynth/rng.h"
#include "netsynth/train.h"

enum {
    ETH_FRAME_MAX = 14 + 65535,
    W = NS_NP_MODEL_WIDTH,
    FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10,
};

/* ------------------------------------------------------------------ flows */

/* Generated flows built by hand: rows appended one flow at a time. */
typedef struct flows {
    ns_gen_flows g;
    size_t cap;
} flows;

static int8_t *add_row(flows *f, int dir, int64_t iat)
{
    ns_gen_flows *g = &f->g;
    if (g->n_rows == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 256;
        g->rows = realloc(g->rows, f->cap * W);
        g->dir = realloc(g->dir, f->cap);
        g->iat_ns = realloc(g->iat_ns, f->cap * sizeof *g->iat_ns);
        assert_true(g->rows && g->dir && g->iat_ns);
    }
    g->dir[g->n_rows] = (uint8_t)dir;
    g->iat_ns[g->n_rows] = iat;
    g->len[g->n_flows - 1]++;
    return g->rows + W * g->n_rows++;
}

static void new_flow(flows *f)
{
    ns_gen_flows *g = &f->g;
    g->len = realloc(g->len, (g->n_flows + 1) * sizeof *g->len);
    g->first = realloc(g->first, (g->n_flows + 1) * sizeof *g->first);
    assert_true(g->len && g->first);
    g->first[g->n_flows] = g->n_rows;
    g->len[g->n_flows++] = 0;
}

static void ip_row(int8_t *row, int proto, int tl)
{
    memset(row, -1, W);
    ns_nprint_put(row, NS_NPF_IPV4_VER, 4), ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
    ns_nprint_put(row, NS_NPF_IPV4_TOS, 0), ns_nprint_put(row, NS_NPF_IPV4_TL, (uint64_t)tl);
    ns_nprint_put(row, NS_NPF_IPV4_ID, 0x4321), ns_nprint_bits_put(row, NS_NP_COL_IPV4_RBIT, 3, 2);
    ns_nprint_put(row, NS_NPF_IPV4_FOFF, 0);
    ns_nprint_put(row, NS_NPF_IPV4_TTL, 64), ns_nprint_put(row, NS_NPF_IPV4_PROTO, (uint64_t)proto);
    ns_nprint_put(row, NS_NPF_IPV4_CKSUM, 0), ns_nprint_bits_put(row, NS_NP_COL_IPV4_SRC, 64, 0);
}

static void tcp_row(int8_t *row, int payload, int back, uint16_t port, uint32_t seq, int flags)
{
    static const uint8_t opts[] = {2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0, 1, 3, 3, 7};
    int syn = flags & SYN, n = syn ? (int)sizeof opts : 0;
    ip_row(row, 6, 40 + n + payload);
    ns_nprint_put(row, NS_NPF_TCP_SPRT, back ? port : 50000), ns_nprint_put(row, NS_NPF_TCP_DPRT, back ? 50000 : port);
    ns_nprint_put(row, NS_NPF_TCP_SEQ, seq), ns_nprint_put(row, NS_NPF_TCP_ACKN, 0);
    ns_nprint_put(row, NS_NPF_TCP_DOFF, (uint64_t)(5 + n / 4));
    ns_nprint_put(row, NS_NPF_TCP_RES, 0), ns_nprint_bits_put(row, NS_NP_COL_TCP_NS, 9, (uint64_t)flags);   /* NS and the flag byte */
    ns_nprint_put(row, NS_NPF_TCP_WSIZE, 64240);
    ns_nprint_bits_put(row, NS_NP_COL_TCP_CKSUM, 32, 0);
    for (int i = 0; i < n; i++) ns_nprint_bits_put(row, NS_NP_COL_TCP_OPT + 8 * i, 8, opts[i]);
}

static void udp_row(int8_t *row, int payload, int back, uint16_t port)
{
    ip_row(row, 17, 28 + payload);
    ns_nprint_put(row, NS_NPF_UDP_SPORT, back ? port : 40000);
    ns_nprint_put(row, NS_NPF_UDP_DPORT, back ? 40000 : port);
    ns_nprint_put(row, NS_NPF_UDP_LEN, (uint64_t)(8 + payload)), ns_nprint_put(row, NS_NPF_UDP_CKSUM, 0);
}

/* Crafted flows, each a kind of inconsistency, and random ternary ones. */
static void make_flows(flows *f, size_t n_random, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    /* A TCP connection on an unassigned port: handshake, data both ways, FIN both ways. */
    new_flow(f);
    tcp_row(add_row(f, 0, 0), 0, 0, 7, 1000, SYN);
    tcp_row(add_row(f, 1, 20000), 0, 1, 7, 5000, SYN | ACK);
    tcp_row(add_row(f, 0, 100), 0, 0, 7, 0, ACK);
    tcp_row(add_row(f, 0, 100), 300, 0, 7, 0, ACK | PSH);
    tcp_row(add_row(f, 1, 30000), 1200, 1, 7, 0, ACK | PSH);
    tcp_row(add_row(f, 0, 100), 0, 0, 7, 0, ACK | FIN);
    tcp_row(add_row(f, 1, 100), 0, 1, 7, 0, ACK | FIN);
    tcp_row(add_row(f, 0, 100), 0, 0, 7, 0, ACK);
    /* Garbage numbers, the SYN-ACK from the wrong side, a SYN+FIN, a reset, rows after it. */
    new_flow(f);
    tcp_row(add_row(f, 1, 0), 0, 1, 9, 77, SYN | ACK);
    tcp_row(add_row(f, 1, 100), 0, 1, 9, 1, SYN | ACK);
    tcp_row(add_row(f, 1, 100), 50, 1, 9, 1, SYN | FIN | PSH);
    tcp_row(add_row(f, 0, 100), 0, 0, 9, 1, RST | ACK);
    tcp_row(add_row(f, 0, 100), 10, 0, 9, 1, ACK);
    /* UDP with lengths that disagree, and a row without IP. */
    new_flow(f);
    udp_row(add_row(f, 0, 0), 20, 0, 9);
    int8_t *r = add_row(f, 1, 1000);
    udp_row(r, 30, 1, 9);
    ns_nprint_put(r, NS_NPF_UDP_LEN, 3);
    memset(add_row(f, 0, 1000), -1, W);
    /* ICMP: echo, and an unreachable without the packet it quotes. */
    new_flow(f);
    r = add_row(f, 0, 0);
    ip_row(r, 1, 28 + 56);
    ns_nprint_put(r, NS_NPF_ICMP_TYPE, 8), ns_nprint_put(r, NS_NPF_ICMP_CODE, 0), ns_nprint_put(r, NS_NPF_ICMP_CKSUM, 0);
    ns_nprint_put(r, NS_NPF_ICMP_ROH, 0x00070001);
    r = add_row(f, 1, 500);
    ip_row(r, 1, 28);
    ns_nprint_put(r, NS_NPF_ICMP_TYPE, 3), ns_nprint_put(r, NS_NPF_ICMP_CODE, 3), ns_nprint_put(r, NS_NPF_ICMP_CKSUM, 0);
    ns_nprint_put(r, NS_NPF_ICMP_ROH, 0);
    /* Well-known ports with payloads of every size, as a model of real traffic writes them. */
    static const uint16_t ports[] = {53, 67, 68, 80, 123, 137, 443, 1883, 1900, 5353, 5355, 5683, 8080, 8883, 554,
                                     5222, 8000, 8443, 49153, 9999, 23, 21, 25, 69, 22, 23272};
    static const int sizes[] = {0, 1, 5, 13, 48, 100, 265, 300, 1400};
    for (size_t p = 0; p < sizeof ports / sizeof ports[0]; p++) {
        new_flow(f);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            udp_row(add_row(f, (int)k & 1, 1000), sizes[k], (int)k & 1, ports[p]);
        new_flow(f);
        tcp_row(add_row(f, 0, 0), 0, 0, ports[p], 1000, SYN);
        tcp_row(add_row(f, 1, 1000), 0, 1, ports[p], 5000, SYN | ACK);
        tcp_row(add_row(f, 0, 1000), 0, 0, ports[p], 0, ACK);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            tcp_row(add_row(f, (int)k & 1, 1000), sizes[k], (int)k & 1, ports[p], 0, ACK | PSH);
    }
    /* Random ternary matrices. */
    ns_rng rng;
    ns_rng_seed(&rng, seed, 0);
    for (size_t k = 0; k < n_random; k++) {
        new_flow(f);
        size_t n = 1 + ns_rng_below(&rng, 20);
        for (size_t i = 0; i < n; i++) {
            r = add_row(f, (int)ns_rng_below(&rng, 2), (int64_t)ns_rng_below(&rng, 50000000));
            for (int c = 0; c < W; c++) r[c] = (int8_t)((int)ns_rng_below(&rng, 3) - 1);
        }
    }
}

static void free_flows(flows *f) { ns_gen_flows_free(&f->g); }

/* ----------------------------------------------------------------- tshark */

/* What tshark's expert and conversation statistics say about a capture. */
typedef struct verdict {
    long errors, warnings, malformed, bad_checksums, frames;
    long header_errors;     /* errors of Ethernet, IPv4, TCP, UDP, ICMP: ours */
    long tcp_convs, udp_convs;
    char text[16384];       /* the expert table, for messages */
} verdict;

/* The number in "Errors (12)" style headings; 0 when the heading is absent. */
static long heading_count(const char *text, const char *heading)
{
    const char *s = strstr(text, heading);
    return s ? strtol(s + strlen(heading), NULL, 10) : 0;
}

/* Lines of a conversation table, from its title to the closing "====" line. */
static long conversations(const char *text, const char *title)
{
    const char *s = strstr(text, title);
    if (!s) return -1;
    long n = 0;
    const char *end = strstr(s, "\n====");
    for (const char *l = s; (l = strstr(l, "<->")) && (!end || l < end); l += 3) n++;
    return n;
}

static void tshark(const char *path, verdict *v)
{
    memset(v, 0, sizeof *v);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "tshark -n -r '%s' -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE "
             "-z expert -q 2>&1", path);
    char *out = tu_output(NULL, "%s", cmd);
    snprintf(v->text, sizeof v->text, "%s", out);
    v->errors = heading_count(out, "Errors (");
    v->warnings = heading_count(out, "Warns (");
    int errors_section = 0;
    for (const char *l = out; *l;) {
        const char *eol = strchr(l, '\n');
        size_t len = eol ? (size_t)(eol - l) : strlen(l);
        char line[512], group[64], proto[64];
        snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), l);
        if (strchr("EWNC", line[0]) && strstr(line, " (")) errors_section = !strncmp(line, "Errors (", 8);
        long freq;
        if (sscanf(line, " %ld %63s %63s", &freq, group, proto) == 3) {
            if (!strcmp(group, "Malformed") && errors_section) v->malformed += freq;
            if (!strcmp(group, "Checksum")) v->bad_checksums += freq;
            static const char *const ours[] = {"Ethernet", "IPv4", "TCP", "UDP", "ICMP"};
            for (size_t i = 0; errors_section && i < sizeof ours / sizeof ours[0]; i++)
                if (!strcmp(proto, ours[i])) v->header_errors += freq;
        }
        l += len + (eol != NULL);
    }
    free(out);
    snprintf(cmd, sizeof cmd, "tshark -n -r '%s' -q -z conv,tcp -z conv,udp -z io,stat,0 2>&1", path);
    out = tu_output(NULL, "%s", cmd);
    v->tcp_convs = conversations(out, "TCP Conversations");
    v->udp_convs = conversations(out, "UDP Conversations");
    const char *frames = strstr(out, "| Frames");
    const char *span = frames ? strstr(frames, "<>") : NULL;    /* "|  0.0 <> 12.3 |   1234 | ..." */
    const char *bar = span ? strchr(span, '|') : NULL;
    if (bar) v->frames = strtol(bar + 1, NULL, 10);
    free(out);
}

/* Flows per transport as repair decides them: the packets written, read back. */
static void count_flows(const char *path, long *tcp, long *udp, long *packets)
{
    ns_capture *c;
    ns_frame fr;
    assert_int_equal(ns_capture_open(&c, path, NULL), NS_OK);
    enum { MAXF = 4096 };
    /* Flows by their 5-tuple (client first: its address is in 10/8, or it
     * sends from 0.0.0.0 or to a group): the trace plan shares hosts
     * between flows, only the tuple is the flow's own. A tuple seen again
     * after the flow idle timeout is another flow, as `netsynth dataset`
     * reads it: the plan lets flows to a group share one so (tmodel.h). */
    static struct { uint32_t client, server; uint16_t cport, sport; uint8_t proto; int64_t last; } seen[MAXF];
    size_t n = 0;
    *tcp = *udp = *packets = 0;
    while (ns_capture_next(c, &fr) == 1) {
        ns_packet p;
        ns_skip_reason why = ns_packet_parse(&p, ns_capture_linktype(c), fr.data, fr.caplen);
        (*packets)++;
        assert_true(why == NS_SKIP_NONE || why == NS_SKIP_NON_IP || why == NS_SKIP_OTHER_L4);
        if (why != NS_SKIP_NONE || p.l4_proto == 2) continue; /* the link's ARP and IGMP (repair_link.c): no flow */
        uint32_t src = 0, dst = 0;   /* IPv6: the plan's host, its last 32 bits */
        assert_true(ns_get_be32(p.ip, p.ip_version == 6 ? 20 : 12, &src) &&
                    ns_get_be32(p.ip, p.ip_version == 6 ? 36 : 16, &dst));
        uint16_t sp = 0, dp = 0;
        if (p.l4_proto != 1) assert_true(ns_get_be16(p.l4, 0, &sp) && ns_get_be16(p.l4, 2, &dp));
        /* the client net's gateway (10.0.0.254: ns_repair_gateway) answers DNS and DHCP as their server */
        int gw = src == 0x0A0000FEu && p.l4_proto == 17 && (sp == 53 || sp == 67);
        int up = (src >> 24 == 10 && !gw) || !src || dst >> 28 == 14 || dst == 0xffffffffu;
        uint32_t client = up ? src : dst, server = up ? dst : src;
        uint16_t cport = up ? sp : dp, sport = up ? dp : sp;
        size_t k = 0;
        while (k < n && !(seen[k].client == client && seen[k].server == server && seen[k].cport == cport &&
                          seen[k].sport == sport && seen[k].proto == p.l4_proto))
            k++;
        if (k == n || fr.ts_ns - seen[k].last > NS_FLOW_DEFAULT_IDLE_NS) {
            if (k == n) assert_true(n < MAXF), n++;
            seen[k].client = client, seen[k].server = server, seen[k].cport = cport, seen[k].sport = sport;
            seen[k].proto = p.l4_proto;
            *tcp += p.l4_proto == 6, *udp += p.l4_proto == 17;
        }
        seen[k].last = fr.ts_ns;
    }
    ns_capture_close(c);
}

/* headers_only: random payload bytes may be malformed for an application's
 * dissector (RTCP's heuristics take any UDP); the headers still may not. */
static void assert_clean(const char *path, const verdict *v, int headers_only)
{
    int bad = v->header_errors || v->bad_checksums || (!headers_only && (v->errors || v->malformed));
    if (bad) print_message("%s: tshark says\n%s\n", path, v->text);
    assert_int_equal(v->header_errors, 0);
    assert_int_equal(v->bad_checksums, 0);
    if (headers_only) return;
    assert_int_equal(v->malformed, 0);
    assert_int_equal(v->errors, 0);
}

/* ------------------------------------------------------------------ tests */

/* TCP segments of a capture and those tshark's sequence analysis flags
 * (tcp.analysis.flags: duplicate ACKs, window updates, retransmissions,
 * lost segments ...), with what it says of the first few into `text`. */
static void sequence_analysis(const char *path, long *tcp, long *flagged, char *text, size_t size)
{
    char cmd[1024];
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "tshark -n -r '%s' -Y '%s' 2>/dev/null | wc -l", path, k ? "tcp.analysis.flags" : "tcp");
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        long v = -1;
        assert_int_equal(fscanf(p, "%ld", &v), 1);
        pclose(p);
        *(k ? flagged : tcp) = v;
    }
    snprintf(cmd, sizeof cmd, "tshark -n -r '%s' -Y tcp.analysis.flags 2>/dev/null | head -20", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(text, 1, size - 1, p);
    text[n] = 0;
    pclose(p);
}

static void test_tshark_finds_nothing_wrong(void **state)
{
    (void)state;
    TU_REQUIRE_PROGRAM("tshark");
    const char *dir = tu_tmpdir();
    flows f;
    make_flows(&f, 400, 9);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    /* Variant 3: a trace plan that sends mDNS, SSDP and DHCP flows to their groups, DHCP's first from 0.0.0.0
     * (tmodel.h, "Groups"). */
    ns_repair_plan *plan = calloc(f.g.n_flows, sizeof *plan);
    assert_non_null(plan);
    size_t groups = 0;
    for (size_t k = 0; k < f.g.n_flows; k++) {
        uint8_t proto;
        uint16_t sport;
        assert_int_equal(ns_repair_flow_service(f.g.rows + f.g.first[k] * W, f.g.dir + f.g.first[k], f.g.len[k], &proto,
                                                &sport), NS_OK);
        plan[k].start_ns = o.start_ns + (int64_t)k * 10000000, plan[k].client = plan[k].server = (uint32_t)k;
        plan[k].client_port = (uint16_t)(40000 + k);
        static const uint32_t addr[3] = {0xE00000FBu, 0xEFFFFFFAu, 0xFFFFFFFFu};
        int which = sport == 5353 ? 0 : sport == 1900 ? 1 : sport == 67 ? 2 : k % 2 ? -1 : (int)(k / 2 % 3);
        if (proto != NS_PROTO_UDP || which < 0) continue; /* and half the other UDP flows, whatever their service */
        plan[k].group = addr[which], plan[k].client_zero = which == 2 && groups % 2;
        groups++;
    }
    assert_true(groups > 10);
    for (int variant = 0; variant < 4; variant++) {
        o.payload = variant == 1 ? NS_REPAIR_PAYLOAD_RANDOM : NS_REPAIR_PAYLOAD_ZEROS;
        o.linktype = variant == 2 ? NS_LINKTYPE_RAW : NS_LINKTYPE_ETHERNET;
        o.plan = variant == 3 ? plan : NULL, o.n_plan = variant == 3 ? f.g.n_flows : 0;
        const char *path = tu_path(dir, variant == 0   ? "zeros.pcap"
                                        : variant == 1 ? "random.pcap"
                                        : variant == 2 ? "raw.pcap"
                                                       : "groups.pcap");
        uint64_t written;
        ns_repair_stats st = {0};
        assert_int_equal(ns_gen_write_pcap(&f.g, 0, f.g.n_flows, &o, 0, path, &written, &st), NS_OK);
        if (getenv("NETSYNTH_TEST_KEEP")) tu_system("cp '%s' '%s'", path, getenv("NETSYNTH_TEST_KEEP"));
        verdict v;
        tshark(path, &v);
        long tcp, udp, packets;
        count_flows(path, &tcp, &udp, &packets);
        print_message("%s: %llu packets of %zu flows; tshark: %ld frames, %ld errors, %ld warnings, %ld malformed, "
                      "%ld bad checksums, %ld header errors, %ld TCP and %ld UDP conversations (%ld and %ld written)\n",
                      path, (unsigned long long)written, f.g.n_flows, v.frames, v.errors, v.warnings, v.malformed,
                      v.bad_checksums, v.header_errors, v.tcp_convs, v.udp_convs, tcp, udp);
        if (getenv("NETSYNTH_TEST_VERBOSE")) print_message("%s\n", v.text);
        assert_clean(path, &v, o.payload == NS_REPAIR_PAYLOAD_RANDOM);
        assert_int_equal(v.frames, (long)written);
        assert_int_equal(v.tcp_convs, tcp);
        assert_int_equal(v.udp_convs, udp);
        assert_true(tcp > 100 && udp > 100);
        if (variant == 3) assert_int_equal(v.header_errors, 0);
        if (variant) continue;
        /* Session 6: 27-38% of generated TCP segments were flagged (duplicate
         * ACKs and window updates, mostly), against 0.1-3.3% of real ones. */
        long segments, flagged;
        char seen[4096];
        sequence_analysis(path, &segments, &flagged, seen, sizeof seen);
        print_message("%s: %ld TCP segments, %ld flagged by sequence analysis\n", path, segments, flagged);
        if (flagged * 200 > segments) print_message("%s", seen);
        assert_true(segments > 1000 && flagged * 200 <= segments);   /* at most 0.5% */
    }
    free(plan);
    free_flows(&f);
}

/* ------------------------------------------------------------ the CLI */

/* A tiny model of TCP (kind=web, port 443) and UDP (kind=dns, port 53) flows; returns its path. */
static const char *tiny_model(const char *dir)
{
    enum { FLOWS = 16, LEN = 4 };
    static const char *attr_names[] = {"kind"};
    static const uint32_t attr_first[] = {0, 2};
    static const char *tokens[] = {"kind=dns", "kind=web"};
    static const char *files[] = {"made-in-test"};
    static ns_ds_flow fl[FLOWS];
    static int32_t labels[FLOWS];
    static int64_t iat[FLOWS * LEN];
    static uint8_t dirs[FLOWS * LEN], bits[FLOWS * LEN * ((W + 3) / 4)];
    int8_t row[W];
    for (int i = 0; i < FLOWS; i++) {
        int web = i % 2;
        fl[i].first = (uint64_t)i * LEN;
        fl[i].n_packets = fl[i].seen = LEN;
        fl[i].proto = web ? 6 : 17;
        labels[i] = web;
        for (int k = 0; k < LEN; k++) {
            int back = k % 2;
            if (web) tcp_row(row, k == 3 ? 200 : 0, back, 443, (uint32_t)(1000 * i), k == 0 ? SYN : k == 1 ? SYN | ACK : ACK);
            else udp_row(row, 30 + 10 * k, back, 53);
            ns_nprint_put(row, NS_NPF_IPV4_ID, (uint64_t)(i * 7 + k));
            ns_dataset_pack_row(row, W, bits + (size_t)(i * LEN + k) * ((W + 3) / 4));
            iat[i * LEN + k] = k ? 2000000 : 0;
            dirs[i * LEN + k] = (uint8_t)back;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = 8, .n_flows = FLOWS,
                     .n_packets = FLOWS * LEN, .n_attrs = 1, .n_tokens = 2, .n_files = 1,
                     .attr_names = attr_names, .attr_first = attr_first, .tokens = tokens, .files = files,
                     .flows = fl, .labels = labels, .iat_ns = iat, .dir = dirs, .bits = bits};
    return tu_train_tiny(&ds, dir, 60);
}

/* `netsynth generate ARGS` with its standard error in `err`; the exit status. */
static int generate(const char *err, const char *model, const char *args)
{
    return tu_system("'%s' generate --model '%s' --threads 1 --steps 6 %s 2>'%s'", tu_netsynth_bin(), model, args, err);
}

static char *slurp(const char *path)
{
    uint8_t *text = NULL;
    size_t len;
    assert_int_equal(ns_read_file(path, &text, &len), NS_OK);
    return (char *)text;
}

static void test_generate_writes_compliant_captures(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char model[4096], err[4096], out[4096], report[4096], args[16384];
    snprintf(model, sizeof model, "%s", tiny_model(dir));
    snprintf(err, sizeof err, "%s", tu_path(dir, "stderr.txt"));
    snprintf(out, sizeof out, "%s", tu_path(dir, "fixed.pcap"));
    snprintf(report, sizeof report, "%s", tu_path(dir, "repair.json"));

    /* Constraints hold; the summary and the report say what repair changed. */
    snprintf(args, sizeof args, "-n 40 --seed 2 --fix tcp_dprt=8443 --fix ipv4_ttl=64 -o '%s' --repair-report '%s'",
             out, report);
    assert_int_equal(generate(err, model, args), 0);
    char *text = slurp(err);
    assert_non_null(strstr(text, "repair changed"));
    free(text);
    text = slurp(report);
    assert_non_null(strstr(text, "\"field\": \"tcp_dprt\""));
    assert_non_null(strstr(text, "\"flows\": 40"));
    free(text);
    long tcp, udp, packets;
    count_flows(out, &tcp, &udp, &packets);
    assert_int_equal(tcp, 40);
    if (tu_have_program("tshark")) {
        verdict v;
        tshark(out, &v);
        print_message("generate --fix: %ld packets, tshark: %ld errors, %ld warnings, %ld TCP conversations\n",
                      packets, v.errors, v.warnings, v.tcp_convs);
        assert_clean(out, &v, 0);
        assert_int_equal(v.tcp_convs, 40);
        assert_int_equal(v.frames, packets);
    }

    /* Raw IP, random payload, another plan and start. */
    snprintf(out, sizeof out, "%s", tu_path(dir, "raw.pcap"));
    snprintf(args, sizeof args, "--prompt kind=dns -n 20 -o '%s' --link raw --payload random --client-net 192.0.2.0/24 "
             "--server-net 203.0.113.0/24 --start 1600000000.5 -q", out);
    assert_int_equal(generate(err, model, args), 0);
    ns_capture *c;
    ns_frame fr;
    assert_int_equal(ns_capture_open(&c, out, NULL), NS_OK);
    assert_int_equal(ns_capture_linktype(c), 12 /* DLT_RAW */);
    assert_int_equal(ns_capture_next(c, &fr), 1);
    assert_true(fr.ts_ns == 1600000000500000000LL);
    ns_capture_close(c);
    if (tu_have_program("tshark")) {
        verdict v;
        tshark(out, &v);
        assert_clean(out, &v, 1);
    }

    /* A directory, one file per flow. */
    snprintf(out, sizeof out, "%s", tu_path(dir, "classes"));
    snprintf(args, sizeof args, "--per-class 3 --per-flow -o '%s' -q", out);
    assert_int_equal(generate(err, model, args), 0);
    char path[8192];
    snprintf(path, sizeof path, "%s/labels.tsv", out);
    text = slurp(path);
    assert_non_null(strstr(text, "dns-2.pcap\tdns\n"));
    assert_non_null(strstr(text, "web-0.pcap\tweb\n"));
    free(text);
    snprintf(path, sizeof path, "%s/web-2.pcap", out);
    assert_int_equal(access(path, R_OK), 0);

    /* Contradictions and misuse are errors that say why. */
    snprintf(args, sizeof args, "-n 2 -o '%s' --fix tcp_dprt=443 --fix proto=udp", tu_path(dir, "x.pcap"));
    assert_int_not_equal(generate(err, model, args), 0);
    text = slurp(err);
    assert_non_null(strstr(text, "contradicts"));
    free(text);
    snprintf(args, sizeof args, "-n 2 -o '%s' --repair-report '%s'", tu_path(dir, "x.csv"), report);
    assert_int_not_equal(generate(err, model, args), 0);
    snprintf(args, sizeof args, "-n 2 -o '%s' --client-net 10.0.0.0/8 --server-net 10.1.0.0/16", tu_path(dir, "x.pcap"));
    assert_int_not_equal(generate(err, model, args), 0);
    text = slurp(err);
    assert_non_null(strstr(text, "overlap"));
    free(text);
}

/* Every frame of `got` equals the frame of `sent` at the same place; returns how many. */
static long same_frames(const char *sent, const char *got)
{
    ns_capture *a, *b;
    ns_frame fa, fb;
    assert_int_equal(ns_capture_open(&a, sent, NULL), NS_OK);
    assert_int_equal(ns_capture_open(&b, got, NULL), NS_OK);
    long n = 0;
    int ra, rb;
    while ((ra = ns_capture_next(a, &fa)) == 1) {
        uint8_t copy[ETH_FRAME_MAX];
        assert_true(fa.caplen <= sizeof copy);
        memcpy(copy, fa.data, fa.caplen);
        uint32_t len = fa.caplen;
        rb = ns_capture_next(b, &fb);
        if (rb != 1) break;
        assert_int_equal(fb.caplen, len);
        assert_memory_equal(fb.data, copy, len);
        n++;
    }
    ns_capture_close(a);
    ns_capture_close(b);
    return n;
}

static void test_replay_over_veth(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIP %s: needs root (network namespaces)\n", __func__);
        skip();
    }
    TU_REQUIRE_PROGRAM("ip");
    TU_REQUIRE_PROGRAM("tcpreplay");
    TU_REQUIRE_PROGRAM("tcpdump");
    const char *dir = tu_tmpdir();
    flows f;
    make_flows(&f, 60, 11);
    ns_repair_opts o;
    ns_repair_opts_init(&o);
    char sent[4096], got[4096], log[4096];
    snprintf(sent, sizeof sent, "%s", tu_path(dir, "sent.pcap"));
    snprintf(got, sizeof got, "%s", tu_path(dir, "got.pcap"));
    snprintf(log, sizeof log, "%s", tu_path(dir, "replay.log"));
    uint64_t written;
    assert_int_equal(ns_gen_write_pcap(&f.g, 0, f.g.n_flows, &o, 0, sent, &written, NULL), NS_OK);
    free_flows(&f);
    /* Two namespaces joined by a veth pair; tcpdump on the far end, tcpreplay on the near one. It
     * keeps the flows' packets, not the kernel's own: the documentation net's, and neighbour
     * discovery's (link-local and group addresses, as the kernel's) by repair's MACs, 02:00. */
    int id = (int)getpid() % 100000;
    if (tu_system("ip netns add nsa%d 2>/dev/null && ip netns add nsb%d", id, id) != 0) {
        tu_system("ip netns del nsa%d 2>/dev/null", id);
        print_message("SKIP %s: cannot create network namespaces here\n", __func__);
        skip();
    }
    int rc = tu_system(
        "set -e; exec >'%s' 2>&1; ip link add va%d type veth peer name vb%d; ip link set va%d netns nsa%d; "
        "ip link set vb%d netns nsb%d; ip -n nsa%d link set va%d up; ip -n nsb%d link set vb%d up; "
        "for i in $(seq 50); do ip -n nsa%d link show va%d | grep -q 'state UP' && "
        "ip -n nsb%d link show vb%d | grep -q 'state UP' && break; sleep 0.1; done; "
        "ip netns exec nsb%d tcpdump -i vb%d -n -U --immediate-mode -B 8192 -w '%s' 'ip or ip6 net 2001:db8::/32 or (ip6 and ether[6:2] = 0x0200)' & td=$!; "
        "for i in $(seq 50); do grep -q listening '%s' && break; sleep 0.1; done; sleep 0.3; "
        "ip netns exec nsa%d tcpreplay -i va%d --pps=4000 '%s'; sleep 1; kill -INT $td; wait $td",
        log, id, id, id, id, id, id, id, id, id, id, id, id, id, id, id, id, got, log, id, id, sent);
    tu_system("ip netns del nsa%d; ip netns del nsb%d", id, id);
    uint8_t *text;
    size_t len;
    if (rc != 0 && ns_read_file(log, &text, &len) == NS_OK) print_message("replay failed:\n%s\n", text), free(text);
    assert_int_equal(rc, 0);
    long tcp, udp, received;
    count_flows(got, &tcp, &udp, &received);
    if (received != (long)written) print_message("sent %llu packets, received %ld\n", (unsigned long long)written, received);
    assert_int_equal(received, (long)written);
    long n = same_frames(sent, got);
    print_message("tcpreplay sent %llu packets over a veth pair; tcpdump received %ld, byte for byte\n",
                  (unsigned long long)written, n);
    assert_int_equal(n, (long)written);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tshark_finds_nothing_wrong),
        cmocka_unit_test(test_replay_over_veth),
        cmocka_unit_test(test_generate_writes_compliant_captures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
