/* applayer.c: nDPI's and tshark's view of each class's content, real test against synthetic. */
#include "netsynth/applayer.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/labels.h"

/* Longer frames than any link here carries; a longer wire length is kept as captured. */
#define APP_MAX_FRAME 65536

typedef struct app_row {
    char *path;
    int side, cls;
} app_row;

/* A side's captures zero-filled into one file for tshark, one such file for each
 * link type met (a pcap holds one): a tshark run per side, not per class, as
 * each run costs tshark's start. cls[i] is the class of frame i + 1. */
typedef struct app_merged {
    char path[4200];
    FILE *fp;
    ns_pcap_writer w;
    int type;
    uint8_t *cls;
    size_t n, cap;
} app_merged;

#define APP_MERGED 4 /* link types of one side; captures of more are left out of tshark's counts */

typedef struct app_run {
    ns_applayer *a;
    app_row *rows;
    size_t n_rows, cap_rows;
    char tmp[4096];
    app_merged merged[2][APP_MERGED];
    int n_merged[2];
    /* nDPI's flows: protocol names ("TLS.Google") with side and class */
    struct app_flow { char name[48]; int side, cls; } *flows;
    size_t n_flows, cap_flows;
    /* tshark's application layers of the real test packets, per class: name and count */
    struct app_layer { char name[32]; int cls; uint64_t n; } layers[256];
    size_t n_layers;
} app_run;

/* The class of value, added when new; -1 past NS_APPLAYER_CLASSES. */
static int class_of(ns_applayer *a, const char *value)
{
    for (size_t i = 0; i < a->n_classes; i++)
        if (!strcmp(a->cls[i].value, value)) return (int)i;
    if (a->n_classes == NS_APPLAYER_CLASSES) return -1;
    ns_applayer_class *c = &a->cls[a->n_classes];
    snprintf(c->value, sizeof c->value, "%s", value);
    return (int)a->n_classes++;
}

static int read_side(app_run *r, const ns_trace_source *src, const char *label, int side)
{
    ns_labels t;
    const char *path = src->table;
    int rc = ns_labels_load(&t, path);
    if (rc) return rc;
    int col_path = ns_labels_column(&t, "path"), col_split = ns_labels_column(&t, "split");
    int col_label = ns_labels_column(&t, label);
    if (col_path < 0) rc = ns_error(NS_EFORMAT, "%s: no 'path' column", path);
    else if (col_label < 0) rc = ns_error(NS_EFORMAT, "%s: no column '%s'", path, label);
    else if (src->split && col_split < 0) rc = ns_error(NS_EFORMAT, "%s: no 'split' column", path);
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    for (size_t i = 0; !rc && i < t.n_rows; i++) {
        if (src->split && strcmp(ns_labels_cell(&t, i, col_split), src->split)) continue;
        int cls = class_of(r->a, ns_labels_cell(&t, i, col_label));
        if (cls < 0) {
            r->a->classes_left_out++;
            continue;
        }
        if (r->n_rows == r->cap_rows) {
            size_t cap = r->cap_rows ? 2 * r->cap_rows : 64;
            app_row *n = realloc(r->rows, cap * sizeof *n);
            if (!n) {
                rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
                break;
            }
            r->rows = n, r->cap_rows = cap;
        }
        const char *p = ns_labels_cell(&t, i, col_path);
        size_t len = (size_t)dir_len + strlen(p) + 1;
        char *full = malloc(len);
        if (!full) {
            rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
            break;
        }
        snprintf(full, len, "%.*s%s", p[0] == '/' ? 0 : dir_len, path, p);
        r->rows[r->n_rows++] = (app_row){full, side, cls};
        r->a->cls[cls].captures[side]++;
    }
    ns_labels_free(&t);
    return rc;
}

/* The link type to write for a capture's DLT_* value (they differ for raw IP). */
static int linktype_of(int dlt)
{
#ifdef DLT_RAW
    if (dlt == DLT_RAW) return NS_LINKTYPE_RAW;
#endif
    return dlt;
}

