/* cmd_dataset.c: `netsynth dataset`, labelled captures -> one training file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "cli.h"
#include "mpi.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/flow.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: netsynth dataset --labels TABLE [--label COLS] [--split NAME]\n"
            "                        [--flows TABLE --flow-label COLUMN [--full-service]]\n"
            "                        [--packets N] [--idle-timeout S] [--keep-addresses]\n"
            "                        [--payload N] [--allow-duplicate-captures] -o FILE\n"
            "\n"
            "Reads every capture a label table lists, cuts it into bidirectional\n"
            "IPv4 and IPv6 TCP/UDP/ICMP flows and writes them, labelled, as one binary\n"
            "training file (inspect it with `netsynth inspect FILE`). Captures are read\n"
            "in parallel; under mpirun or srun, shared by the processes (man netsynth, MPI).\n"
            "\n"
            "  --labels TABLE    tab-separated, with a header: a `path` column (relative to\n"
            "                    the table's folder), label columns, optionally `split`\n"
            "  --label COLS      comma-separated label columns, e.g. device,device_type;\n"
            "                    each becomes an attribute with tokens `COL=value`\n"
            "  --split NAME      only the rows whose `split` column is NAME\n"
            "  --flows TABLE     per-flow labels (flow-services.tsv): rows join a flow by\n"
            "                    their `pcap` column (same spelling as `path`), `l4proto`\n"
            "                    and the addresses and ports, in either direction\n"
            "  --flow-label COL  that table's column to use; it becomes attribute `service`\n"
            "                    (nDPI's MASTER.APP names keep MASTER: TLS.AmazonAWS -> TLS)\n"
            "  --full-service    keep the whole value instead (TLS.AmazonAWS)\n"
            "  --packets N       keep the first N packets of each flow (default and at most\n"
            "                    %d: whole flows); every flow's packets and bytes per\n"
            "                    direction and how it ended are kept whole either way\n"
            "  --idle-timeout S  seconds of silence that end a flow (default %g; 0: never)\n"
            "  --keep-addresses  keep the IP address bits (default: blanked to -1)\n"
            "  --payload N       keep the first N bytes of each packet's transport payload\n"
            "                    for the model to learn (0..%d, default %d; 0: headers only)\n"
            "  --allow-duplicate-captures\n"
            "                    let two rows name the same capture (after resolving the\n"
            "                    paths); without it that is an error naming both rows\n"
            "  -o FILE           output, written atomically\n"
            "  -j, --threads N   threads reading captures (default: all cores)\n"
            "  -q, --quiet       no progress nor summary\n"
            "  -V, --version     print the version\n"
            "  -h, --help        this text\n"
            "\n"
            "Token ids come from the whole tables, not only the selected split, so train\n"
            "and test files built from the same tables share their vocabulary.\n"
            "A capture that ends in a cut-short record (a capture stopped mid-write) is\n"
            "a warning naming the file and the packets and bytes lost; the packets\n"
            "before the cut are used and the exit status stays 0.\n",
            NS_FLOW_MAX_KEPT, NS_FLOW_DEFAULT_IDLE_NS / 1e9, NS_DS_MAX_PAYLOAD, NS_DS_DEFAULT_PAYLOAD);
}

static int parse_seconds(const char *text, int64_t *ns)
{
    char *end;
    errno = 0;
    double s = strtod(text, &end);
    if (errno || end == text || *end || !(s >= 0) || s > 1e9)
        return ns_error(NS_EARG, "--idle-timeout: expected seconds in [0, 1e9], got '%s'", text);
    *ns = (int64_t)llround(s * 1e9);
    return NS_OK;
}

static void warn(void *ctx, const char *msg)
{
    cli_progress_end(ctx);
    cli_warn("warning: %s", msg);
}

static void read_progress(void *ctx, uint64_t done, uint64_t total) { cli_progress_update(ctx, done, total); }

int cmd_dataset(int argc, char **argv)
{
    enum { O_LABELS = 256, O_LABEL, O_SPLIT, O_FLOWS, O_FLOW_LABEL, O_FULL, O_PACKETS, O_IDLE, O_KEEP, O_DUP, O_PAYLOAD };
    static const struct option longopts[] = {
        {"labels", required_argument, NULL, O_LABELS},   {"label", required_argument, NULL, O_LABEL},
        {"split", required_argument, NULL, O_SPLIT},     {"flows", required_argument, NULL, O_FLOWS},
        {"flow-label", required_argument, NULL, O_FLOW_LABEL}, {"full-service", no_argument, NULL, O_FULL},
        {"packets", required_argument, NULL, O_PACKETS}, {"idle-timeout", required_argument, NULL, O_IDLE},
        {"keep-addresses", no_argument, NULL, O_KEEP},   {"output", required_argument, NULL, 'o'},
        {"allow-duplicate-captures", no_argument, NULL, O_DUP}, {"payload", required_argument, NULL, O_PAYLOAD},
        {"help", no_argument, NULL, 'h'},                {"threads", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},               {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    ns_dataset_opts o;
    ns_dataset_opts_init(&o);
    const char *out = NULL;
    long v;
    int c, rc, quiet = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hj:qV", longopts, NULL)) != -1) {
        switch (c) {
        case O_LABELS: o.labels_path = optarg; break;
        case O_LABEL: o.label_cols = optarg; break;
        case O_SPLIT: o.split = optarg; break;
        case O_FLOWS: o.flows_path = optarg; break;
        case O_FLOW_LABEL: o.flow_label = optarg; break;
        case O_FULL: o.full_service = 1; break;
        case O_PACKETS:
            if ((rc = cli_parse_long("--packets", optarg, 1, NS_FLOW_MAX_KEPT, &v))) return rc;
            o.max_packets = (int)v;
            break;
        case O_IDLE:
            if ((rc = parse_seconds(optarg, &o.idle_timeout_ns))) return rc;
            break;
        case O_KEEP: o.keep_addresses = 1; break;
        case O_PAYLOAD:
            if ((rc = cli_parse_long("--payload", optarg, 0, NS_DS_MAX_PAYLOAD, &v))) return rc;
            o.payload_bytes = (int)v;
            break;
        case O_DUP: o.allow_duplicate_captures = 1; break;
        case 'o': out = optarg; break;
        case 'j':
            if ((rc = cli_parse_long("--threads", optarg, 1, 1024, &v))) return rc;
            omp_set_num_threads((int)v);
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (netsynth dataset --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!o.labels_path) return ns_error(NS_EARG, "no label table given (--labels TABLE)");
    if (!out) return ns_error(NS_EARG, "no output given (-o FILE)");
    if (o.flow_label && !o.flows_path) return ns_error(NS_EARG, "--flow-label needs --flows TABLE");
    if (o.flows_path && !o.flow_label) return ns_error(NS_EARG, "--flows needs --flow-label COLUMN");

    /* Under mpirun, each rank reads its share of the captures and rank 0 writes. */
    o.rank = cli_mpi_rank(), o.n_ranks = cli_mpi_size(), o.gather = cli_mpi_gather_bytes;
    if (o.rank) quiet = 1;
    ns_dataset_stats st;
    cli_progress prog;
    cli_progress_start(&prog, "dataset", "captures", quiet);
    o.warn = warn, o.warn_ctx = &prog;
    o.progress = read_progress, o.progress_ctx = &prog;
    rc = ns_dataset_build(&o, out, &st);
    cli_progress_end(&prog);
    if (rc) return rc;

    if (quiet) return NS_OK;
    FILE *info = strcmp(out, "-") ? stdout : stderr;
    fprintf(info, "%s: %" PRIu64 " flows, %" PRIu64 " packets kept of %" PRIu64 " in flows, from %" PRIu64
            " captures (%" PRIu64 " packets read)", out, st.flows, st.rows, st.packets_in_flows, st.files,
            st.packets_read);
    if (o.flows_path) fprintf(info, "; %" PRIu64 " flows without a service", st.flows_without_service);
    if (st.truncated_records) fprintf(info, "; %" PRIu64 " truncated captures", st.truncated_records);
    char skips[512];
    ns_skips_format(&st.skips, skips, sizeof skips);
    fprintf(info, "%s%s\n", skips[0] ? "; " : "", skips);
    return NS_OK;
}
