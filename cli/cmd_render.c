/* cmd_render.c: `netsynth render`, flows -> PNG images in the paper's colours
 * (a row per packet, a pixel per header bit: 1 red, 0 green, -1 grey). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/gen_write.h"
#include "netsynth/image.h"
#include "netsynth/nprint.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: netsynth render --data DATASET -o DIR [-n N] [--label ATTR=VALUE] [--scale S]\n"
            "       netsynth render -i FILE.csv -o FILE.png [--scale S]\n"
            "       netsynth render -i FILE.csv --per-flow -o DIR [-n N] [--scale S]\n"
            "\n"
            "Draws flows as PNG images: a row of pixels per packet, a pixel per header\n"
            "bit, 1 red, 0 green, -1 grey. `netsynth unrender` reads them back.\n"
            "\n"
            "  --data FILE         a dataset file (`netsynth dataset`): one image per flow,\n"
            "                      DIR/<flow index>_<label values>.png\n"
            "  -i FILE.csv         an nPrint CSV: one image of all its rows (payload\n"
            "                      columns, -p, after the header bits)\n"
            "  --per-flow          with -i: one image per distinct value of the CSV's first\n"
            "                      (index) column, DIR/<n>_<value>.png in order of first row\n"
            "  -o PATH             output: a directory (created if absent) for --data and\n"
            "                      --per-flow, else the PNG file; written atomically (a directory's\n"
            "                      images all or none: staged in DIR.tmp.XXXXXX, other files stay)\n"
            "  -n N                only the first N flows (after --label)\n"
            "  --label ATTR=VALUE  with --data: only flows with this label, e.g. device=HueBridge\n"
            "  --scale S           draw each bit as an SxS block, for viewing (1..%d, default 1);\n"
            "                      the image records it and unrender reads it back\n"
            "  -q, --quiet         no summary\n"
            "  -V, --version       print the version\n"
            "  -h, --help          this text\n"
            "\n"
            "An image holds at most %d rows: longer flows keep their first %d packets\n"
            "(with a warning).\n",
            NS_IMAGE_MAX_SCALE, NS_IMAGE_MAX_ROWS, NS_IMAGE_MAX_ROWS);
}

struct render {
    const char *out;       /* directory or file */
    long max_flows;        /* 0: all */
    int scale;
    uint64_t written, cut; /* images written; images whose rows were cut */
};

/* Write rows x cols values as one image, keeping at most NS_IMAGE_MAX_ROWS rows. */
static int draw(struct render *r, const char *path, const int8_t *m, size_t rows, int cols)
{
    if (rows > NS_IMAGE_MAX_ROWS) {
        rows = NS_IMAGE_MAX_ROWS;
        r->cut++;
    }
    int rc = ns_image_write(path, m, (int)rows, cols, r->scale);
    if (rc == NS_OK) r->written++;
    return rc;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return NS_OK;
        return ns_error(NS_EIO, "%s: not a directory", dir);
    }
    return ns_error(NS_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
}

/* Append text to name[len..] as file-name-safe characters; returns the new length. */
static size_t append_safe(char *name, size_t len, size_t size, const char *text)
{
    for (; *text && len + 1 < size; text++) {
        char ch = *text;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '+' || ch == '-' || ch == '=' || ch == '_';
        if (len == 0 && ch == '.') ok = 0;   /* no hidden files */
        name[len++] = ok ? ch : '-';
    }
    name[len] = 0;
    return len;
}

/* DIR/<n>_<label>.png; NS_EARG when it does not fit. */
static int image_path(char *buf, size_t size, const char *dir, uint64_t n, const char *label)
{
    char safe[128];
    append_safe(safe, 0, sizeof safe, label);
    int len = snprintf(buf, size, "%s/%" PRIu64 "_%s.png", dir, n, safe);
    if (len < 0 || (size_t)len >= size) return ns_error(NS_EARG, "%s: output path too long", dir);
    return NS_OK;
}

/* ---- dataset flows ---- */

/* The flow's label values joined by '_' ("HueBridge_TLS"), "unlabelled" if none. */
static void flow_label(const ns_dataset *ds, uint64_t i, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (uint32_t a = 0; a < ds->n_attrs; a++) {
        int32_t t = ds->labels[i * ds->n_attrs + a];
        if (t < 0) continue;
        const char *eq = strchr(ds->tokens[t], '=');
        if (len && len + 1 < size) buf[len++] = '_';
        len = append_safe(buf, len, size, eq ? eq + 1 : ds->tokens[t]);
    }
    if (!len) snprintf(buf, size, "unlabelled");
}

