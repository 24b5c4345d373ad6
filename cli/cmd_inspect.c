/* cmd_inspect.c: `netsynth inspect FILE`, a summary of any netsynth file.
 * The first 8 bytes (the magic) pick the summariser from `kinds` below:
 * datasets, models (checkpoints are models with training state), LoRA
 * adapters and control branches. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsynth/controlnet.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/lora.h"
#include "netsynth/modelfile.h"

static double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0.0; }

/* One value of an attribute and its flows, as a share of all flows. */
static void print_value(const char *value, uint64_t flows, uint64_t total)
{
    printf("  %-24s %8" PRIu64 " flows %5.1f%%\n", value, flows, pct(flows, total));
}

static void print_attribute(const ns_dataset *ds, uint32_t a, uint64_t *count)
{
    uint32_t first = ds->attr_first[a], n = ds->attr_first[a + 1] - first;
    memset(count, 0, ((size_t)n + 1) * sizeof *count);
    for (uint64_t i = 0; i < ds->n_flows; i++) {
        int32_t t = ds->labels[i * ds->n_attrs + a];
        count[t < 0 ? n : (uint32_t)t - first]++;
    }
    size_t name_len = strlen(ds->attr_names[a]) + 1;
    printf("%s: %u values\n", ds->attr_names[a], n);
    for (uint32_t v = 0; v <= n; v++) {
        if (v == n && !count[n]) break;
        print_value(v < n ? ds->tokens[first + v] + name_len : "(none)", count[v], ds->n_flows);
    }
}