/* The side's file for link type lt, opened when new; NULL past APP_MERGED. */
static app_merged *merged_for(app_run *r, int side, int lt, int *rc)
{
    for (int i = 0; i < r->n_merged[side]; i++)
        if (r->merged[side][i].type == lt) return &r->merged[side][i];
    if (r->n_merged[side] == APP_MERGED) return NULL;
    app_merged *m = &r->merged[side][r->n_merged[side]];
    snprintf(m->path, sizeof m->path, "%s/s%dt%d.pcap", r->tmp, side, r->n_merged[side]);
    if (!(m->fp = fopen(m->path, "wb"))) {
        *rc = ns_error(NS_EIO, "%s: cannot create: %s", m->path, strerror(errno));
        return NULL;
    }
    r->n_merged[side]++;
    m->type = lt;
    *rc = ns_pcap_writer_begin(&m->w, m->fp, lt, 1);
    return *rc ? NULL : m;
}

/* Copy path to one (a file of its own) and, when tshark runs, append it to
 * its side's file of its link type as frames of class cls, every packet
 * zero-filled to its wire length. */
static int pad_copy(app_run *r, const char *path, FILE *one, int side, int cls, uint8_t *buf)
{
    ns_capture *c;
    int rc = ns_capture_open(&c, path, NULL);
    if (rc) return rc;
    int lt = linktype_of(ns_capture_linktype(c));
    ns_pcap_writer w1;
    rc = ns_pcap_writer_begin(&w1, one, lt, 1);
    app_merged *m = !rc && r->a->has_tshark ? merged_for(r, side, lt, &rc) : NULL;
    ns_frame f;
    int got;
    while (!rc && (got = ns_capture_next(c, &f)) == 1) {
        uint32_t len = f.wirelen > f.caplen && f.wirelen <= APP_MAX_FRAME ? f.wirelen : f.caplen;
        if (len > APP_MAX_FRAME) len = APP_MAX_FRAME;
        uint32_t keep = f.caplen < len ? f.caplen : len;
        memcpy(buf, f.data, keep);
        memset(buf + keep, 0, len - keep);
        rc = ns_pcap_write(&w1, f.ts_ns, buf, len, len);
        if (rc || !m) continue;
        if (m->n == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 4096;
            uint8_t *n = realloc(m->cls, cap);
            if (!n) {
                rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
                break;
            }
            m->cls = n, m->cap = cap;
        }
        m->cls[m->n++] = (uint8_t)cls;
        rc = ns_pcap_write(&m->w, f.ts_ns, buf, len, len);
    }
    if (!rc && got < 0) rc = got;
    ns_capture_close(c);
    if (!rc && fflush(one)) rc = ns_error(NS_EIO, "%s: cannot write a zero-filled copy: %s", path, strerror(errno));
    return rc;
}

/* ndpiReader's flows of one capture: lines "\t1\tTCP a:p <-> b:p [proto: 7.220/HTTP.Cloudflare][...". */
static int ndpi_flows(app_run *r, const char *file, const char *name, int side, int cls)
{
    char q[4200], cmd[4400];
    if (!ns_shell_quote(q, sizeof q, file)) return ns_error(NS_ERANGE, "%s: path too long", name);
    snprintf(cmd, sizeof cmd, "ndpiReader -i %s -d -v 2 -n 1 2>&1", q);
    FILE *p = popen(cmd, "r");
    if (!p) return ns_error(NS_EIO, "%s: cannot run ndpiReader: %s", name, strerror(errno));
    char line[8192];
    int rc = NS_OK;
    while (fgets(line, sizeof line, p)) {
        const char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s < '0' || *s > '9') continue;
        while (*s >= '0' && *s <= '9') s++;
        if (*s != '\t' && *s != ' ') continue;
        const char *pr = strstr(s, "[proto: ");
        const char *slash = pr ? strchr(pr, '/') : NULL, *end = slash ? strchr(slash, ']') : NULL;
        if (!end || (strchr(pr, ']') < slash)) continue;
        if (r->n_flows == r->cap_flows) {
            size_t cap = r->cap_flows ? 2 * r->cap_flows : 256;
            struct app_flow *n = realloc(r->flows, cap * sizeof *n);
            if (!n) {
                rc = ns_error(NS_ENOMEM, "%s: out of memory", name);
                break;
            }
            r->flows = n, r->cap_flows = cap;
        }
        struct app_flow *f = &r->flows[r->n_flows++];
        int len = (int)(end - slash - 1);
        snprintf(f->name, sizeof f->name, "%.*s", len, slash + 1);
        f->side = side, f->cls = cls;
    }
    int st = pclose(p);
    if (!rc && st != 0) rc = ns_error(NS_EIO, "%s: ndpiReader failed (exit status %d)", name, st);
    return rc;
}