static int render_dataset(struct render *r, const char *path, const char *label)
{
    ns_dataset ds;
    int rc = ns_dataset_load(&ds, path);
    if (rc) return rc;
    int32_t tok = -1;
    uint32_t attr = 0;
    if (label) {
        if ((tok = ns_dataset_token(&ds, label)) < 0) {
            rc = ds.n_tokens ? ns_error(NS_EARG, "%s: no flow is labelled '%s' (labels look like '%s')", path,
                                        label, ds.tokens[0])
                             : ns_error(NS_EARG, "%s: has no labels, so none is '%s'", path, label);
            ns_dataset_free(&ds);
            return rc;
        }
        while (attr + 1 < ds.n_attrs && (uint32_t)tok >= ds.attr_first[attr + 1]) attr++;
    }
    int8_t *m = malloc((size_t)ds.max_packets * ds.width);
    if (!m) rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
    if (!rc) rc = make_dir(r->out);
    for (uint64_t i = 0; !rc && i < ds.n_flows && (!r->max_flows || r->written < (uint64_t)r->max_flows); i++) {
        if (label && ds.labels[i * ds.n_attrs + attr] != tok) continue;
        char name[256], out[4096];
        flow_label(&ds, i, name, sizeof name);
        if ((rc = image_path(out, sizeof out, r->out, i, name))) break;
        ns_dataset_flow_matrix(&ds, i, m);
        rc = draw(r, out, m, ds.flows[i].n_packets, (int)ds.width);
    }
    /* An empty directory would pass for a rendering. */
    if (!rc && r->written == 0)
        rc = ns_error(NS_EFORMAT, "%s: no flow%s%s to draw", path, label ? " labelled " : "", label ? label : "");
    free(m);
    ns_dataset_free(&ds);
    return rc;
}

/* ---- nPrint CSV ---- */

struct keyed_row {
    const char *key;       /* the row's index value */
    size_t row;
};