static int inspect_dataset(const char *path)
{
    ns_dataset ds;
    int rc = ns_dataset_load(&ds, path);
    if (rc) return rc;
    printf("%s: netsynth dataset, version %u\n", path, ds.version);
    printf("flows %" PRIu64 ", packets %" PRIu64 ", captures %u; up to %u packets per flow, rows of %u values,\n"
           "payload bytes kept %d, IP addresses %s, idle timeout ", ds.n_flows, ds.n_packets, ds.n_files,
           ds.max_packets, ds.width, ns_dataset_payload(&ds), ds.flags & NS_DS_KEEP_ADDRESSES ? "kept" : "blanked");
    if (ds.idle_timeout_ns) printf("%g s\n", (double)ds.idle_timeout_ns / 1e9);
    else printf("none\n");

    uint64_t *count = malloc(((size_t)ds.n_tokens + 1) * sizeof *count);
    if (!count) {
        ns_dataset_free(&ds);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    for (uint32_t a = 0; a < ds.n_attrs; a++) {
        printf("\n");
        print_attribute(&ds, a, count);
    }
    free(count);

    /* Flow lengths (packets kept) in power-of-two buckets: 1, 2, 3-4, 5-8,
     * ..., up to NS_FLOW_MAX_KEPT (under 2^17). */
    enum { BUCKETS = 18 };
    _Static_assert(NS_FLOW_MAX_KEPT <= 1u << (BUCKETS - 1), "a bucket for the longest flow");
    uint64_t hist[BUCKETS] = {0}, seen_cut = 0;
    for (uint64_t i = 0; i < ds.n_flows; i++) {
        uint32_t n = ds.flows[i].n_packets, b = 0;
        while ((1u << b) < n) b++;
        hist[b]++;
        seen_cut += ds.flows[i].seen > n;
    }
    printf("\nflow length (packets kept)\n");
    uint64_t most = 1;
    for (int b = 0; b < BUCKETS; b++) most = hist[b] > most ? hist[b] : most;
    for (int b = 0; b < BUCKETS; b++) {
        if (!hist[b]) continue;
        char range[32];
        unsigned lo = b ? (1u << (b - 1)) + 1 : 1, hi = 1u << b;
        if (lo == hi) snprintf(range, sizeof range, "%u", lo);
        else snprintf(range, sizeof range, "%u-%u", lo, hi);
        int bar = (int)(40 * hist[b] / most);
        printf("  %-9s %8" PRIu64 " %5.1f%% %.*s\n", range, hist[b], pct(hist[b], ds.n_flows), bar,
               "########################################");
    }
    printf("  %" PRIu64 " flows (%.1f%%) had more packets than the %u kept\n", seen_cut,
           pct(seen_cut, ds.n_flows), ds.max_packets);
    if (ds.totals) {   /* whole flows: what they carried and how they ended */
        uint64_t pk[2] = {0, 0}, by[2] = {0, 0}, ends[NS_DS_END_CAPTURE + 1] = {0}, tcp = 0;
        for (uint64_t i = 0; i < ds.n_flows; i++) {
            const ns_ds_totals *w = &ds.totals[i];
            for (int d = 0; d < 2; d++) pk[d] += w->packets[d], by[d] += w->bytes[d];
            if (ds.flows[i].proto == 6) tcp++, ends[w->end]++;
        }
        printf("  whole flows: %" PRIu64 " packets (%" PRIu64 " client->server, %" PRIu64 " server->client), %" PRIu64
               " bytes (%" PRIu64 ", %" PRIu64 ")\n", pk[0] + pk[1], pk[0], pk[1], by[0] + by[1], by[0], by[1]);
        printf("  TCP flows ended by FIN %.1f%%, RST %.1f%%, idle timeout %.1f%%, end of capture %.1f%%\n",
               pct(ends[NS_DS_END_FIN], tcp), pct(ends[NS_DS_END_RST], tcp), pct(ends[NS_DS_END_IDLE], tcp),
               pct(ends[NS_DS_END_CAPTURE], tcp));
    }

    static const struct { uint8_t proto; const char *name; } protos[] = {{6, "TCP"}, {17, "UDP"}, {1, "ICMP"}};
    printf("\nprotocol        flows              packets\n");
    for (size_t p = 0; p < 3; p++) {
        uint64_t flows = 0, packets = 0;
        for (uint64_t i = 0; i < ds.n_flows; i++)
            if (ds.flows[i].proto == protos[p].proto) flows++, packets += ds.flows[i].n_packets;
        printf("  %-6s %8" PRIu64 " %5.1f%%   %9" PRIu64 " %5.1f%%\n", protos[p].name, flows, pct(flows, ds.n_flows),
               packets, pct(packets, ds.n_packets));
    }
    /* the IP version across them (ICMP above counts ICMPv6 too) */
    for (int v6 = 0; v6 < 2; v6++) {
        uint64_t flows = 0, packets = 0;
        for (uint64_t i = 0; i < ds.n_flows; i++)
            if (ds.flows[i].ipv6 == v6) flows++, packets += ds.flows[i].n_packets;
        printf("  %-6s %8" PRIu64 " %5.1f%%   %9" PRIu64 " %5.1f%%\n", v6 ? "IPv6" : "IPv4", flows,
               pct(flows, ds.n_flows), packets, pct(packets, ds.n_packets));
    }
    uint64_t s2c = 0;
    for (uint64_t k = 0; k < ds.n_packets; k++) s2c += ds.dir[k];
    printf("\ndirection: client->server %" PRIu64 " (%.1f%%), server->client %" PRIu64 " (%.1f%%)\n",
           ds.n_packets - s2c, pct(ds.n_packets - s2c, ds.n_packets), s2c, pct(s2c, ds.n_packets));
    ns_dataset_free(&ds);
    return NS_OK;
}

/* The named config (model.h) with c's architecture, or NULL. */
static const char *config_name(const ns_model_config *c)
{
    static const char *const names[] = {"tiny", "small", "medium", "base"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ns_model_config k = {0};
        ns_model_config_named(&k, names[i]);
        if (k.d == c->d && k.n_layer == c->n_layer && k.n_head == c->n_head && k.mlp_ratio == c->mlp_ratio)
            return names[i];
    }
    return NULL;
}

static void format_duration(char *buf, size_t size, double s)
{
    if (s < 60) snprintf(buf, size, "%.1f s", s);
    else if (s < 3600) snprintf(buf, size, "%d min %02d s", (int)(s / 60), (int)s % 60);
    else snprintf(buf, size, "%d h %02d min", (int)(s / 3600), (int)s % 3600 / 60);
}

static void print_training_state(const ns_train_state *st)
{
    char took[32];
    format_duration(took, sizeof took, st->elapsed_s);
    printf("training: step %" PRId64 " of %" PRId64 ", batch %d, lr %g (warm-up %d), seed %" PRId64
           ", %s of training\n",
           st->step, st->steps, st->batch, st->lr, st->warmup, st->seed, took);
    printf("  weight decay %g, clip %g, EMA %g, p-uncond %g, p-token-drop %g, balance %g, val-frac %g, "
           "continuation-share %g\n",
           st->weight_decay, st->clip, st->ema_decay, st->p_uncond, st->p_token_drop, st->balance, st->val_frac,
           st->cont_share);
    if (st->self_cond > 0) printf("  self-cond %g\n", st->self_cond);
}

/* Attribute a's values with the training flows of each, summed over the
 * label combinations; count has room for every value and "none". */
/* The provenance lines, indented; the loader checked that they are printable. */
static void print_provenance(const char *text)
{
    if (!text) {
        printf("provenance: none recorded (a file from before provenance)\n");
        return;
    }
    printf("provenance:\n");
    for (const char *s = text; *s;) {
        const char *nl = strchr(s, '\n');
        printf("  %.*s\n", (int)(nl - s), s);
        s = nl + 1;
    }
}

static void print_model_attribute(const ns_modelfile *m, uint32_t a, uint64_t *count, uint64_t flows)
{
    uint32_t first = m->attr_first[a], n = m->attr_first[a + 1] - first;
    memset(count, 0, ((size_t)n + 1) * sizeof *count);
    for (uint32_t c = 0; c < m->n_combos; c++) {
        int32_t t = m->combo_ids[(size_t)c * m->n_attrs + a];
        count[t < 0 ? n : (uint32_t)t - first] += m->combo_count[c];
    }
    size_t name_len = strlen(m->attr_names[a]) + 1;
    printf("%s: %u values\n", m->attr_names[a], n);
    for (uint32_t v = 0; v <= n; v++) {
        if (v == n && !count[n]) break;
        print_value(v < n ? m->tokens[first + v] + name_len : "(none)", count[v], flows);
    }
}

static int inspect_model(const char *path)
{
    ns_modelfile m;
    int rc = ns_modelfile_load(&m, path);
    if (rc) return rc;
    const ns_model_config *c = &m.cfg;
    const char *named = config_name(c);
    printf("%s: netsynth model%s, version %d\n", path, m.has_state ? " checkpoint" : "", ns_modelfile_version(c));
    printf("network: config %s (d %d, %d layers, %d heads, MLP ratio %d", named ? named : "custom", c->d,
           c->n_layer, c->n_head, c->mlp_ratio);
    if (c->groups > 1) printf(", %d tokens per packet", c->groups);
    if (c->self_cond) printf(", self-conditioned");
    printf(")\n");
    printf("flows: up to %d packets (the dataset kept up to %u), %d of %d bits per packet modelled, payload "
           "bytes %d\n", c->max_packets, m.data_max_packets, c->n_bits, m.repr.width, ns_repr_payload_bytes(&m.repr));
    if (c->len_bins)   /* the length head past the window */
        printf("length: whole flows, in %d log2 bins past the window (up to %llu packets), generated window by "
               "window\n", c->len_bins, (unsigned long long)c->max_packets << c->len_bins);
    printf("parameters: %zu (%.2f MB as float32)\n", m.n_params, (double)m.n_params * sizeof(float) / 1e6);
    printf("noise schedule: cosine, log-SNR shift %g\n", m.sched.logsnr_shift);
    if (c->timing_bins) {
        /* The bins' range as inter-arrival times (repr.h's inverse of the standardised log). */
        double lo = exp(m.repr.bin_lo * m.repr.iat_std + m.repr.iat_mean) - NS_REPR_IAT_FLOOR;
        double hi = exp(m.repr.bin_hi * m.repr.iat_std + m.repr.iat_mean) - NS_REPR_IAT_FLOOR;
        printf("timing: %d bins of log inter-arrival time, %.3g s to %.3g s\n", c->timing_bins, lo > 0 ? lo : 0, hi);
    } else {
        printf("timing: one regressed value (a model from before the timing bins)\n");
    }
    const ns_tmodel_class *every = m.trace ? ns_tmodel_find(m.trace, "") : NULL;
    if (every) {
        printf("trace model: %u classes, learned from %u captures and %u flows (hosts, ports, arrivals)\n",
               m.trace->n_classes, every->captures, every->flows);
        uint64_t tcp = (uint64_t)every->close[0] + every->close[1] + every->close[2];
        if (tcp)
            printf("  TCP flows close: FIN %.1f%%, RST %.1f%%, neither %.1f%% (each class its own shares)\n",
                   pct(every->close[NS_TM_CLOSE_FIN], tcp), pct(every->close[NS_TM_CLOSE_RST], tcp),
                   pct(every->close[NS_TM_CLOSE_OPEN], tcp));
        else
            printf("  TCP closes: none learned (trace model version 1, or no whole-flow totals): as the rows ask\n");
        uint64_t hs = 0, half = 0;
        for (int i = 0; i < NS_TM_HS_BINS; i++) hs += every->hs_gap[0][i];
        int mid = 0;
        for (; mid < NS_TM_HS_BINS && 2 * (half += every->hs_gap[0][mid]) < hs; mid++) {}
        if (hs)   /* the median's bin, at its geometric middle */
            printf("  TCP handshakes: %llu, SYN -> SYN-ACK median about %.3g ms (each class its own gaps; rows' "
                   "gaps outside them are drawn from them)\n", (unsigned long long)hs,
                   1e3 * pow(10, (mid + 0.5) / NS_TM_HS_PER_DECADE - 5));
        else
            printf("  TCP handshakes: no gaps learned (trace model version 3 or older): as the rows have them\n");
        if (every->group_addr[0]) {
            printf("  UDP services to a group (of their flows; each class its own):");
            for (int i = 0; i < NS_TM_GROUPS && every->group_addr[i]; i++) {
                uint32_t a = every->group_addr[i];
                printf("%s %u -> %u.%u.%u.%u %.0f%%", i ? "," : "", every->group_port[i], a >> 24, a >> 16 & 255,
                       a >> 8 & 255, a & 255, pct(every->group_flows[i], every->group_port_flows[i]));
                if (every->group_zero[i]) printf(" (%.0f%% from 0.0.0.0)", pct(every->group_zero[i], every->group_flows[i]));
            }
            printf("\n");
        } else
            printf("  UDP services to a group: none learned (trace model version 3 or older, or none in the dataset): "
                   "every flow to a server\n");
        if (every->svc_multi)
            printf("  services (a capture's flows to one server port): %.0f%% from one client, %.0f%% to one server "
                   "(each class and port its own shares)\n", pct(every->svc_one, every->svc_multi),
                   pct(every->svc_one_server, every->svc_multi));
        else
            printf("  services: none learned (trace model version 6 or older): each flow's hosts drawn alone\n");
        if (m.trace->version < 8)
            printf("  gateway: none learned (trace model version 7 or older): DNS and DHCP servers of the server net, "
                   "no ARP or IGMP frames\n");
        else if (every->gw_port_flows[0] + every->gw_port_flows[1])
            printf("  gateway (the client net's last host, which ARP resolves): DNS %.0f%%, DHCP %.0f%% of unicast "
                   "flows (each class its own shares)\n", pct(every->gw_flows[0], every->gw_port_flows[0]),
                   pct(every->gw_flows[1], every->gw_port_flows[1]));
        else
            printf("  gateway: no unicast DNS or DHCP flow in the dataset (ARP and IGMP frames still planned)\n");
    } else
        printf("trace model: none (a version 1 file): generate lays flows out by the fixed plan\n");
    if (m.has_state) print_training_state(&m.st);
    else printf("training state: none (generate needs none; train --resume takes the .ckpt beside it)\n");
    print_provenance(m.provenance);

    uint64_t flows = 0;
    for (uint32_t k = 0; k < m.n_combos; k++) flows += m.combo_count[k];
    printf("\nvocabulary: %u tokens in %u attributes, with the training flows of each value\n", m.n_tokens,
           m.n_attrs);
    uint64_t *count = malloc(((size_t)m.n_tokens + 1) * sizeof *count);
    if (!count) {
        ns_modelfile_free(&m);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    for (uint32_t a = 0; a < m.n_attrs; a++) {
        printf("\n");
        print_model_attribute(&m, a, count, flows);
    }
    free(count);
    printf("\nlabel combinations: %u (%" PRIu64 " training flows)\n", m.n_combos, flows);
    ns_modelfile_free(&m);
    return NS_OK;
}

static int inspect_control(const char *path)
{
    ns_controlnet ctl;
    int rc = ns_controlnet_load(&ctl, path);
    if (rc) return rc;
    const ns_model_config *c = &ctl.cfg;
    const char *named = config_name(c);
    printf("%s: netsynth control branch, version %d\n", path, ctl.provenance ? 2 : 1);
    printf("branch: copies of the first %d of the model's %d blocks, %d control features per packet\n",
           ctl.n_blocks, c->n_layer, NS_CONTROL_FEATURES);
    printf("parameters: %zu (%.2f MB as float32)\n", ctl.n_params, (double)ctl.n_params * sizeof(float) / 1e6);
    printf("for the model: config %s (d %d, %d layers, %d heads), %d packets, %d bits, %d tokens; weights CRC-32 "
           "%08x\n",
           named ? named : "custom", c->d, c->n_layer, c->n_head, c->max_packets, c->n_bits, c->vocab, ctl.base_crc);
    print_provenance(ctl.provenance);
    ns_controlnet_free(&ctl);
    return NS_OK;
}

static int inspect_lora(const char *path)
{
    ns_lora a;
    int rc = ns_lora_load(&a, path);
    if (rc) return rc;
    printf("%s: netsynth LoRA adapter, version %d\n", path, NS_LORA_VERSION);
    printf("rank %d, alpha %g; parameters: %zu (%.2f MB as float32)\n", a.rank, a.alpha, a.n_params,
           (double)a.n_params * sizeof(float) / 1e6);
    printf("for the model: d %d, %d layers, MLP ratio %d, output %d; weights CRC-32 %08x\n", a.d, a.n_layer,
           a.mlp_ratio, a.out_dim, a.base_crc);
    uint64_t flows = 0;
    for (uint32_t c = 0; c < a.n_combos; c++) flows += a.combo_count[c];
    printf("\ntokens of its data: %u (%u new, with an embedding of their own)\n", a.n_tokens, a.n_emb);
    for (uint32_t t = 0; t < a.n_tokens; t++) {
        uint64_t n = 0;
        for (uint32_t c = 0; c < a.n_combos; c++)
            for (uint32_t k = 0; k < a.n_attrs; k++)
                if (a.combo_tok[(size_t)c * a.n_attrs + k] == (int32_t)t) n += a.combo_count[c];
        printf("  %-24s %8" PRIu64 " flows%s\n", a.tokens[t], n, a.has_emb[t] ? "  (new)" : "");
    }
    printf("\nlabel combinations: %u (%" PRIu64 " fine-tuning flows)\n", a.n_combos, flows);
    print_provenance(a.provenance);
    ns_lora_free(&a);
    return NS_OK;
}

static const struct kind {
    const char magic[8];
    const char *what;
    int (*inspect)(const char *path);
} kinds[] = {
    {NS_DATASET_MAGIC, "dataset", inspect_dataset},
    {NS_MODEL_MAGIC, "model", inspect_model},
    {NS_LORA_MAGIC, "LoRA adapter", inspect_lora},
    {NS_CONTROL_MAGIC, "control branch", inspect_control},
};

int cmd_inspect(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        size_t n = sizeof kinds / sizeof kinds[0];
        printf("usage: netsynth inspect FILE\n\nSummarises a netsynth file; it knows");
        for (size_t i = 0; i < n; i++) printf("%s%s", i == 0 ? " " : i + 1 < n ? ", " : " and ", kinds[i].what);
        printf(" files.\nA model, adapter or control branch also says how it was made (its provenance:\n"
               "config, steps, losses, dataset and checksum, build, date, command line).\n\n"
               "  -V, --version  print the version\n  -h, --help     this text\n");
        return NS_OK;
    }
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) return cli_version();
    if (argc != 2) return ns_error(NS_EARG, "expected one FILE (netsynth inspect --help)");
    const char *path = argv[1];
    FILE *fp = fopen(path, "rb");
    if (!fp) return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(errno));
    char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (got == sizeof magic && !memcmp(magic, kinds[i].magic, sizeof magic)) return kinds[i].inspect(path);
    /* Every netsynth magic starts "NSYN": a file cut inside it is one of ours. */
    if (got < sizeof magic && got > 0 && !memcmp(magic, "NSYN", got < 4 ? got : 4))
        return ns_error(NS_ETRUNC, "%s: truncated: %zu bytes, shorter than a netsynth file's magic", path, got);
    if (!got) return ns_error(NS_EFORMAT, "%s: empty file, not a netsynth file", path);
    size_t n = sizeof kinds / sizeof kinds[0];
    char known[128];
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", i == 0 ? "" : i + 1 < n ? ", " : " or ",
                               kinds[i].what);
    return ns_error(NS_EFORMAT, "%s: not a netsynth file (not a %s: its first 8 bytes are no netsynth magic)", path,
                    known);
}
