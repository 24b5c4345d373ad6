/* cmd_subset.c: `netsynth subset`, some of a dataset's flows -> a new dataset.
 *
 * What the coverage experiments need: a base model trained without some
 * classes (--exclude device=X) or without some attribute pairs (--exclude
 * "device=X service=DNS"), and a few flows of the left-out classes to
 * fine-tune on (--only device=X --per-class 100). The vocabulary is kept
 * whole, so token ids stay those of the original file. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: netsynth subset --data DS -o OUT [--only TOKENS]... [--exclude TOKENS]...\n"
            "                       [--per-class N [--label NAME]]\n"
            "\n"
            "Writes the flows of DS that the filters keep as a new dataset file, with\n"
            "DS's whole vocabulary (so token ids, and models, stay compatible).\n"
            "\n"
            "  --data DS          the dataset file (required)\n"
            "  -o OUT             the dataset to write, atomically (required)\n"
            "  --only TOKENS      keep a flow only if it has every token of TOKENS, e.g.\n"
            "                     \"device=HueBridge\"; repeated: any one of them\n"
            "  --exclude TOKENS   drop the flows that have every token of TOKENS, e.g.\n"
            "                     \"device=HueBridge service=DNS\" (repeatable)\n"
            "  --per-class N      then at most N flows per value of --label, spread evenly\n"
            "                     over that class's flows in file order\n"
            "  --label NAME       the attribute --per-class counts by (default: the first)\n"
            "  -q, --quiet        no summary\n"
            "  -V, --version      print the version\n"
            "  -h, --help         this text\n");
}

enum { MAX_SETS = 64, MAX_SET_TOKENS = 8 };

/* A token set: the flows that have all of its tokens match it. */
typedef struct token_set {
    int n;
    int32_t attr[MAX_SET_TOKENS], id[MAX_SET_TOKENS];
} token_set;

static int parse_set(const ns_dataset *ds, const char *opt, const char *text, token_set *set)
{
    char buf[1024];
    if (strlen(text) >= sizeof buf) return ns_error(NS_EARG, "%s: '%.40s...' is too long", opt, text);
    strcpy(buf, text);
    set->n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
        int32_t id = ns_dataset_token(ds, tok);
        if (id < 0)
            return ns_error(NS_EARG, "%s: the dataset has no token '%s' (netsynth inspect lists them)", opt, tok);
        if (set->n == MAX_SET_TOKENS) return ns_error(NS_EARG, "%s: more than %d tokens", opt, MAX_SET_TOKENS);
        set->attr[set->n] = ns_dataset_token_attr(ds, id);
        set->id[set->n++] = id;
    }
    if (!set->n) return ns_error(NS_EARG, "%s: no tokens in '%s'", opt, text);
    return NS_OK;
}

static int matches(const ns_dataset *ds, uint64_t flow, const token_set *set)
{
    for (int k = 0; k < set->n; k++)
        if (ds->labels[flow * ds->n_attrs + (uint32_t)set->attr[k]] != set->id[k]) return 0;
    return 1;
}

/* Keep at most n flows of each class: the j-th of a class's c flows stays
 * when floor(j n / c) steps, which spreads the kept ones evenly. */
static int cap_per_class(const ns_dataset *ds, uint8_t *keep, int attr, uint64_t n)
{
    uint32_t T = ds->n_tokens + 1;
    uint64_t *count = calloc(T, sizeof *count), *seen = calloc(T, sizeof *seen);
    if (!count || !seen) {
        free(count), free(seen);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t i = 0; i < ds->n_flows; i++) {
            if (!keep[i]) continue;
            int32_t id = ds->labels[i * ds->n_attrs + (uint32_t)attr];
            uint32_t c = id < 0 ? ds->n_tokens : (uint32_t)id;
            if (!pass) {
                count[c]++;
                continue;
            }
            uint64_t j = seen[c]++;
            if (count[c] > n && (j * n) / count[c] == ((j + 1) * n) / count[c]) keep[i] = 0;
        }
    free(count), free(seen);
    return NS_OK;
}