/* Whether nDPI's protocol name ("TLS.Google") has proto as one of its dot-separated names. */
static int names_has(const char *name, const char *proto)
{
    size_t n = strlen(proto);
    for (const char *s = name; *s;) {
        size_t len = strcspn(s, ".");
        if (len == n && !strncmp(s, proto, n)) return 1;
        s += len + (s[len] == '.');
    }
    return 0;
}

static void ndpi_tally(app_run *r)
{
    ns_applayer *a = r->a;
    for (size_t c = 0; c < a->n_classes; c++) {
        /* the commonest first name of the class's real flows */
        size_t best = 0;
        for (size_t i = 0; i < r->n_flows; i++) {
            const struct app_flow *f = &r->flows[i];
            if (f->side != NS_APPLAYER_REAL || f->cls != (int)c) continue;
            size_t len = strcspn(f->name, ".");
            if (len == 7 && !strncmp(f->name, "Unknown", 7)) continue;
            size_t n = 0;
            for (size_t j = 0; j < r->n_flows; j++)
                if (r->flows[j].side == NS_APPLAYER_REAL && r->flows[j].cls == (int)c &&
                    strcspn(r->flows[j].name, ".") == len && !strncmp(r->flows[j].name, f->name, len))
                    n++;
            if (n > best) best = n, snprintf(a->cls[c].ndpi, sizeof a->cls[c].ndpi, "%.*s", (int)len, f->name);
        }
    }
    for (size_t i = 0; i < r->n_flows; i++) {
        const struct app_flow *f = &r->flows[i];
        ns_applayer_class *c = &a->cls[f->cls];
        c->flows[f->side]++;
        if (c->ndpi[0] && names_has(f->name, c->ndpi)) c->recognised[f->side]++;
    }
}

/* One packet of tshark's fields "frame number, protocols, tcp.len,
 * udp.length, http.request, http.response": 1 with transport payload,
 * *frame its number, *layer the first layer past TCP or UDP that tshark
 * dissected it as ("" none: data only, or malformed). tshark reads every
 * segment on an HTTP port as HTTP, a body's too: there only a request or a
 * status line counts. */
static int packet_layer(char *line, size_t *frame, const char **layer)
{
    char *end;
    *frame = (size_t)strtoull(line, &end, 10);
    if (*end != '\t') return 0;
    char *f[5] = {end + 1};
    for (int i = 1; i < 5 && f[i - 1]; i++) {
        char *t = strchr(f[i - 1], '\t');
        if (t) *t = 0, f[i] = t + 1;
    }
    if (!f[4]) return 0;
    f[4][strcspn(f[4], "\r\n")] = 0;
    long tl = strtol(f[1], NULL, 10), ul = strtol(f[2], NULL, 10);
    if (tl <= 0 && ul <= 8) return 0;
    /* the chain up to the first transport; an ICMP error quoting a datagram is not payload */
    char *app = NULL;
    int transport = 0, malformed = 0;
    char *save = NULL;
    for (char *s = strtok_r(f[0], ":", &save); s; s = strtok_r(NULL, ":", &save)) {
        if (!strncmp(s, "_ws.", 4)) {
            malformed |= !strcmp(s, "_ws.malformed");
            continue;
        }
        if (!transport) {
            if (!strcmp(s, "icmp") || !strcmp(s, "icmpv6")) return 0;
            transport = !strcmp(s, "tcp") || !strcmp(s, "udp");
            continue;
        }
        if (!app) app = s;
    }
    if (!transport) return 0;
    int message = app && strcmp(app, "data") && (strcmp(app, "http") || *f[3] || *f[4]);
    *layer = !malformed && message ? app : "";
    return 1;
}

static void layer_count(app_run *r, int cls, const char *name)
{
    for (size_t i = 0; i < r->n_layers; i++)
        if (r->layers[i].cls == cls && !strcmp(r->layers[i].name, name)) {
            r->layers[i].n++;
            return;
        }
    if (r->n_layers == sizeof r->layers / sizeof *r->layers) return;
    struct app_layer *l = &r->layers[r->n_layers++];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->cls = cls, l->n = 1;
}

