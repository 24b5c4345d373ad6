/* cmd_generate.c: `netsynth generate`, synthetic flows from a trained model.
 *
 * Three ways to ask: one prompt (-n flows into one file), every value of a
 * label (--per-class N), or like-for-like with a dataset (--like DS: as many
 * flows per label combination as DS has). The directory forms write one pcap
 * per class, labels.tsv in the shared corpus's layout, and synthetic.ds with
 * every flow and its labels (for netsynth eval). */
#include <math.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "mpi.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/blas.h"
#include "netsynth/gen_plan.h"
#include "netsynth/gen_write.h"
#include "netsynth/generate.h"
#include "netsynth/lora.h"
#include "netsynth/repair.h"
#include "netsynth/tmodel.h"
#include <omp.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: netsynth generate --model M --prompt TEXT -n N -o OUT [options]\n"
            "       netsynth generate --model M --per-class N [--label NAME] -o DIR [options]\n"
            "       netsynth generate --model M --like DATASET -o DIR [options]\n"
            "\n"
            "-F or OUT's extension (any case) picks the format: pcap (.pcap, .cap: repaired\n"
            "packets), pcapng (.pcapng: the same packets), csv (.csv: nPrint CSV with rts) or ds\n"
            "(.ds: a netsynth dataset file); another extension is an error. -o - writes pcap (or\n"
            "-F's format) to standard output, e.g. for tcpdump -r -. DIR gets one pcap per class, labels.tsv\n"
            "(path and one column per label attribute) and synthetic.ds (all flows), all or\n"
            "nothing: staged in DIR.tmp.XXXXXX and moved in at the end (other files in DIR stay).\n"
            "Under mpirun or srun, the processes share the flows and rank 0 writes the bytes\n"
            "of one process (man netsynth, MPI).\n"
            "Pcaps hold valid packets: generated rows repaired to consistent lengths, options,\n"
            "checksums and TCP state, changing as few generated bits as possible (see netsynth(1)).\n"
            "Their flows are laid out as traces by the model's trace section (learned by train):\n"
            "flow starts, client and server hosts, client ports, TTLs, IP IDs and TCP timestamp\n"
            "clocks as the class's captures have them; --like writes one pcap per capture of\n"
            "DATASET it stands in for (NAME-i.pcap when a class has several), its flows starting\n"
            "over as long as that capture's did and (a version 12 trace model) ending when it did.\n"
            "\n"
            "  --model M          the model file (netsynth train)\n"
            "  --lora ADAPTER     merge an adapter of M (netsynth finetune) that teaches it new\n"
            "                     classes (repeatable: adapters of one base add up)\n"
            "  --prompt TEXT      attribute tokens, e.g. \"device=HueBridge service=TLS\" (default: none,\n"
            "                     the unconditional model)\n"
            "  -n N               flows to generate (default 100, or one per --control map)\n"
            "  --duration D       instead of -n: a trace of length D (90s, 10m, 1.5h, 500ms; at most\n"
            "                     30 days) whose flows start as the trace model's arrivals do\n"
            "  --no-trace         the fixed plan instead of the trace model: flow k from client host\n"
            "                     k to server 0.., port 49152 + .., starting k x 10 ms; one pcap per class\n"
            "  --per-class N      N flows for every value of --label (default: the first attribute)\n"
            "                     that the model (or an adapter) learned\n"
            "  --label NAME       the attribute --per-class goes through\n"
            "  --like DATASET     as many flows per label combination as DATASET has, each with\n"
            "                     the service (transport, server port) of the flow it stands in for\n"
            "  -o OUT|DIR         where to write (required)\n"
            "  -F, --format FMT   pcap, pcapng, csv or ds (default: from OUT's extension; a\n"
            "                     directory gets pcaps)\n"
            "  --sampler NAME     dpm++ (DPM-Solver++(2M), default) or ddim\n"
            "  --steps K          denoising steps (default 8; twice the network passes with guidance)\n"
            "  --fast             the few-step mode: 4 steps of dpm++, guidance at the last 2\n"
            "                     (6 network passes instead of the default's 16)\n"
            "  --eta X            ddim only: fresh noise per step, 0 (default) to 1\n"
            "  --guidance G       classifier-free guidance scale (default: 1.5 for a model of\n"
            "                     train's medium config or wider, 2 for small; 1 = none)\n"
            "  --guided-steps K   guidance at the last K steps only (default 0: every step);\n"
            "                     the steps before take one network pass instead of two\n"
            "  --timing-guidance G  guidance of the timing bins (default 1: each class's own\n"
            "                     inter-arrival times); models from before the bins use --guidance\n"
            "  --seed S           (default 1): the same seed gives the same flows on one CPU; the\n"
            "                     bytes depend on its kind (AMX, AVX-512, OpenBLAS's kernel)\n"
            "  --deterministic    the same bytes for a seed on every x86-64 CPU: the model's\n"
            "                     arithmetic without AMX, OpenBLAS or vector-width-dependent sums\n"
            "                     (slower; also NETSYNTH_DETERMINISTIC=1)\n"
            "  --batch B          flows denoised together, per thread (default: as many as\n"
            "                     make 256 packets, at most 64)\n"
            "  --length N         every flow N packets long (default: as the model's length head draws,\n"
            "                     a prompt's flows stratified: docs/model.md);\n"
            "                     past the model's window, generated window by window; a single\n"
            "                     pcap/pcapng is written as it is generated, in memory bounded\n"
            "                     by the window, not the flow\n"
            "  --length-guidance G\n"
            "                     guidance of the length head (default 1: lengths as trained;\n"
            "                     3 helps prompts of attribute pairs never trained together)\n"
            "  --fix FIELD=VALUE  a value every generated packet has, held while sampling, e.g.\n"
            "                     tcp_dprt=443, ipv4_ttl=64, proto=udp (repeatable; ports name the server's)\n"
            "  --controlnet CTL   a control branch for the model (netsynth train-control); with --lora\n"
            "                     it steers the model with the adapters merged in\n"
            "  --control MAP      control maps: a pcap (each flow is one), a dataset, or a CSV template\n"
            "                     (proto,dir,size,flags; see netsynth(1)); flow i follows map i mod maps\n"
            "                     and has its length; -n defaults to the number of maps\n"
            "  --control-scale S  weight of the branch (default 1)\n"
            "  --control-soft     let the branch alone steer protocol, direction and TCP flags (by\n"
            "                     default they are also held to the map exactly, as --fix holds values)\n"
            "  --client-net NET   client addresses (default 10.0.0.0/24)\n"
            "  --server-net NET   server addresses (default 198.51.100.0/24)\n"
            "  --ipv6-prefix P/L  the net of IPv6 flows (default 2001:db8::/32, at most /96): each host\n"
            "                     its IPv4 address as the last 32 bits (2001:db8::a00:1 for 10.0.0.1)\n"
            "  --start T          the first packet's time, seconds since 1970 (default 1700000000)\n"
            "  --payload KIND     payload bytes past the generated ones: zeros (default) or random\n"
            "  --link KIND        ethernet (default; MACs from the addresses) or raw (IP)\n"
            "  --per-flow         one pcap per flow (OUT-0.pcap, OUT-1.pcap, ...) instead of flows\n"
            "                     merged by time\n"
            "  --repair-report F  what repair changed, per field, as JSON\n"
            "  -j, --threads T    threads (default: all cores)\n"
            "  -q, --quiet        no progress (on a terminal one line updated in place, else a\n"
            "                     line every NETSYNTH_PROGRESS_S seconds, default 10) nor summary\n"
            "  -V, --version      print the version\n"
            "  -h, --help         this text\n");
}

