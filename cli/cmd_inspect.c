/* cmd_inspect.c: `netsynth inspect FILE`, a summary of any netsynth file.
 * The first 8 bytes (the magic) pick the summariser; add model files to
 * `kinds` below when they exist. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"

static double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0.0; }

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
        const char *value = v < n ? ds->tokens[first + v] + name_len : "(none)";
        printf("  %-24s %8" PRIu64 " flows %5.1f%%\n", value, count[v], pct(count[v], ds->n_flows));
    }
}

static int inspect_dataset(const char *path)
{
    ns_dataset ds;
    int rc = ns_dataset_load(&ds, path);
    if (rc) return rc;
    printf("%s: netsynth dataset, version %d\n", path, NS_DATASET_VERSION);
    printf("flows %" PRIu64 ", packets %" PRIu64 ", captures %u; up to %u packets per flow, rows of %u values,\n"
           "IP addresses %s, idle timeout ", ds.n_flows, ds.n_packets, ds.n_files, ds.max_packets, ds.width,
           ds.flags & NS_DS_KEEP_ADDRESSES ? "kept" : "blanked");
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

    /* Flow lengths (packets kept) in power-of-two buckets: 1, 2, 3-4, 5-8, ... */
    uint64_t hist[12] = {0}, seen_cut = 0;
    for (uint64_t i = 0; i < ds.n_flows; i++) {
        uint32_t n = ds.flows[i].n_packets, b = 0;
        while ((1u << b) < n) b++;
        hist[b]++;
        seen_cut += ds.flows[i].seen > n;
    }
    printf("\nflow length (packets kept)\n");
    uint64_t most = 1;
    for (int b = 0; b < 12; b++) most = hist[b] > most ? hist[b] : most;
    for (int b = 0; b < 12; b++) {
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

    static const struct { uint8_t proto; const char *name; } protos[] = {{6, "TCP"}, {17, "UDP"}, {1, "ICMP"}};
    printf("\nprotocol        flows              packets\n");
    for (size_t p = 0; p < 3; p++) {
        uint64_t flows = 0, packets = 0;
        for (uint64_t i = 0; i < ds.n_flows; i++)
            if (ds.flows[i].proto == protos[p].proto) flows++, packets += ds.flows[i].n_packets;
        printf("  %-6s %8" PRIu64 " %5.1f%%   %9" PRIu64 " %5.1f%%\n", protos[p].name, flows, pct(flows, ds.n_flows),
               packets, pct(packets, ds.n_packets));
    }
    uint64_t s2c = 0;
    for (uint64_t k = 0; k < ds.n_packets; k++) s2c += ds.dir[k];
    printf("\ndirection: client->server %" PRIu64 " (%.1f%%), server->client %" PRIu64 " (%.1f%%)\n",
           ds.n_packets - s2c, pct(ds.n_packets - s2c, ds.n_packets), s2c, pct(s2c, ds.n_packets));
    ns_dataset_free(&ds);
    return NS_OK;
}

static const struct kind {
    const char magic[8];
    const char *what;
    int (*inspect)(const char *path);
} kinds[] = {
    {NS_DATASET_MAGIC, "dataset", inspect_dataset},
};

int cmd_inspect(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: netsynth inspect FILE\n\nSummarises a netsynth file; it knows:");
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) printf(" %s", kinds[i].what);
        printf(" files.\n");
        return NS_OK;
    }
    if (argc != 2) return ns_error(NS_EARG, "expected one FILE (netsynth inspect --help)");
    const char *path = argv[1];
    FILE *fp = fopen(path, "rb");
    if (!fp) return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(errno));
    char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (got == sizeof magic && !memcmp(magic, kinds[i].magic, sizeof magic)) return kinds[i].inspect(path);
    return ns_error(NS_EFORMAT, "%s: not a netsynth file (unknown magic)", path);
}
