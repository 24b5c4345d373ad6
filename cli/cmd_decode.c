/* cmd_decode.c: `netsynth decode`, nPrint CSV -> pcap with real lengths,
 * timestamps and checksums. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/repair.h"

/* 2020-01-01T00:00:00Z: a fixed start keeps the output reproducible. */
#define DEFAULT_START_NS INT64_C(1577836800000000000)

static void usage(FILE *out)
{
    fputs("usage: netsynth decode -i in.csv -o out.pcap [--start SECONDS] [--interval USEC]\n"
          "                       [--recompute-checksums]\n"
          "\n"
          "Turns nPrint CSV (from netsynth encode or nPrint itself) back into packets:\n"
          "headers from the bits; the transport payload from the payload_bit columns\n"
          "(-p) where the row has them, as far as their bits are present (not -1)\n"
          "and the IP length reaches, the rest zero-filled up to the IP length.\n"
          "A row whose bits hold the whole packet (headers and every payload byte)\n"
          "comes back as it was captured, checksums as they were, right or wrong;\n"
          "any other row has every checksum recomputed (not the TCP/UDP one of a\n"
          "fragment). With -F 0, payload fill reads as zero bytes.\n"
          "\n"
          "Link type: Ethernet when the CSV has eth columns (MACs and ethertype from\n"
          "the bits; a row without them gets 02:00:00:00:00:01 -> 02:00:00:00:00:02),\n"
          "otherwise raw IP (LINKTYPE_RAW), which carries IPv4 and IPv6.\n"
          "\n"
          "Timestamps: tv_sec,tv_usec columns when present; else with rts, the start\n"
          "plus the running sum of rts; else the start plus one interval per row.\n"
          "\n"
          "  -i FILE           nPrint CSV to read (- for stdin)\n"
          "  -o FILE           pcap to write (atomically)\n"
          "  --start SECONDS   time of the first packet, e.g. 1466332731.099077\n"
          "                    (default 1577836800, 2020-01-01T00:00:00Z)\n"
          "  --interval USEC   spacing of rows when there is no time column (default 1000)\n"
          "  --recompute-checksums\n"
          "                    recompute every checksum, also of rows that hold the\n"
          "                    whole packet (a capture of checksum offload then\n"
          "                    comes back with valid ones)\n"
          "  --help            this text\n"
          "  -V, --version     print the version\n"
          "  -q, --quiet       no note of skipped rows\n"
          "  --client-net NET  addresses of blank rows' clients (default 10.0.0.0/24)\n"
          "  --server-net NET  and servers (default 198.51.100.0/24)\n"
          "  --ipv6-prefix P/L the net of blank IPv6 rows (default 2001:db8::/32)\n"
          "\n"
          "Rows whose IP addresses are blank (-1, as datasets, generate's CSV and\n"
          "rendered images have them) get addresses as generate gives them: the rows\n"
          "of one index value are a flow, its first row the client's; flow k (in order\n"
          "of appearance) has host k of the client net and host k / hosts of the\n"
          "server net (IPv6 rows: those hosts' addresses as the last 32 bits of\n"
          "--ipv6-prefix). Rows that are not packets (no IP header, lengths that do not\n"
          "add up) are skipped and reported; a CSV of no packet at all is an error.\n",
          out);
}

/* A flow of the CSV: rows sharing an index value (generate's "flow" column,
 * unrender's source address). */
typedef struct flow_slot {
    size_t row1;        /* first row + 1; 0: an empty slot */
    uint64_t k;         /* flows in order of first appearance */
    uint64_t cport;     /* the first row's source port: that row is the client's */
} flow_slot;

static uint64_t bits_of(const int8_t *row, unsigned layers, ns_nprint_field_id f, int *present)
{
    size_t n;
    int col = ns_nprint_field_col(layers, f), w = ns_nprint_fields(&n)[f].width;
    *present = col >= 0 && ns_nprint_bits_present(row, col, w) == w;
    return *present ? ns_nprint_bits_get(row, col, w) : 0;
}

/* Whether the row is from the server: its source port is the client's
 * destination (the flow's first row is the client's, as generated flows
 * start), or it is an ICMP echo reply. */
static int from_server(const int8_t *row, unsigned layers, uint64_t proto, int v6, uint64_t cport, int first)
{
    int ok;
    if (proto == NS_PROTO_ICMP) return bits_of(row, layers, NS_NPF_ICMP_TYPE, &ok) == (v6 ? 129 : 0) && ok;
    ns_nprint_field_id sf = proto == NS_PROTO_TCP ? NS_NPF_TCP_SPRT : NS_NPF_UDP_SPORT;
    ns_nprint_field_id df = proto == NS_PROTO_TCP ? NS_NPF_TCP_DPRT : NS_NPF_UDP_DPORT;
    uint64_t sport = bits_of(row, layers, sf, &ok);
    if (first || !ok || sport == cport) return 0;
    return bits_of(row, layers, df, &ok) == cport && ok;
}