static int tshark_side(app_run *r, const app_merged *m, int side)
{
    char q[4200], cmd[4600];
    if (!ns_shell_quote(q, sizeof q, m->path)) return ns_error(NS_ERANGE, "%s: path too long", m->path);
    snprintf(cmd, sizeof cmd,
             "tshark -r %s -n -o tcp.desegment_tcp_streams:FALSE -T fields -e frame.number -e frame.protocols"
             " -e tcp.len -e udp.length -e http.request -e http.response 2>/dev/null", q);
    FILE *p = popen(cmd, "r");
    if (!p) return ns_error(NS_EIO, "cannot run tshark: %s", strerror(errno));
    char line[8192];
    const char *layer;
    size_t frame;
    while (fgets(line, sizeof line, p)) {
        if (!packet_layer(line, &frame, &layer) || frame < 1 || frame > m->n) continue;
        int cls = m->cls[frame - 1];
        ns_applayer_class *c = &r->a->cls[cls];
        c->payload[side]++;
        if (!*layer) continue;
        c->dissected[side]++;
        if (side == NS_APPLAYER_REAL) layer_count(r, cls, layer);
    }
    int st = pclose(p);
    if (st != 0)
        return ns_error(NS_EIO, "tshark over the %s captures of %s failed (exit status %d)",
                        side ? "synthetic" : "real test", r->a->label, st);
    return NS_OK;
}

static void remove_tmp(app_run *r)
{
    if (!r->tmp[0]) return;
    char f[4200];
    snprintf(f, sizeof f, "%s/one.pcap", r->tmp);
    unlink(f);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < r->n_merged[s]; i++) unlink(r->merged[s][i].path);
    rmdir(r->tmp);
}

int ns_applayer_run(ns_applayer *a, const ns_trace_source *real, const ns_trace_source *synth, const char *labels)
{
    memset(a, 0, sizeof *a);
    size_t llen = strcspn(labels, ",");
    snprintf(a->label, sizeof a->label, "%.*s", (int)llen, labels);
    a->has_ndpi = ns_program_found("ndpiReader");
    a->has_tshark = ns_program_found("tshark");
    if (!a->has_ndpi && !a->has_tshark) return ns_error(NS_EIO, "application layer: neither ndpiReader nor tshark is installed");
    app_run r = {.a = a};
    int rc = read_side(&r, real, a->label, NS_APPLAYER_REAL);
    if (!rc) rc = read_side(&r, synth, a->label, NS_APPLAYER_SYNTH);
    uint8_t *buf = malloc(APP_MAX_FRAME);
    if (!rc && !buf) rc = ns_error(NS_ENOMEM, "application layer: out of memory");
    if (!rc) {
        const char *tmpdir = getenv("TMPDIR");
        snprintf(r.tmp, sizeof r.tmp, "%s/netsynth-applayer-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(r.tmp)) {
            rc = ns_error(NS_EIO, "%s: cannot make a scratch folder: %s", r.tmp, strerror(errno));
            r.tmp[0] = 0;
        }
    }
    char one[4200];
    snprintf(one, sizeof one, "%s/one.pcap", r.tmp);
    for (size_t c = 0; !rc && c < a->n_classes; c++)
        for (int s = 0; !rc && s < 2; s++)
            for (size_t i = 0; !rc && i < r.n_rows; i++) {
                if (r.rows[i].side != s || r.rows[i].cls != (int)c) continue;
                FILE *f1 = fopen(one, "wb");
                if (!f1) {
                    rc = ns_error(NS_EIO, "%s: cannot create: %s", one, strerror(errno));
                    break;
                }
                rc = pad_copy(&r, r.rows[i].path, f1, s, (int)c, buf);
                if (fclose(f1) && !rc) rc = ns_error(NS_EIO, "%s: cannot write: %s", one, strerror(errno));
                if (!rc && a->has_ndpi) rc = ndpi_flows(&r, one, r.rows[i].path, s, (int)c);
            }
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < r.n_merged[s]; i++) {
            app_merged *m = &r.merged[s][i];
            if (fclose(m->fp) && !rc) rc = ns_error(NS_EIO, "%s: cannot write: %s", m->path, strerror(errno));
            if (!rc) rc = tshark_side(&r, m, s);
        }
    if (!rc) {
        ndpi_tally(&r);
        for (size_t c = 0; c < a->n_classes; c++) {
            uint64_t best = 0;
            for (size_t i = 0; i < r.n_layers; i++)
                if (r.layers[i].cls == (int)c && r.layers[i].n > best)
                    best = r.layers[i].n, snprintf(a->cls[c].dissector, sizeof a->cls[c].dissector, "%s", r.layers[i].name);
        }
    }
    remove_tmp(&r);
    for (size_t i = 0; i < r.n_rows; i++) free(r.rows[i].path);
    free(r.rows);
    free(r.flows);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < r.n_merged[s]; i++) free(r.merged[s][i].cls);
    free(buf);
    return rc;
}
