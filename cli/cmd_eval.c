/* cmd_eval.c: `netsynth eval`, classifier fidelity of synthetic flows. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/eval.h"
#include "netsynth/flow.h"
#include "netsynth/modelfile.h"
#include "netsynth/report.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: netsynth eval --real REAL [--real-test TEST] [--synth SYNTH]\n"
            "                     [--label ATTRS] [--packets N] [--trees N] [--seed S]\n"
            "                     [-j N] [--no-netflow] [--netflow-first] [--like]\n"
            "                     [--no-compliance] [--no-applayer] [-q]\n"
            "                     [--no-trace] [--model FILE] [--payload N]\n"
            "                     [--json FILE] [--html FILE] [--dump-features DIR]\n"
            "\n"
            "Judges synthetic flows by a random forest (first N packets as nPrint bits,\n"
            "addresses, ports and checksums blanked; and NetFlow-style statistics of the\n"
            "whole flow), per label:\n"
            "  real  train on REAL, test on TEST (the ceiling)\n"
            "  TSTR  train on SYNTH, test on TEST\n"
            "  TRTS  train on REAL, test on SYNTH\n"
            "reporting accuracy and macro-F1. With SYNTH, also: per-field distances of\n"
            "real train vs synthetic (JSD, total variation, Hellinger, EMD; overall and\n"
            "per value of the first label; worst first),\n"
            "memorisation (Hamming distance to the nearest real training flow, against\n"
            "the real test flows'; and of payload bytes: payloads identical to a training\n"
            "one, longest run of bytes shared with one, against the real test flows'),\n"
            "coverage (flows per class) and, when REAL and SYNTH\n"
            "are capture tables, compliance (tshark's malformed packets, bad checksums,\n"
            "expert errors and warnings) and the application layer per class of the\n"
            "first label, real test vs synthetic: the share of flows nDPI gives the\n"
            "class's protocol, and of packets with payload whose application layer\n"
            "tshark dissects. When REAL is a capture table, the traces too:\n"
            "per class and side (real train, real test, synthetic: those given as tables),\n"
            "flow starts per second, client and server hosts, flows and ports per client\n"
            "host, TCP handshake RTT, inter-arrival times within flows (KS distance against\n"
            "real train), flow duration, TCP timestamps going backwards or jumping, PSH\n"
            "without payload. A table on stdout; everything as JSON and as one\n"
            "self-contained HTML page.\n"
            "\n"
            "REAL, TEST and SYNTH are dataset files or labels.tsv tables of captures (a\n"
            "path column and label columns, as `netsynth generate -o DIR` writes); a\n"
            "table with a split column trains on its \"train\" rows, tests on \"test\".\n"
            "\n"
            "  --real FILE          real training flows\n"
            "  --real-test FILE     real test flows; without it (and without a split\n"
            "                       column), REAL is split by capture file (every fifth\n"
            "                       file tests)\n"
            "  --synth FILE         synthetic flows; without it only real->real runs\n"
            "  --label ATTRS        comma-separated attributes (default device,device_type)\n"
            "  --packets N          first N packets of each flow (default 16)\n"
            "  --trees N            trees per forest (default 100)\n"
            "  --seed S             forest seed (default 0); a seed repeats exactly\n"
            "  -j, --threads N      OpenMP threads (default: all)\n"
            "  --no-netflow         nPrint features only\n"
            "  --netflow-first      NetFlow features of the first N packets (--packets), as\n"
            "                       nPrint's, instead of the whole flow (as NetFlow sees it)\n"
            "  --like               SYNTH was generated --like REAL: coverage compares with\n"
            "                       REAL's flows per class as the request\n"
            "  --no-compliance      do not run tshark on capture tables\n"
            "  --no-applayer        do not run nDPI and tshark per class (application layer)\n"
            "  --allow-duplicate-captures\n"
            "                       let two rows of a capture table name the same capture\n"
            "                       (an error naming both rows otherwise)\n"
            "  --no-trace           do not measure the traces of capture tables\n"
            "  --payload N          payload bytes kept of capture tables' packets, as\n"
            "                       `dataset --payload N` (default the dataset's: 0):\n"
            "                       give what the model was trained with\n"
            "  --model FILE         the model file that made SYNTH: its path and provenance\n"
            "                       (how it was trained, as `netsynth inspect` shows) head\n"
            "                       the report\n"
            "  --json FILE          write the report as JSON (\"-\": stdout)\n"
            "  --html FILE          write the report as one self-contained HTML page\n"
            "  --dump-features DIR  write the real train/test features and classes as\n"
            "                       NumPy .npy files into DIR (made if absent: for outside\n"
            "                       tools) and stop\n"
            "  -q, --quiet          no progress on stderr (on a terminal one line updated in\n"
            "                       place, else a line at most every NETSYNTH_PROGRESS_S\n"
            "                       seconds) nor table on stdout (--json, --html still written)\n"
            "  -V, --version        print the version\n"
            "  -h, --help           this text\n");
}

static int parse_seed(const char *text, uint64_t *seed)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        return ns_error(NS_EARG, "--seed: expected a non-negative integer, got '%s'", text);
    *seed = v;
    return NS_OK;
}

static void eval_progress(void *ctx, const char *stage, size_t done, size_t total)
{
    cli_progress_stage(ctx, stage, done, total);
}

int cmd_eval(int argc, char **argv)
{
    enum { O_REAL = 256, O_TEST, O_SYNTH, O_LABEL, O_PACKETS, O_TREES, O_SEED, O_THREADS, O_NONF, O_JSON, O_DUMP, O_HTML, O_LIKE, O_NOCOMP, O_DUP, O_NOTRACE, O_MODEL, O_NFFIRST, O_PAYLOAD, O_NOAPP };
    static const struct option longopts[] = {
        {"real", required_argument, NULL, O_REAL},       {"real-test", required_argument, NULL, O_TEST},
        {"synth", required_argument, NULL, O_SYNTH},     {"label", required_argument, NULL, O_LABEL},
        {"packets", required_argument, NULL, O_PACKETS}, {"trees", required_argument, NULL, O_TREES},
        {"seed", required_argument, NULL, O_SEED},       {"threads", required_argument, NULL, 'j'},
        {"no-netflow", no_argument, NULL, O_NONF},       {"json", required_argument, NULL, O_JSON},
        {"netflow-first", no_argument, NULL, O_NFFIRST},
        {"payload", required_argument, NULL, O_PAYLOAD},
        {"dump-features", required_argument, NULL, O_DUMP}, {"html", required_argument, NULL, O_HTML},
        {"like", no_argument, NULL, O_LIKE},             {"no-compliance", no_argument, NULL, O_NOCOMP},
        {"no-applayer", no_argument, NULL, O_NOAPP},
        {"allow-duplicate-captures", no_argument, NULL, O_DUP},
        {"no-trace", no_argument, NULL, O_NOTRACE},     {"model", required_argument, NULL, O_MODEL},
        {"help", no_argument, NULL, 'h'},               {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    ns_eval_opts o;
    ns_eval_opts_init(&o);
    ns_eval_inputs in = {0};
    const char *json = NULL, *dump = NULL, *html = NULL, *model = NULL;
    int like = 0, comp = 1, app = 1, dup = 0, trace = 1, quiet = 0, nf_first = 0, payload = 0;
    long v;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hj:qV", longopts, NULL)) != -1) {
        switch (c) {
        case O_REAL: in.real_name = optarg; break;
        case O_TEST: in.real_test_name = optarg; break;
        case O_SYNTH: in.synth_name = optarg; break;
        case O_LABEL: o.labels = optarg; break;
        case O_PACKETS:
            if ((rc = cli_parse_long("--packets", optarg, 1, NS_FLOW_MAX_PACKETS, &v))) return rc;
            o.packets = (int)v;
            break;
        case O_TREES:
            if ((rc = cli_parse_long("--trees", optarg, 1, 100000, &v))) return rc;
            o.trees = (int)v;
            break;
        case O_SEED:
            if ((rc = parse_seed(optarg, &o.seed))) return rc;
            break;
        case 'j':
            if ((rc = cli_parse_long("--threads", optarg, 1, 1024, &v))) return rc;
            o.threads = (int)v;
            break;
        case O_NONF: o.netflow = 0; break;
        case O_NFFIRST: nf_first = 1; break;
        case O_PAYLOAD:
            if ((rc = cli_parse_long("--payload", optarg, 0, NS_DS_MAX_PAYLOAD, &v))) return rc;
            payload = (int)NS_EVAL_PAYLOAD(v);
            break;
        case O_JSON: json = optarg; break;
        case O_DUMP: dump = optarg; break;
        case O_HTML: html = optarg; break;
        case O_LIKE: like = 1; break;
        case O_NOCOMP: comp = 0; break;
        case O_NOAPP: app = 0; break;
        case O_DUP: dup = NS_EVAL_ALLOW_DUPLICATES; break;
        case O_NOTRACE: trace = 0; break;
        case O_MODEL: model = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (netsynth eval --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!in.real_name) return ns_error(NS_EARG, "no real dataset given (--real FILE)");

    /* Read before the datasets so that a wrong path fails at once, not
     * after minutes of loading; only the provenance is kept. */
    char *provenance = NULL;
    if (model) {
        ns_modelfile m;
        if ((rc = ns_modelfile_load(&m, model))) return rc;
        provenance = m.provenance, m.provenance = NULL;
        ns_modelfile_free(&m);
    }

    cli_progress prog;
    cli_progress_start(&prog, "eval", "", quiet);
    o.progress = eval_progress, o.progress_ctx = &prog;
    ns_eval_source src[3];
    memset(src, 0, sizeof src);
    const char *names[3] = {in.real_name, in.real_test_name, in.synth_name};
    if (nf_first) o.netflow_packets = o.packets;
    /* Capture tables keep whole flows when NetFlow features see them whole. */
    int table_packets = o.netflow && !o.netflow_packets ? NS_FLOW_MAX_KEPT : o.packets > 64 ? o.packets : 64;
    rc = NS_OK;
    for (int i = 0; i < 3 && !rc; i++) {
        if (names[i])
            rc = ns_eval_source_load(&src[i], names[i], o.labels, table_packets, (i < 2 ? NS_EVAL_SPLIT : 0) | dup | payload);
        for (size_t w = 0; w < src[i].n_warnings; w++) cli_warn("warning: %s", src[i].warnings[w]);
    }
    if (!rc) {
        in.real = &src[0].train;
        in.real_test = names[1] ? (src[1].has_test ? &src[1].test : &src[1].train) : src[0].has_test ? &src[0].test : NULL;
        if (!names[1] && src[0].has_test) in.real_test_name = names[0];
        in.synth = names[2] ? &src[2].train : NULL;
        const ns_dataset *used[3] = {in.real, in.real_test, in.synth};
        const char *used_names[3] = {in.real_name, in.real_test_name, in.synth_name};
        for (int i = 0; i < 3; i++)
            if (used[i] && (uint32_t)o.packets > used[i]->max_packets)
                cli_warn("eval: %s keeps at most %u packets per flow; --packets %d pads the rest with -1",
                         used_names[i], used[i]->max_packets, o.packets);
        if (dump) {
            if (mkdir(dump, 0777) && errno != EEXIST)
                rc = ns_error(NS_EIO, "%s: cannot create the directory: %s", dump, strerror(errno));
            if (!rc) rc = ns_eval_dump_features(&in, &o, dump);
        } else {
            char *command = cli_command_line(argc, argv);
            ns_report_inputs ri = {.eval = in, .like = like, .compliance = comp, .applayer = app, .command = command, .trace = trace,
                                  .model_path = model, .model_provenance = provenance};
            /* the traces read the same rows of the same tables as the datasets above */
            if (src[0].is_table) ri.trace_src[NS_EVAL_TRAIN] = (ns_trace_source){names[0], src[0].has_test ? "train" : NULL};
            if (names[1] && src[1].is_table) ri.trace_src[NS_EVAL_TEST] = (ns_trace_source){names[1], src[1].has_test ? "test" : NULL};
            else if (!names[1] && src[0].has_test) ri.trace_src[NS_EVAL_TEST] = (ns_trace_source){names[0], "test"};
            if (names[2] && src[2].is_table) ri.trace_src[NS_EVAL_SYNTH] = (ns_trace_source){names[2], NULL};
            if (src[0].is_table && names[2] && src[2].is_table) {
                ri.real_captures = src[0].captures, ri.n_real_captures = src[0].n_captures;
                ri.synth_captures = src[2].captures, ri.n_synth_captures = src[2].n_captures;
            }
            ns_report r;
            rc = ns_report_run(&r, &ri, &o);
            cli_progress_end(&prog);
            if (!rc) {
                FILE *table = json && !strcmp(json, "-") ? stderr : stdout;
                if (!quiet) ns_report_print(&r, table);
                if (json) rc = ns_report_write_json(&r, json);
                if (!rc && html) rc = ns_report_write_html(&r, html);
                ns_report_free(&r);
            }
            free(command);
        }
    }
    for (int i = 0; i < 3; i++) ns_eval_source_free(&src[i]);
    free(provenance);
    return rc;
}