/* Whether s ends in suffix, in any case (OUT.PCAP is a pcap). */
static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

enum { OUT_PCAP, OUT_PCAPNG, OUT_CSV, OUT_DS };
static const struct { const char *name, *ext; int fmt; } out_kinds[] = {
    {"pcap", ".pcap", OUT_PCAP}, {"pcap", ".cap", OUT_PCAP}, {"pcapng", ".pcapng", OUT_PCAPNG},
    {"csv", ".csv", OUT_CSV},    {"ds", ".ds", OUT_DS},
};

/* -F's format, else OUT's extension (any case: OUT.PCAP is a pcap); an
 * unknown one is an error, since a typo once became a dataset file that
 * tcpdump refused. Standard output gets pcap. */
static int out_format(const char *name, const char *out, int *fmt)
{
    size_t n = sizeof out_kinds / sizeof out_kinds[0];
    if (name) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(name, out_kinds[i].name)) return *fmt = out_kinds[i].fmt, NS_OK;
        return ns_error(NS_EARG, "-F: expected pcap, pcapng, csv or ds, got '%s'", name);
    }
    if (!strcmp(out, "-")) return *fmt = OUT_PCAP, NS_OK;
    for (size_t i = 0; i < n; i++)
        if (ends_with(out, out_kinds[i].ext)) return *fmt = out_kinds[i].fmt, NS_OK;
    const char *slash = strrchr(out, '/'), *dot = strrchr(slash ? slash + 1 : out, '.');
    if (!dot) return ns_error(NS_EARG, "%s: no extension to pick the format by (.pcap, .cap, .pcapng, .csv or .ds; or -F)", out);
    return ns_error(NS_EARG, "%s: unknown output extension '%s' (.pcap, .cap, .pcapng, .csv or .ds; or -F)", out, dot);
}

