/* cmd_encode.c: `netsynth encode`, pcap/pcapng -> nPrint CSV with nPrint
 * 1.2.1's flags and byte-identical output. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"

static void usage(FILE *out)
{
    fputs("usage: netsynth encode -P capture [-e] [-4] [-6] [-t] [-u] [-i] [-p bytes] [-R] [-A]\n"
          "                       [-F fill] [-O 0..4] [-c count] [-f filter] [-W out.csv]\n"
          "                       [-j threads]\n"
          "\n"
          "Writes one nPrint row per IP packet, the same bytes nPrint 1.2.1 writes\n"
          "for the same flags. Packets nPrint would not print are skipped and counted\n"
          "(a summary goes to stderr).\n"
          "\n"
          "  -P FILE     capture to read (pcap or pcapng; - for stdin)\n"
          "  -e -4 -6 -t -u -i\n"
          "              headers to include: Ethernet, IPv4, IPv6, TCP, UDP, ICMP\n"
          "              (columns always come in that order)\n"
          "  -p N        the first N bytes of the transport payload as 8N columns\n"
          "              payload_bit_<i> after the headers; bits past the payload's\n"
          "              end (or past what the capture kept) take the fill value\n"
          "              (N up to 65535)\n"
          "  -R          add rts: microseconds since the previous row\n"
          "  -A          add tv_sec,tv_usec: the packet's capture time, after the\n"
          "              index (and rts)\n"
          "  -F FILL     value for bits a packet does not have (default -1)\n"
          "  -O N        first column: 0 source IP (default), 1 destination IP,\n"
          "              2 source port, 3 destination port, 4 flow (5-tuple)\n"
          "  -c COUNT    read only the first COUNT packets of the capture\n"
          "  -f FILTER   BPF filter, tcpdump syntax\n"
          "  -W FILE     output (default stdout); written atomically\n"
          "  -j N        threads formatting rows (default: all cores)\n"
          "  --help      this text\n",
          out);
}

int cmd_encode(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *in = NULL, *out = "-", *filter = NULL;
    ns_nprint_opts o = {.layers = 0, .fill = -1, .index = NS_NP_INDEX_SRC_IP, .rts = 0, .threads = 0};
    long count = 0, v;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "P:W:f:c:F:O:j:p:e46tuiRAh", longopts, NULL)) != -1) {
        switch (c) {
        case 'P': in = optarg; break;
        case 'W': out = optarg; break;
        case 'f': filter = optarg; break;
        case 'c':
            if ((rc = cli_parse_long("-c", optarg, 0, (1L << 62), &count))) return rc;
            break;
        case 'F':
            if ((rc = cli_parse_long("-F", optarg, -128, 127, &v))) return rc;
            o.fill = (int)v;
            break;
        case 'O':
            if ((rc = cli_parse_long("-O", optarg, 0, 4, &v))) return rc;
            o.index = (ns_nprint_index)v;
            break;
        case 'j':
            if ((rc = cli_parse_long("-j", optarg, 1, 1024, &v))) return rc;
            o.threads = (int)v;
            break;
        case 'e': o.layers |= NS_NP_ETH; break;
        case '4': o.layers |= NS_NP_IPV4; break;
        case '6': o.layers |= NS_NP_IPV6; break;
        case 't': o.layers |= NS_NP_TCP; break;
        case 'u': o.layers |= NS_NP_UDP; break;
        case 'i': o.layers |= NS_NP_ICMP; break;
        case 'R': o.rts = 1; break;
        case 'A': o.abs_time = 1; break;
        case 'p':
            if ((rc = cli_parse_long("-p", optarg, 0, NS_NP_MAX_PAYLOAD, &v))) return rc;
            o.payload = (int)v;
            break;
        case 'h': usage(stdout); return NS_OK;
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (netsynth encode --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!in) return ns_error(NS_EARG, "no capture given (-P FILE)");

    ns_capture *cap;
    if ((rc = ns_capture_open(&cap, in, filter))) return rc;
    ns_outfile of;
    if ((rc = ns_outfile_open(&of, out))) {
        ns_capture_close(cap);
        return rc;
    }
    /* Big writes: rows arrive in batches of megabytes. */
    setvbuf(of.fp, NULL, _IOFBF, 1 << 20);
    ns_nprint_writer *w = NULL;
    rc = ns_nprint_writer_open(&w, of.fp, out, &o);
    int dlt = ns_capture_linktype(cap);
    ns_frame f;
    /* -c counts every packet read, printed or not, as nPrint does. */
    for (long n = 0; rc == NS_OK && (count == 0 || n < count); n++) {
        int got = ns_capture_next(cap, &f);
        if (got <= 0) {
            rc = got;
            break;
        }
        rc = ns_nprint_writer_frame(w, dlt, &f);
    }
    ns_skips skips;
    if (rc == NS_OK) rc = ns_nprint_writer_finish(w, NULL, &skips);
    ns_capture_cut cut;
    ns_capture_cut_info(cap, &cut);
    ns_nprint_writer_free(w);
    ns_capture_close(cap);
    if (rc) {
        ns_outfile_abort(&of);
        return rc;
    }
    if ((rc = ns_outfile_commit(&of))) return rc;
    char summary[512];
    if (ns_skips_format(&skips, summary, sizeof summary) > 0) cli_warn("%s", summary);
    if (cut.records) {
        char msg[1024];
        ns_capture_cut_format(in, &cut, msg, sizeof msg);
        cli_warn("warning: %s", msg);
    }
    return NS_OK;
}