static int by_key_then_row(const void *a, const void *b)
{
    const struct keyed_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* A run of `order` with one index value; its first row decides its place. */
struct group {
    size_t start, n, first_row;
};

static int by_first_row(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    return (x->first_row > y->first_row) - (x->first_row < y->first_row);
}

static int render_groups(struct render *r, const ns_nprint_csv *csv, const struct keyed_row *order,
                         const struct group *g, size_t ng)
{
    size_t keep = r->max_flows && (size_t)r->max_flows < ng ? (size_t)r->max_flows : ng;
    size_t most = 0;
    for (size_t k = 0; k < keep; k++) most = g[k].n > most ? g[k].n : most;
    if (most > NS_IMAGE_MAX_ROWS) most = NS_IMAGE_MAX_ROWS;
    int8_t *m = malloc(most * (size_t)csv->width);
    int rc = m ? make_dir(r->out) : ns_error(NS_ENOMEM, "out of memory");
    for (size_t k = 0; !rc && k < keep; k++) {
        size_t rows = g[k].n < most ? g[k].n : most;
        for (size_t i = 0; i < rows; i++)
            memcpy(m + i * (size_t)csv->width, csv->bits + order[g[k].start + i].row * (size_t)csv->width,
                   (size_t)csv->width);
        char out[4096];
        if (!(rc = image_path(out, sizeof out, r->out, k, order[g[k].start].key)))
            rc = draw(r, out, m, g[k].n, csv->width);  /* draw() counts a cut */
    }
    free(m);
    return rc;
}

static int render_per_flow(struct render *r, const ns_nprint_csv *csv)
{
    struct keyed_row *order = malloc(csv->rows * sizeof *order);
    struct group *g = malloc(csv->rows * sizeof *g);
    if (!order || !g) {
        free(order);
        free(g);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < csv->rows; i++) order[i] = (struct keyed_row){csv->index_text + csv->index_off[i], i};
    qsort(order, csv->rows, sizeof *order, by_key_then_row);
    size_t ng = 0;
    for (size_t i = 0; i < csv->rows; i++) {
        if (i == 0 || strcmp(order[i].key, order[i - 1].key)) g[ng++] = (struct group){i, 0, order[i].row};
        g[ng - 1].n++;
    }
    qsort(g, ng, sizeof *g, by_first_row);
    int rc = render_groups(r, csv, order, g, ng);
    free(order);
    free(g);
    return rc;
}

/* A CSV's -p columns drawn after its header bits, as a model row has its
 * payload layer: the reader keeps them apart. */
static int join_payload(ns_nprint_csv *c, const char *path)
{
    size_t pbits = 8 * (size_t)c->payload_bytes, w = (size_t)c->width + pbits;
    int8_t *m = malloc(c->rows * w + 1);
    if (!m) return ns_error(NS_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < c->rows; i++) {
        memcpy(m + i * w, c->bits + i * (size_t)c->width, (size_t)c->width);
        memcpy(m + i * w + c->width, c->payload + i * pbits, pbits);
    }
    free(c->bits), free(c->payload);
    c->bits = m, c->payload = NULL;
    c->width = (int)w, c->payload_bytes = 0;
    return NS_OK;
}

static int render_csv(struct render *r, const char *path, int per_flow)
{
    ns_nprint_csv csv;
    int rc = ns_nprint_csv_read(path, &csv);
    if (rc) return rc;
    if (csv.payload_bytes && csv.rows) rc = join_payload(&csv, path);
    if (rc)
        ;
    else if (csv.rows == 0)
        rc = ns_error(NS_EFORMAT, "%s: no rows to draw", path);
    else if (per_flow)
        rc = render_per_flow(r, &csv);
    else
        rc = draw(r, r->out, csv.bits, csv.rows, csv.width);
    ns_nprint_csv_free(&csv);
    return rc;
}

int cmd_render(int argc, char **argv)
{
    enum { O_DATA = 256, O_LABEL, O_PER_FLOW, O_SCALE };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, O_DATA},   {"label", required_argument, NULL, O_LABEL},
        {"per-flow", no_argument, NULL, O_PER_FLOW}, {"scale", required_argument, NULL, O_SCALE},
        {"output", required_argument, NULL, 'o'},    {"help", no_argument, NULL, 'h'},
        {"quiet", no_argument, NULL, 'q'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    struct render r = {.scale = 1};
    const char *data = NULL, *csv = NULL, *label = NULL;
    int per_flow = 0, quiet = 0, c, rc;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "i:o:n:hqV", longopts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case 'i': csv = optarg; break;
        case 'o': r.out = optarg; break;
        case 'n':
            if ((rc = cli_parse_long("-n", optarg, 1, 1L << 62, &r.max_flows))) return rc;
            break;
        case O_LABEL: label = optarg; break;
        case O_PER_FLOW: per_flow = 1; break;
        case O_SCALE:
            if ((rc = cli_parse_long("--scale", optarg, 1, NS_IMAGE_MAX_SCALE, &v))) return rc;
            r.scale = (int)v;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return NS_OK;
        case 'V': return cli_version();
        default:
            return ns_error(NS_EARG, "unknown or incomplete option '%s' (netsynth render --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return ns_error(NS_EARG, "unexpected argument '%s'", argv[optind]);
    if (!data == !csv) return ns_error(NS_EARG, "give one input: --data DATASET or -i FILE.csv");
    if (!r.out) return ns_error(NS_EARG, "no output given (-o %s)", data || per_flow ? "DIR" : "FILE.png");
    if (label && !data) return ns_error(NS_EARG, "--label filters dataset flows: it needs --data");
    if (per_flow && !csv) return ns_error(NS_EARG, "--per-flow splits a CSV: it needs -i");
    if (r.max_flows && csv && !per_flow) return ns_error(NS_EARG, "-n counts flows: it needs --data or --per-flow");

    /* A directory of images is all or nothing, as generate's (ns_gen_stage):
     * drawn into DIR.tmp.XXXXXX, moved into DIR at the end. */
    ns_gen_stage stage;
    const char *dir = r.out;
    if ((data || per_flow) && (rc = ns_gen_stage_open(&stage, dir, NULL, 1))) return rc;
    if (data || per_flow) r.out = stage.tmp;
    rc = data ? render_dataset(&r, data, label) : render_csv(&r, csv, per_flow);
    if (data || per_flow) {
        r.out = dir;
        if (rc) {
            ns_gen_stage_abort(&stage);
            return ns_error_wrap(rc, "%s: nothing written", dir);
        }
        rc = ns_gen_stage_commit(&stage);
    }
    if (rc || quiet) return rc;
    if (r.cut)
        cli_warn("%" PRIu64 " flow%s longer than %d packets: kept the first %d", r.cut, r.cut == 1 ? "" : "s",
                 NS_IMAGE_MAX_ROWS, NS_IMAGE_MAX_ROWS);
    if (data || per_flow) cli_warn("%" PRIu64 " image%s in %s", r.written, r.written == 1 ? "" : "s", r.out);
    return NS_OK;
}
