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
          "\n"
          "Rows that are not packets (no IP header, lengths that do not add up) are\n"
          "skipped and reported.\n",
          out);
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
        {"help", no_argument, NULL, 'h'},
        {"start", required_argument, NULL, 's'},
        {"interval", required_argument, NULL, 'n'},
        {"recompute-checksums", no_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    const char *in = NULL, *out = NULL;
    int64_t start = DEFAULT_START_NS;
    long interval_us = 1000;
    int c, rc, recompute = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "i:o:h", longopts, NULL)) != -1) {
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
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (netsynth decode --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!in || !out) return ns_error(NS_EARG, "both -i in.csv and -o out.pcap are needed");

    ns_nprint_csv csv;
    if ((rc = ns_nprint_csv_read(in, &csv))) return rc;
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
    if ((rc = ns_outfile_commit(&of))) return rc;
    if (skipped)
        cli_warn("skipped %zu of %zu rows that are not packets (first: %s line %zu: %s)", skipped, rows, in,
                 first_bad_line, first_bad);
    return NS_OK;
}