/* How pcaps are written. */
typedef struct pcap_out {
    ns_repair_opts repair;
    int per_flow;
    ns_repair_stats stats;
    const char *report;       /* --repair-report, or NULL */
    int fmt;                  /* OUT_* of a single file (out_format) */
} pcap_out;

/* One file for one prompt, in format po->fmt (out_format). */
static int write_one(const ns_gen_flows *g, const ns_modelfile *m, const char *model_path, const char *out,
                     pcap_out *po, uint64_t *written)
{
    *written = 0;
    int fmt = po->fmt;
    if (fmt == OUT_PCAP || fmt == OUT_PCAPNG)
        return ns_gen_write_capture(g, 0, g->n_flows, &po->repair, po->per_flow,
                                    fmt == OUT_PCAPNG ? NS_GEN_PCAPNG : NS_GEN_PCAP, out, written, &po->stats);
    if (fmt == OUT_CSV) return ns_gen_write_csv(g, out);
    return ns_gen_write_dataset(g, m, model_path, out);
}

/* The repair summary line and the JSON report, once pcaps were written. */
static int report_repair(const pcap_out *po, int quiet)
{
    if (!quiet && po->stats.rows) {
        char line[1024];
        ns_repair_summary(&po->stats, 5, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    return po->report ? ns_repair_write_report(&po->stats, po->report) : NS_OK;
}

static void gen_progress(void *ctx, size_t done, size_t total) { cli_progress_update(ctx, done, total); }

/* The trace model's plan for one capture, made from the flows' first windows (gen_write.h). */
typedef struct trace_hook {
    const ns_tmodel *tm;
    const char *key;
    uint64_t seed;
    ns_repair_plan *plan;
} trace_hook;

static int plan_trace(void *ctx, const ns_gen_flows *first, ns_repair_opts *ro)
{
    trace_hook *h = ctx;
    ns_tmodel_capture cap = {0, first->n_flows, h->key, 0, 0};
    if (!(h->plan = calloc(first->n_flows + 1, sizeof *h->plan))) return ns_error(NS_ENOMEM, "out of memory");
    int rc = ns_tmodel_plan(h->tm, first, &cap, 1, ro, h->seed, h->plan);
    if (!rc) ro->plan = h->plan, ro->n_plan = first->n_flows;
    return rc;
}

/* n flows for the prompt ids, generated and written to one capture together (ns_gen_capture). */
static int stream_one(const ns_modelfile *m, const ns_gen_opts *o, const int32_t *ids, size_t n, trace_hook *th,
                      const char *out, pcap_out *po, uint64_t *written, size_t *rows)
{
    size_t P = m->n_attrs ? m->n_attrs : 1;
    int32_t *each = malloc(n * P * sizeof *each + 1);
    if (!each) return ns_error(NS_ENOMEM, "out of memory for %zu prompts", n);
    for (size_t i = 0; i < n; i++) memcpy(each + i * P, ids, m->n_attrs * sizeof *ids);
    ns_gen_capture c = {.st = &po->stats, .plan = th ? plan_trace : NULL, .plan_ctx = th};
    int rc = ns_gen_capture_open(&c, &po->repair, po->fmt == OUT_PCAPNG ? NS_GEN_PCAPNG : NS_GEN_PCAP, out);
    if (!rc) {
        rc = ns_generate_stream(m, o, each, n, 0, ns_gen_capture_round, &c);
        rc = rc ? (ns_gen_capture_close(&c, 0), rc) : ns_gen_capture_close(&c, 1);
    }
    *written = c.written, *rows = (size_t)c.rows;
    free(each);
    return rc;
}

/* Under mpirun: what gathering the ranks' flows to rank 0 took. */
static void gather_note(void)
{
    double wait, s;
    uint64_t bytes;
    cli_mpi_gather_cost(&wait, &s, &bytes);
    if (cli_mpi_size() > 1)
        fprintf(stderr, "generate: %d processes; rank 0 waited %.3f s for the slowest, then gathered %.2f MiB of "
                        "flows from the others in %.3f s\n", cli_mpi_size(), wait, (double)bytes / 1048576, s);
}

/* ns_generate_plan under mpirun: each rank samples its share of the plan's
 * flows, flow i from stream i as in one process, and rank 0 gathers them in
 * order (the others end with none): the flows of one process, bit for bit
 * (BENCHMARK.md, MPI, for gathering against writing parts). */
static int generate_plan_shared(const ns_modelfile *m, const ns_gen_opts *o, const ns_gen_plan *p, ns_gen_flows *out)
{
    /* A plan that matches services (--like) draws rounds until each real
     * flow's transport and port has its flow: one sampler sees them all, so
     * rank 0 runs it alone and the others wait (still the one process's
     * flows; sharing the rounds is not done yet). */
    int matched = 0;
    for (size_t k = 0; k < p->n; k++) matched |= p->req[k].svc != NULL;
    if (cli_mpi_size() <= 1 || matched) {
        out->n_attrs = m->n_attrs;
        return cli_mpi_rank() ? NS_OK : ns_generate_plan(m, o, p, 0, out);
    }
    size_t total = ns_gen_plan_flows(p), A = m->n_attrs ? m->n_attrs : 1, first, count;
    int32_t *ids = malloc(total * A * sizeof *ids + 1);
    if (!ids) return ns_error(NS_ENOMEM, "out of memory for %zu prompts", total);
    for (size_t k = 0, at = 0; k < p->n; k++)
        for (size_t f = 0; f < p->req[k].n; f++, at++) memcpy(ids + at * A, p->req[k].ids, m->n_attrs * sizeof *ids);
    cli_mpi_share(total, NS_GEN_STRATA, &first, &count);
    out->n_attrs = m->n_attrs;
    int rc = count ? ns_generate_many(m, o, ids + first * A, count, first, out) : NS_OK;
    free(ids);
    if (!rc) rc = cli_mpi_gather_flows(out);
    for (size_t k = 0, f = 0; !rc && !cli_mpi_rank() && k < p->n; k++)
        for (size_t i = 0; i < p->req[k].n; i++, f++)
            memcpy(out->labels + f * m->n_attrs, p->req[k].labels, m->n_attrs * sizeof(int32_t));
    return rc;
}

/* A plan's flows, generated together (flows of all classes share batches),
 * laid out by the trace model tm (NULL: the fixed plan), then written as the
 * directory's files (ns_gen_write_dir: all or nothing). */
static int run_dir(const ns_modelfile *m, const char *model_path, const ns_gen_opts *o, const ns_gen_plan *plan,
                   const ns_tmodel *tm, const char *dir, pcap_out *po, int quiet)
{
    int rc = ns_gen_stage_check(dir, 1); /* before the work, not after */
    if (rc) return rc;
    ns_gen_flows all = {0};
    double t0 = cli_now_s();
    uint64_t *written = calloc(plan->n + 1, sizeof *written), flows = 0, packets = 0;
    rc = written ? generate_plan_shared(m, o, plan, &all) : ns_error(NS_ENOMEM, "out of memory");
    if (o->progress_ctx) cli_progress_end(o->progress_ctx);
    if (!rc && cli_mpi_rank()) { /* rank 0 writes */
        free(written);
        return NS_OK;
    }
    if (!rc && !quiet) gather_note();
    if (!rc && !quiet)
        fprintf(stderr, "generated %zu flows (%zu packets) in %.1f s, %.0f flows/s\n", all.n_flows, all.n_rows,
                cli_now_s() - t0, (double)all.n_flows / (cli_now_s() - t0));
    ns_repair_plan *trace = NULL;
    if (!rc && tm && !(rc = ns_tmodel_plan_requests(tm, m, plan, &all, &po->repair, o->seed, &trace)))
        po->repair.plan = trace, po->repair.n_plan = all.n_flows;
    if (!rc) rc = ns_gen_write_dir(&all, m, plan, model_path, &po->repair, po->per_flow, dir, written, &po->stats);
    po->repair.plan = NULL, po->repair.n_plan = 0;
    free(trace);
    size_t files = 0;
    for (size_t k = 0; !rc && k < plan->n; k++) {
        size_t caps = plan->req[k].n_caps > 1 ? plan->req[k].n_caps : 1;
        flows += plan->req[k].n, packets += written[k], files += caps;
        if (!quiet)
            fprintf(stderr, "%s/%s%s.pcap: %zu flows, %llu packets\n", dir, plan->req[k].name, caps > 1 ? "-*" : "",
                    plan->req[k].n, (unsigned long long)written[k]);
    }
    ns_gen_flows_free(&all);
    free(written);
    if (rc) return rc;
    if (!quiet)
        fprintf(stderr, "wrote %llu flows, %llu packets in %zu captures to %s (+ labels.tsv, synthetic.ds) in %.1f s\n",
                (unsigned long long)flows, (unsigned long long)packets, files, dir, cli_now_s() - t0);
    return report_repair(po, quiet);
}

enum { MAX_LORA = 16 };

/* Merge the adapters (lora.h) into m, which becomes the merged model. */
static int merge_adapters(ns_modelfile *m, const char *const *lora, int n_lora)
{
    if (!n_lora) return NS_OK;
    ns_lora a[MAX_LORA];
    const ns_lora *ap[MAX_LORA];
    int loaded = 0, rc = NS_OK;
    while (loaded < n_lora && !(rc = ns_lora_load(&a[loaded], lora[loaded]))) {
        ap[loaded] = &a[loaded];
        loaded++;
    }
    ns_modelfile merged;
    if (!rc) rc = ns_lora_merge(&merged, m, ap, lora, n_lora);
    for (int k = 0; k < loaded; k++) ns_lora_free(&a[k]);
    if (rc) return rc;
    ns_modelfile_free(m);
    *m = merged;
    return NS_OK;
}

int cmd_generate(int argc, char **argv)
{
    enum { O_MODEL = 256, O_PROMPT, O_PERCLASS, O_LABEL, O_LIKE, O_SAMPLER, O_STEPS, O_FAST, O_ETA, O_GUIDANCE, O_GUIDED_STEPS, O_LENGTH_GUIDANCE, O_TIMING_GUIDANCE,
           O_SEED, O_BATCH, O_THREADS, O_LENGTH, O_FIX, O_CLIENT_NET, O_SERVER_NET, O_IPV6_PREFIX, O_START, O_PAYLOAD, O_LINK,
           O_PER_FLOW, O_REPORT, O_LORA, O_CONTROLNET, O_CONTROL, O_CONTROL_SCALE, O_CONTROL_SOFT,
           O_DETERMINISTIC, O_DURATION, O_NO_TRACE, O_HELP };
    static const struct option opts[] = {
        {"model", 1, 0, O_MODEL}, {"prompt", 1, 0, O_PROMPT}, {"per-class", 1, 0, O_PERCLASS},
        {"label", 1, 0, O_LABEL}, {"like", 1, 0, O_LIKE}, {"sampler", 1, 0, O_SAMPLER}, {"steps", 1, 0, O_STEPS},
        {"fast", 0, 0, O_FAST}, {"eta", 1, 0, O_ETA}, {"guidance", 1, 0, O_GUIDANCE}, {"guided-steps", 1, 0, O_GUIDED_STEPS},
        {"length-guidance", 1, 0, O_LENGTH_GUIDANCE}, {"timing-guidance", 1, 0, O_TIMING_GUIDANCE}, {"seed", 1, 0, O_SEED},
        {"batch", 1, 0, O_BATCH}, {"length", 1, 0, O_LENGTH}, {"threads", 1, 0, O_THREADS}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, O_HELP},
        {"version", 0, 0, 'V'}, {"format", 1, 0, 'F'},
        {"fix", 1, 0, O_FIX}, {"client-net", 1, 0, O_CLIENT_NET}, {"server-net", 1, 0, O_SERVER_NET},
        {"ipv6-prefix", 1, 0, O_IPV6_PREFIX},
        {"start", 1, 0, O_START}, {"payload", 1, 0, O_PAYLOAD}, {"link", 1, 0, O_LINK}, {"per-flow", 0, 0, O_PER_FLOW},
        {"repair-report", 1, 0, O_REPORT}, {"lora", 1, 0, O_LORA},
        {"controlnet", 1, 0, O_CONTROLNET}, {"control", 1, 0, O_CONTROL},
        {"control-scale", 1, 0, O_CONTROL_SCALE}, {"control-soft", 0, 0, O_CONTROL_SOFT},
        {"deterministic", 0, 0, O_DETERMINISTIC}, {"duration", 1, 0, O_DURATION}, {"no-trace", 0, 0, O_NO_TRACE},
        {0, 0, 0, 0}};
    ns_gen_opts o;
    ns_gen_opts_init(&o);
    ns_gen_fix fix;
    ns_gen_fix_init(&fix);
    o.fix = &fix;
    pcap_out po;
    memset(&po, 0, sizeof po);
    ns_repair_opts_init(&po.repair);
    const char *model_path = NULL, *prompt = "", *label = NULL, *like = NULL, *out = NULL, *lora[MAX_LORA];
    const char *ctl_path = NULL, *control_path = NULL, *format = NULL;
    long n = 0, per_class = 0, v;
    int quiet = 0, threads = 0, rc = NS_OK, c, n_lora = 0, no_trace = 0;
    int64_t duration_ns = 0;
    optind = 1;
    opterr = 0;
    while (rc == NS_OK && (c = getopt_long(argc, argv, "n:o:qj:hVF:", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_path = optarg; break;
        case O_PROMPT: prompt = optarg; break;
        case 'n': rc = cli_parse_long("-n", optarg, 1, 100000000, &n); break;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        case 'F': format = optarg; break;
        case O_PERCLASS: rc = cli_parse_long("--per-class", optarg, 1, 100000000, &per_class); break;
        case O_LABEL: label = optarg; break;
        case O_LIKE: like = optarg; break;
        case O_SAMPLER:
            if (!strcmp(optarg, "ddim")) o.sampler.kind = NS_SAMPLER_DDIM;
            else if (!strcmp(optarg, "dpm++") || !strcmp(optarg, "dpmpp")) o.sampler.kind = NS_SAMPLER_DPMPP_2M;
            else rc = ns_error(NS_EARG, "--sampler: expected ddim or dpm++, got '%s'", optarg);
            break;
        case O_STEPS: rc = cli_parse_long("--steps", optarg, 1, 1000, &v), o.sampler.steps = (int)v; break;
        case O_FAST: /* BENCHMARK.md, Fidelity: as close to the default as 4 fully guided steps, 1.33x faster */
            o.sampler.kind = NS_SAMPLER_DPMPP_2M, o.sampler.steps = 4, o.guided_steps = 2;
            break;
        case O_ETA: o.sampler.eta = strtof(optarg, NULL); break;
        case O_GUIDED_STEPS: rc = cli_parse_long("--guided-steps", optarg, 0, 1000, &v), o.guided_steps = (int)v; break;
        case O_GUIDANCE: rc = cli_parse_float("--guidance", optarg, 0, 50, &o.guidance); break;
        case O_LENGTH_GUIDANCE: rc = cli_parse_float("--length-guidance", optarg, 0, 50, &o.length_guidance); break;
        case O_TIMING_GUIDANCE: rc = cli_parse_float("--timing-guidance", optarg, 0, 50, &o.timing_guidance); break;
        case O_SEED: rc = cli_parse_long("--seed", optarg, 0, 0x7fffffffL, &v), o.seed = (uint64_t)v; break;
        case O_BATCH: rc = cli_parse_long("--batch", optarg, 1, 4096, &v), o.batch = (int)v; break;
        case 'j':
        case O_THREADS: rc = cli_parse_long("--threads", optarg, 1, 1024, &v), threads = (int)v; break;
        case O_LENGTH: rc = cli_parse_long("--length", optarg, 1, NS_FLOW_MAX_KEPT, &v), o.length = (int)v; break;
        case O_FIX: rc = ns_gen_fix_add(&fix, optarg); break;
        case O_CLIENT_NET: rc = ns_repair_parse_net(optarg, "--client-net", &po.repair.client_net, &po.repair.client_prefix); break;
        case O_SERVER_NET: rc = ns_repair_parse_net(optarg, "--server-net", &po.repair.server_net, &po.repair.server_prefix); break;
        case O_IPV6_PREFIX: rc = ns_repair_parse_net6(optarg, "--ipv6-prefix", po.repair.net6, &po.repair.prefix6); break;
        case O_START: {
            char *end;
            double t = strtod(optarg, &end);
            if (end == optarg || *end || !(t >= 0 && t < 9e9))
                rc = ns_error(NS_EARG, "--start: expected seconds since 1970, e.g. 1700000000.5, got '%s'", optarg);
            po.repair.start_ns = (int64_t)llround(t * 1e9);
            break;
        }
        case O_PAYLOAD:
            if (!strcmp(optarg, "zeros")) po.repair.payload = NS_REPAIR_PAYLOAD_ZEROS;
            else if (!strcmp(optarg, "random")) po.repair.payload = NS_REPAIR_PAYLOAD_RANDOM;
            else rc = ns_error(NS_EARG, "--payload: expected zeros or random, got '%s'", optarg);
            break;
        case O_LINK:
            if (!strcmp(optarg, "ethernet")) po.repair.linktype = NS_LINKTYPE_ETHERNET;
            else if (!strcmp(optarg, "raw")) po.repair.linktype = NS_LINKTYPE_RAW;
            else rc = ns_error(NS_EARG, "--link: expected ethernet or raw, got '%s'", optarg);
            break;
        case O_PER_FLOW: po.per_flow = 1; break;
        case O_REPORT: po.report = optarg; break;
        case O_LORA:
            if (n_lora == MAX_LORA) return ns_error(NS_EARG, "--lora: at most %d adapters", MAX_LORA);
            lora[n_lora++] = optarg;
            break;
        case O_CONTROLNET: ctl_path = optarg; break;
        case O_CONTROL: control_path = optarg; break;
        case O_CONTROL_SCALE: rc = cli_parse_float("--control-scale", optarg, 0, 10, &o.control_scale); break;
        case O_CONTROL_SOFT: o.control_hard = 0; break;
        case O_DETERMINISTIC: ns_blas_set_deterministic(true); break;
        case O_DURATION: rc = ns_tmodel_parse_duration(optarg, "--duration", &duration_ns); break;
        case O_NO_TRACE: no_trace = 1; break;
        case O_HELP: usage(stdout); return NS_OK;
        default: return ns_error(NS_EARG, "unknown or incomplete option '%s' (see netsynth generate --help)",
                                 argv[optind - 1]);
        }
    }
    if (rc) return rc;
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!model_path || !out) return ns_error(NS_EARG, "--model and -o are required (see netsynth generate --help)");
    if (per_class && like) return ns_error(NS_EARG, "--per-class and --like do not go together");
    if (duration_ns && (per_class || like))
        return ns_error(NS_EARG, "--duration makes one trace of a prompt; --per-class and --like take their flow counts");
    if (duration_ns && n) return ns_error(NS_EARG, "--duration and -n do not go together: the arrivals decide how many");
    if (duration_ns && no_trace) return ns_error(NS_EARG, "--duration needs the trace model: leave out --no-trace");
    if (o.sampler.eta < 0 || o.sampler.eta > 1) return ns_error(NS_EARG, "--eta must be in [0, 1]");
    if ((rc = ns_repair_check_opts(&po.repair))) return rc;
    po.fmt = OUT_PCAP;
    if (per_class || like) {
        if (format && strcmp(format, "pcap"))
            return ns_error(NS_EARG, "-F %s: a directory (--per-class, --like) gets pcaps", format);
        if (!strcmp(out, "-")) return ns_error(NS_EARG, "-o -: --per-class and --like write a directory, not a stream");
    } else if ((rc = out_format(format, out, &po.fmt))) {
        return rc;
    }
    if (po.report && po.fmt != OUT_PCAP && po.fmt != OUT_PCAPNG)
        return ns_error(NS_EARG, "--repair-report: only pcap and pcapng output is repaired (not csv or ds)");
    if (po.per_flow && po.fmt != OUT_PCAP && po.fmt != OUT_PCAPNG)
        return ns_error(NS_EARG, "--per-flow: one file per flow is pcap or pcapng only");
    po.repair.seed = o.seed;
    if (cli_mpi_rank()) quiet = 1;
    cli_progress prog;
    cli_progress_start(&prog, "generate", "flows", quiet);
    o.progress = gen_progress, o.progress_ctx = &prog;
    if (threads) {
        omp_set_num_threads(threads);
        ns_blas_init(threads);
    }

    if (!ctl_path != !control_path) return ns_error(NS_EARG, "--controlnet and --control go together");
    if (control_path && o.length) return ns_error(NS_EARG, "--length and --control do not go together: a map gives its flow's length");
    ns_modelfile m;
    if ((rc = ns_modelfile_load(&m, model_path))) return rc;
    /* Flows repaired whole (directories, per-flow files, several ranks) as the streamed ones are. */
    po.repair.window = m.cfg.max_packets;
    ns_controlnet ctl = {0};
    ns_control_maps maps = {0};
    /* A branch is checked against the base it was trained for, before the
     * adapters change the weights: it then steers the merged model too, as
     * a ControlNet steers fine-tunes of its base. */
    if (ctl_path && !(rc = ns_controlnet_load(&ctl, ctl_path)) &&
        !(rc = ns_controlnet_check_base(&ctl, ctl_path, &m, model_path)))
        rc = ns_control_maps_load(&maps, control_path, m.cfg.max_packets);
    if (!rc) rc = merge_adapters(&m, lora, n_lora);
    if (rc) {
        ns_controlnet_free(&ctl);
        ns_control_maps_free(&maps);
        ns_modelfile_free(&m);
        return rc;
    }
    if (ctl_path) o.controlnet = &ctl, o.control = &maps;
    const ns_tmodel *tm = no_trace ? NULL : m.trace;
    if (!m.trace && duration_ns) rc = ns_error(NS_EARG, "%s: no trace section (a model file of version 1): --duration needs one; "
                                               "train the model again", model_path);
    else if (!m.trace && !no_trace && !quiet)
        fprintf(stderr, "%s: no trace section (a model file of version 1): flows laid out by the fixed plan\n", model_path);
    if (!n) n = maps.n_maps ? (long)maps.n_maps : 100;
    if (per_class || like) {
        ns_gen_plan plan = {0};
        ns_dataset ds;
        if (per_class) rc = ns_gen_plan_per_class(&plan, &m, label, (size_t)per_class);
        else if (!(rc = ns_dataset_load(&ds, like))) {
            rc = ns_gen_plan_like(&plan, &m, &ds, like);
            ns_dataset_free(&ds);
        }
        if (!rc && !tm) ns_gen_plan_one_capture(&plan); /* the fixed plan: one pcap per class */
        if (!rc) rc = run_dir(&m, model_path, &o, &plan, tm, out, &po, quiet);
        ns_gen_plan_free(&plan);
        ns_controlnet_free(&ctl);
        ns_control_maps_free(&maps);
        ns_modelfile_free(&m);
        return rc;
    }
    int32_t *ids = malloc((m.n_attrs + 1) * sizeof *ids);
    ns_gen_flows g = {0};
    if (!ids) rc = ns_error(NS_ENOMEM, "out of memory");
    if (!rc) rc = ns_gen_parse_prompt(&m, prompt, ids);
    /* One trace: the prompt's class (with the labels it implies) names the trace model's class. */
    char key[4096] = "";
    int32_t *labels = malloc((m.n_attrs + 1) * sizeof *labels);
    if (!rc && !labels) rc = ns_error(NS_ENOMEM, "out of memory");
    if (!rc) ns_gen_implied_labels(&m, ids, labels);
    if (!rc && tm) rc = ns_tmodel_key(&m, labels, key, sizeof key);
    size_t count = (size_t)n;
    if (!rc && duration_ns) rc = ns_tmodel_count(tm, key, duration_ns, o.seed, 0, 100000000, &count);
    double t0 = cli_now_s();
    uint64_t written = 0;
    size_t n_flows = 0, n_rows = 0;
    ns_repair_plan *trace = NULL;
    /* One capture from one process is written as its flows are generated, in
     * memory bounded by the window. Under mpirun with several ranks, each rank
     * samples its share, flow i from stream i as in one process, and rank 0
     * gathers them in order and writes. */
    int streamed = (po.fmt == OUT_PCAP || po.fmt == OUT_PCAPNG) && !po.per_flow && cli_mpi_size() == 1;
    if (!rc && streamed) {
        trace_hook th = {tm, key, o.seed, NULL};
        rc = stream_one(&m, &o, ids, count, tm ? &th : NULL, out, &po, &written, &n_rows);
        trace = th.plan, n_flows = count;
    } else if (!rc) {
        size_t first = 0, share = count;
        cli_mpi_share(count, NS_GEN_STRATA, &first, &share);
        g.n_attrs = m.n_attrs;
        if (share) rc = ns_generate(&m, &o, ids, share, first, &g);
        if (!rc) rc = cli_mpi_gather_flows(&g);
        n_flows = g.n_flows, n_rows = g.n_rows;
    }
    double secs = cli_now_s() - t0;
    cli_progress_end(&prog);
    if (!rc && cli_mpi_rank()) count = 0, po.fmt = -1; /* rank 0 writes */
    if (!rc && !streamed && tm && (po.fmt == OUT_PCAP || po.fmt == OUT_PCAPNG)) {
        ns_tmodel_capture cap = {0, g.n_flows, key, 0, 0};
        if (!(trace = calloc(g.n_flows + 1, sizeof *trace))) rc = ns_error(NS_ENOMEM, "out of memory");
        else if (!(rc = ns_tmodel_plan(tm, &g, &cap, 1, &po.repair, o.seed, trace)))
            po.repair.plan = trace, po.repair.n_plan = g.n_flows;
    }
    if (!rc && !streamed && po.fmt >= 0) rc = write_one(&g, &m, model_path, out, &po, &written);
    free(trace), free(labels);
    if (!rc && po.fmt < 0) quiet = 1, po.report = NULL;
    if (!rc && !quiet) gather_note();
    if (!rc && !quiet)
        fprintf(stderr, "generated %zu flows (%zu packets) in %.2f s, %.0f flows/s, %.0f packets/s: wrote %s\n",
                n_flows, n_rows, secs, (double)n_flows / secs, (double)n_rows / secs, out);
    if (!rc) rc = report_repair(&po, quiet);
    free(ids);
    ns_gen_flows_free(&g);
    ns_controlnet_free(&ctl);
    ns_control_maps_free(&maps);
    ns_modelfile_free(&m);
    return rc;
}