/* Rows whose IPv4 addresses are blank (-1: datasets, generate's CSV and
 * PNGs leave them so) get the addresses of the generate address plan
 * (repair.h), flow by index value, so that they decode to packets. */
static int fill_blank_addresses(ns_nprint_csv *csv, const ns_repair_opts *ro)
{
    int src = ns_nprint_field_col(csv->layers, NS_NPF_IPV4_SRC), dst = ns_nprint_field_col(csv->layers, NS_NPF_IPV4_DST);
    int src6 = ns_nprint_field_col(csv->layers, NS_NPF_IPV6_SRC), dst6 = ns_nprint_field_col(csv->layers, NS_NPF_IPV6_DST);
    if (((src < 0 || dst < 0) && (src6 < 0 || dst6 < 0)) || !csv->rows) return NS_OK;
    size_t cap = 16;
    while (cap < 2 * csv->rows) cap *= 2;
    flow_slot *t = calloc(cap, sizeof *t);
    if (!t) return ns_error(NS_ENOMEM, "out of memory");
    uint64_t flows = 0;
    for (size_t i = 0; i < csv->rows; i++) {
        int8_t *row = csv->bits + i * (size_t)csv->width;
        int v4, v6, ok;
        /* Only an IP header otherwise there (an IPv6 row has no IPv4 bits at all, and the other way round). */
        int is4 = src >= 0 && dst >= 0 && bits_of(row, csv->layers, NS_NPF_IPV4_VER, &v4) == 4 && v4 &&
                  !ns_nprint_bits_present(row, src, 32) && !ns_nprint_bits_present(row, dst, 32);
        int is6 = !is4 && src6 >= 0 && dst6 >= 0 && bits_of(row, csv->layers, NS_NPF_IPV6_VER, &v6) == 6 && v6 &&
                  !ns_nprint_bits_present(row, src6, 128) && !ns_nprint_bits_present(row, dst6, 128);
        if (!is4 && !is6) continue;
        uint64_t proto = bits_of(row, csv->layers, is6 ? NS_NPF_IPV6_NH : NS_NPF_IPV4_PROTO, &ok);
        if (is6 && proto == NS_PROTO_ICMPV6) proto = NS_PROTO_ICMP;
        const char *key = csv->index_text + csv->index_off[i];
        uint64_t h = 1469598103934665603ull;
        for (const char *p = key; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
        size_t j = (size_t)h & (cap - 1);
        while (t[j].row1 && strcmp(csv->index_text + csv->index_off[t[j].row1 - 1], key)) j = (j + 1) & (cap - 1);
        int first = !t[j].row1;
        if (first) {
            t[j].row1 = i + 1, t[j].k = flows++;
            t[j].cport = bits_of(row, csv->layers, proto == NS_PROTO_TCP ? NS_NPF_TCP_SPRT : NS_NPF_UDP_SPORT, &ok);
        }
        uint32_t client, server;
        ns_repair_flow_hosts(ro, t[j].k, &client, &server);
        int back = from_server(row, csv->layers, proto, is6, t[j].cport, first);
        if (is6) {
            uint8_t a[2][16];
            ns_repair_host6(ro, back ? server : client, a[0]);
            ns_repair_host6(ro, back ? client : server, a[1]);
            for (int e = 0; e < 2; e++)
                for (int b = 0; b < 16; b++) ns_nprint_bits_put(row, (e ? dst6 : src6) + 8 * b, 8, a[e][b]);
            continue;
        }
        ns_nprint_bits_put(row, src, 32, back ? server : client);
        ns_nprint_bits_put(row, dst, 32, back ? client : server);
    }
    free(t);
    return NS_OK;
}

/* "SECONDS[.FRACTION]" -> nanoseconds, exactly (no floating point). */
static int parse_start(const char *text, int64_t *ns)
{
    const char *p = text;
    int64_t sec = 0, frac = 0;
    int digits = 0, fd = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (sec > (INT64_MAX / 1000000000 - 10) / 10) goto bad;
        sec = sec * 10 + (*p - '0');
    }
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (fd < 9) {
                frac = frac * 10 + (*p - '0');
                fd++;
            }
    if (*p || !digits) goto bad;
    for (; fd < 9; fd++) frac *= 10;
    *ns = sec * 1000000000 + frac;
    return NS_OK;
bad:
    return ns_error(NS_EARG, "--start: expected seconds since 1970 such as 1466332731.099077, got '%s'", text);
}