int cmd_subset(int argc, char **argv)
{
    enum { O_DATA = 256, O_ONLY, O_EXCLUDE, O_PER_CLASS, O_LABEL };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, O_DATA},       {"output", required_argument, NULL, 'o'},
        {"only", required_argument, NULL, O_ONLY},       {"exclude", required_argument, NULL, O_EXCLUDE},
        {"per-class", required_argument, NULL, O_PER_CLASS}, {"label", required_argument, NULL, O_LABEL},
        {"quiet", no_argument, NULL, 'q'},               {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},             {NULL, 0, NULL, 0}};
    const char *data = NULL, *out = NULL, *label = NULL, *only_text[MAX_SETS], *excl_text[MAX_SETS];
    int n_only = 0, n_excl = 0, quiet = 0, c, rc = NS_OK;
    long per_class = 0;
    optind = 1;
    opterr = 0;
    while (rc == NS_OK && (c = getopt_long(argc, argv, "o:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case 'o': out = optarg; break;
        case O_ONLY:
        case O_EXCLUDE:
            if ((c == O_ONLY ? n_only : n_excl) == MAX_SETS)
                return ns_error(NS_EARG, "more than %d --only or --exclude options", MAX_SETS);
            if (c == O_ONLY) only_text[n_only++] = optarg;
            else excl_text[n_excl++] = optarg;
            break;
        case O_PER_CLASS: rc = cli_parse_long("--per-class", optarg, 1, 1000000000L, &per_class); break;
        case O_LABEL: label = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (see netsynth subset --help)",
                            argv[optind - 1]);
        }
    }
    if (rc) return rc;
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!data || !out) return ns_error(NS_EARG, "--data and -o are required (see netsynth subset --help)");
    if (label && !per_class) return ns_error(NS_EARG, "--label goes with --per-class");

    ns_dataset ds;
    if ((rc = ns_dataset_load(&ds, data))) return rc;
    token_set only[MAX_SETS], excl[MAX_SETS];
    uint8_t *keep = NULL;
    int attr = 0;
    for (int k = 0; !rc && k < n_only; k++) rc = parse_set(&ds, "--only", only_text[k], &only[k]);
    for (int k = 0; !rc && k < n_excl; k++) rc = parse_set(&ds, "--exclude", excl_text[k], &excl[k]);
    if (!rc && per_class && (attr = label ? ns_dataset_attr(&ds, label) : (ds.n_attrs ? 0 : -1)) < 0)
        rc = ns_error(NS_EARG, "%s: no attribute '%s' to count classes by", data, label ? label : "(none)");
    if (!rc && !(keep = malloc(ds.n_flows + 1))) rc = ns_error(NS_ENOMEM, "out of memory");
    if (rc) goto done;
    for (uint64_t i = 0; i < ds.n_flows; i++) {
        int k = !n_only;
        for (int s = 0; s < n_only && !k; s++) k = matches(&ds, i, &only[s]);
        for (int s = 0; s < n_excl && k; s++) k = !matches(&ds, i, &excl[s]);
        keep[i] = (uint8_t)k;
    }
    if (per_class && (rc = cap_per_class(&ds, keep, attr, (uint64_t)per_class))) goto done;
    uint64_t kept = 0;
    for (uint64_t i = 0; i < ds.n_flows; i++) kept += keep[i];
    if (!kept) {
        rc = ns_error(NS_EARG, "%s: the filters keep no flow (nothing written)", data);
        goto done;
    }
    if ((rc = ns_dataset_write_subset(&ds, keep, out))) goto done;
    if (!quiet) printf("%s: %" PRIu64 " of %" PRIu64 " flows\n", out, kept, ds.n_flows);
done:
    free(keep);
    ns_dataset_free(&ds);
    return rc;
}