int cmd_decode(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"client-net", required_argument, NULL, 'C'},
        {"server-net", required_argument, NULL, 'S'},
        {"ipv6-prefix", required_argument, NULL, '6'},
        {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"start", required_argument, NULL, 's'},
        {"interval", required_argument, NULL, 'n'},
        {"recompute-checksums", no_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *in = NULL, *out = NULL;
    int quiet = 0;
    ns_repair_opts ro;
    ns_repair_opts_init(&ro);
    int64_t start = DEFAULT_START_NS;
    long interval_us = 1000;
    int c, rc, recompute = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "i:o:hqV", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 's':
            if ((rc = parse_start(optarg, &start))) return rc;
            break;
        case 'n':
            if ((rc = cli_parse_long("--interval", optarg, 0, 1000000000L, &interval_us))) return rc;
            break;
        case 'k': recompute = 1; break;
        case 'h': usage(stdout); return NS_OK;
        case 'C':
            if ((rc = ns_repair_parse_net(optarg, "--client-net", &ro.client_net, &ro.client_prefix))) return rc;
            break;
        case 'S':
            if ((rc = ns_repair_parse_net(optarg, "--server-net", &ro.server_net, &ro.server_prefix))) return rc;
            break;
        case '6':
            if ((rc = ns_repair_parse_net6(optarg, "--ipv6-prefix", ro.net6, &ro.prefix6))) return rc;
            break;
        case 'q': quiet = 1; break;
        case 'V': return cli_version();
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (netsynth decode --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!in || !out) return ns_error(NS_EARG, "both -i in.csv and -o out.pcap are needed");

    if ((rc = ns_repair_check_opts(&ro))) return rc;
    ns_nprint_csv csv;
    if ((rc = ns_nprint_csv_read(in, &csv))) return rc;
    if ((rc = fill_blank_addresses(&csv, &ro))) {
        ns_nprint_csv_free(&csv);
        return rc;
    }
    int ethernet = (csv.layers & NS_NP_ETH) != 0;
    uint8_t *pkt = malloc(NS_NP_MAX_PACKET);
    ns_outfile of;
    if (!pkt) {
        ns_nprint_csv_free(&csv);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    if ((rc = ns_outfile_open(&of, out))) {
        free(pkt);
        ns_nprint_csv_free(&csv);
        return rc;
    }
    ns_pcap_writer pw;
    rc = ns_pcap_writer_begin(&pw, of.fp, ethernet ? NS_LINKTYPE_ETHERNET : NS_LINKTYPE_RAW, 0);

    size_t skipped = 0, first_bad_line = 0;
    char first_bad[256] = "";
    int64_t t = start;
    for (size_t i = 0; rc == NS_OK && i < csv.rows; i++) {
        /* Any int64 rts or tv_sec parses: the running time in nanoseconds
         * is computed without overflow and kept to what a pcap can hold. */
        int64_t step = csv.has_abs ? csv.abs_us[i] : csv.has_rts ? csv.rts[i] : i ? (int64_t)interval_us : 0;
        if (__builtin_mul_overflow(step, INT64_C(1000), &step) ||
            (csv.has_abs ? (t = step, 0) : __builtin_add_overflow(t, step, &t)) || t < 0 ||
            t / 1000000000 > (int64_t)UINT32_MAX) {
            rc = ns_error(NS_ERANGE, "%s: line %zu: %s puts the packet's time outside what a pcap holds (1970 to "
                          "2106)", in, i + 2, csv.has_abs ? "tv_sec,tv_usec" : csv.has_rts ? "the rts" : "--interval");
            break;
        }
        size_t len;
        const int8_t *pay = csv.payload ? csv.payload + i * 8 * (size_t)csv.payload_bytes : NULL;
        int r = ns_nprint_row_to_packet_ex(csv.bits + i * (size_t)csv.width, csv.layers, pay, csv.payload_bytes,
                                           ethernet, recompute, pkt, &len, NULL);
        if (r != NS_OK) {
            if (!skipped++) {
                first_bad_line = i + 2;
                snprintf(first_bad, sizeof first_bad, "%s", ns_errmsg());
            }
            continue;
        }
        rc = ns_pcap_write(&pw, t, pkt, (uint32_t)len, (uint32_t)len);
    }
    free(pkt);
    size_t rows = csv.rows;
    ns_nprint_csv_free(&csv);
    if (rc) {
        ns_outfile_abort(&of);
        return ns_error_wrap(rc, "%s", out);
    }
    /* An empty pcap looks like success to whatever reads it next. */
    if (skipped == rows) {
        ns_outfile_abort(&of);
        return ns_error(NS_EFORMAT, "%s: none of its %zu rows is a packet, nothing written (first: line %zu: %s)", in,
                        rows, first_bad_line, first_bad);
    }
    if ((rc = ns_outfile_commit(&of))) return rc;
    if (skipped && !quiet)
        cli_warn("skipped %zu of %zu rows that are not packets (first: %s line %zu: %s)", skipped, rows, in,
                 first_bad_line, first_bad);
    return NS_OK;
}
