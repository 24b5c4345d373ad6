/* control.c: control maps from datasets, captures and CSV templates (see control.h). */
#include "netsynth/control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/flow.h"
#include "netsynth/nprint.h"

static const char FLAG_LETTERS[] = "CEUAPRSF"; /* the flag byte, most significant bit first */

int ns_control_size_bucket(unsigned ip_len)
{
    static const unsigned upper[NS_CONTROL_SIZE_BUCKETS - 1] = {48, 64, 96, 128, 256, 512, 1024};
    int b = 0;
    while (b < NS_CONTROL_SIZE_BUCKETS - 1 && ip_len >= upper[b]) b++;
    return b;
}

void ns_control_row_of(const int8_t *row, uint8_t dir, ns_control_row *out)
{
    memset(out, 0, sizeof *out);
    out->dir = dir ? 1 : 0;
    unsigned proto, len;
    if (row[NS_NP_COL_IPV4_TL] >= 0) {
        proto = (unsigned)ns_nprint_get(row, NS_NPF_IPV4_PROTO);
        len = (unsigned)ns_nprint_get(row, NS_NPF_IPV4_TL);
    } else if (row[NS_NP_COL_IPV6_LEN] >= 0) { /* IPv6: ICMPv6 is the map's ICMP, sizes from the header on */
        proto = (unsigned)ns_nprint_get(row, NS_NPF_IPV6_NH);
        proto = proto == NS_PROTO_ICMPV6 ? NS_PROTO_ICMP : proto == NS_PROTO_ICMP ? 0 : proto;
        len = 40 + (unsigned)ns_nprint_get(row, NS_NPF_IPV6_LEN);
    } else {
        return; /* no IP header: nothing but the direction */
    }
    out->proto = proto == 6 || proto == 17 || proto == 1 ? (uint8_t)proto : 0;
    out->size = (uint8_t)ns_control_size_bucket(len);
    if (out->proto == 6 && row[NS_NP_COL_TCP_CWR] >= 0)
        out->flags = (uint8_t)ns_nprint_bits_get(row, NS_NP_COL_TCP_CWR, NS_NP_BITS_TCP_FLAGS);
}

/* ---- the map list ---------------------------------------------------------- */

int ns_control_maps_add(ns_control_maps *m, const ns_control_row *rows, size_t n)
{
    if (!n || n > NS_CONTROL_MAX_ROWS) return ns_error(NS_EARG, "a control map of %zu rows (1 to %d)", n, NS_CONTROL_MAX_ROWS);
    if (m->n_maps == m->cap_maps_) {
        size_t cap = m->cap_maps_ ? 2 * m->cap_maps_ : 64;
        uint32_t *len = realloc(m->len, cap * sizeof *len);
        if (len) m->len = len;
        size_t *first = realloc(m->first, cap * sizeof *first);
        if (first) m->first = first;
        if (!len || !first) return ns_error(NS_ENOMEM, "out of memory for control maps");
        m->cap_maps_ = cap;
    }
    if (m->n_rows + n > m->cap_rows_) {
        size_t cap = 2 * (m->n_rows + n) + 64;
        ns_control_row *r = realloc(m->rows, cap * sizeof *r);
        if (!r) return ns_error(NS_ENOMEM, "out of memory for control maps");
        m->rows = r, m->cap_rows_ = cap;
    }
    memcpy(m->rows + m->n_rows, rows, n * sizeof *rows);
    m->first[m->n_maps] = m->n_rows;
    m->len[m->n_maps++] = (uint32_t)n;
    m->n_rows += n;
    return NS_OK;
}

void ns_control_maps_free(ns_control_maps *m)
{
    free(m->len), free(m->first), free(m->rows);
    memset(m, 0, sizeof *m);
}

int ns_control_maps_from_dataset(ns_control_maps *m, const ns_dataset *ds, uint64_t first, uint64_t count,
                                 int max_packets)
{
    if (first > ds->n_flows || count > ds->n_flows - first)
        return ns_error(NS_EARG, "control maps: flows %llu..%llu of a dataset of %llu", (unsigned long long)first,
                        (unsigned long long)(first + count), (unsigned long long)ds->n_flows);
    size_t cap = max_packets > 0 ? (size_t)max_packets : ds->max_packets;
    ns_control_row *rows = malloc((cap ? cap : 1) * sizeof *rows);
    int8_t *row = malloc(ds->width);
    int rc = rows && row ? NS_OK : ns_error(NS_ENOMEM, "out of memory");
    for (uint64_t i = first; !rc && i < first + count; i++) {
        const ns_ds_flow *f = &ds->flows[i];
        size_t n = f->n_packets < cap ? f->n_packets : cap;
        for (size_t k = 0; k < n; k++) {
            ns_dataset_row(ds, f->first + k, row);
            ns_control_row_of(row, ds->dir[f->first + k], &rows[k]);
        }
        rc = ns_control_maps_add(m, rows, n);
    }
    free(rows), free(row);
    return rc;
}

int ns_control_maps_from_pcap(ns_control_maps *m, const char *path, int max_packets)
{
    ns_flow_table *t;
    int rc = ns_flow_table_new(&t, max_packets > 0 ? max_packets : NS_FLOW_DEFAULT_PACKETS, NS_FLOW_DEFAULT_IDLE_NS);
    if (rc) return rc;
    if ((rc = ns_flow_table_add_capture(t, path, NULL))) {
        ns_flow_table_free(t);
        return rc;
    }
    size_t n;
    const ns_flow *flows = ns_flow_table_flows(t, &n);
    ns_control_row *rows = malloc(((size_t)NS_FLOW_MAX_PACKETS) * sizeof *rows);
    if (!rows) rc = ns_error(NS_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        for (uint32_t k = 0; k < flows[i].n; k++)
            ns_control_row_of(flows[i].rows + (size_t)k * NS_NP_MODEL_WIDTH, flows[i].dir[k], &rows[k]);
        rc = ns_control_maps_add(m, rows, flows[i].n);
    }
    free(rows);
    ns_flow_table_free(t);
    if (!rc && !n) rc = ns_error(NS_EFORMAT, "%s: no IPv4 flow in the capture to take control maps from", path);
    return rc;
}

/* ---- CSV templates ---------------------------------------------------------- */

enum { COL_FLOW, COL_PROTO, COL_DIR, COL_SIZE, COL_FLAGS, N_COLS };
static const char *const COL_NAMES[N_COLS] = {"flow", "proto", "dir", "size", "flags"};

/* Split line (modified in place) at commas into at most max fields,
 * spaces around each trimmed; returns the count, or max + 1 when there are more. */
static int split(char *line, char **field, int max)
{
    int n = 0;
    for (char *p = line;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        while (*p == ' ' || *p == '\t') p++;
        char *end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
        if (n == max) return max + 1;
        field[n++] = p;
        if (!comma) return n;
        p = comma + 1;
    }
}

static int parse_row(const char *name, size_t line, char **f, const int *col, ns_control_row *r)
{
    const char *proto = f[col[COL_PROTO]], *dir = f[col[COL_DIR]], *size = f[col[COL_SIZE]];
    const char *flags = col[COL_FLAGS] >= 0 ? f[col[COL_FLAGS]] : "";
    memset(r, 0, sizeof *r);
    if (!strcmp(proto, "tcp")) r->proto = 6;
    else if (!strcmp(proto, "udp")) r->proto = 17;
    else if (!strcmp(proto, "icmp")) r->proto = 1;
    else return ns_error(NS_EFORMAT, "%s:%zu: proto '%s': expected tcp, udp or icmp", name, line, proto);
    if (!strcmp(dir, "0") || !strcmp(dir, "c2s")) r->dir = 0;
    else if (!strcmp(dir, "1") || !strcmp(dir, "s2c")) r->dir = 1;
    else return ns_error(NS_EFORMAT, "%s:%zu: dir '%s': expected 0 or c2s (client to server), 1 or s2c", name, line, dir);
    char *end;
    errno = 0;
    long bytes = strtol(size, &end, 10);
    if (end == size || *end || errno || bytes < 20 || bytes > 65535)
        return ns_error(NS_EFORMAT, "%s:%zu: size '%s': expected the IP total length in bytes, 20 to 65535", name,
                        line, size);
    r->size = (uint8_t)ns_control_size_bucket((unsigned)bytes);
    if (!strcmp(flags, "-")) flags = "";
    for (const char *p = flags; *p; p++) {
        const char *at = strchr(FLAG_LETTERS, *p);
        if (!at) return ns_error(NS_EFORMAT, "%s:%zu: flags '%s': '%c' is not one of %s", name, line, flags, *p, FLAG_LETTERS);
        uint8_t bit = (uint8_t)(0x80 >> (at - FLAG_LETTERS));
        if (r->flags & bit) return ns_error(NS_EFORMAT, "%s:%zu: flags '%s': '%c' twice", name, line, flags, *p);
        r->flags |= bit;
    }
    if (r->flags && r->proto != 6)
        return ns_error(NS_EFORMAT, "%s:%zu: flags '%s' on a %s packet: only TCP has flags", name, line, flags, proto);
    return NS_OK;
}

int ns_control_maps_parse_csv(ns_control_maps *m, const char *text, size_t len, const char *name, int max_packets)
{
    char *copy = malloc(len + 1);
    size_t cap = 64, n = 0;
    ns_control_row *rows = malloc(cap * sizeof *rows);
    char *key = NULL;
    if (!copy || !rows) {
        free(copy), free(rows);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    const char *nul = memchr(text, 0, len);
    if (nul) { /* a binary file: say where, rather than read a line cut short */
        size_t at = 1;
        for (const char *p = text; p < nul; p++) at += *p == '\n';
        free(copy), free(rows);
        return ns_error(NS_EFORMAT, "%s:%zu: a NUL byte: not a text template (proto,dir,size,flags)", name, at);
    }
    int col[N_COLS], have_header = 0, rc = NS_OK, n_fields = 0;
    size_t line = 0, maps0 = m->n_maps;
    char *save = copy;
    for (char *ln = copy; !rc && ln; ln = save) {
        char *nl = strchr(ln, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        line++;
        size_t L = strlen(ln);
        if (L && ln[L - 1] == '\r') ln[--L] = 0;
        const char *p = ln;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        char *field[N_COLS + 1];
        int k = split(ln, field, N_COLS);
        if (!have_header) {
            for (int c = 0; c < N_COLS; c++) col[c] = -1;
            if (k > N_COLS) {
                rc = ns_error(NS_EFORMAT, "%s:%zu: header has more than the %d columns flow,proto,dir,size,flags", name,
                              line, N_COLS);
                break;
            }
            for (int i = 0; i < k && !rc; i++) {
                int c = 0;
                while (c < N_COLS && strcmp(field[i], COL_NAMES[c])) c++;
                if (c == N_COLS)
                    rc = ns_error(NS_EFORMAT, "%s:%zu: unknown column '%s' in the header (known: flow, proto, dir, size, flags)",
                                  name, line, field[i]);
                else if (col[c] >= 0) rc = ns_error(NS_EFORMAT, "%s:%zu: column '%s' twice in the header", name, line, field[i]);
                else col[c] = i;
            }
            if (!rc && (col[COL_PROTO] < 0 || col[COL_DIR] < 0 || col[COL_SIZE] < 0))
                rc = ns_error(NS_EFORMAT, "%s:%zu: the header needs the columns proto, dir and size (flow and flags are optional)",
                              name, line);
            have_header = 1, n_fields = k;
            continue;
        }
        if (k != n_fields) {
            rc = k > N_COLS ? ns_error(NS_EFORMAT, "%s:%zu: more than %d fields, the header has %d", name, line, N_COLS, n_fields)
                            : ns_error(NS_EFORMAT, "%s:%zu: %d fields, the header has %d", name, line, k, n_fields);
            break;
        }
        /* A new flow value closes the map so far. */
        const char *fk = col[COL_FLOW] >= 0 ? field[col[COL_FLOW]] : "";
        if (n && strcmp(key, fk)) {
            if ((rc = ns_control_maps_add(m, rows, n))) break;
            n = 0;
        }
        if (!n) {
            free(key);
            if (!(key = strdup(fk))) {
                rc = ns_error(NS_ENOMEM, "out of memory");
                break;
            }
        }
        if (max_packets > 0 && n == (size_t)max_packets) {
            rc = ns_error(NS_EFORMAT, "%s:%zu: flow '%s' has more than %d rows, the most the model generates", name,
                          line, fk, max_packets);
            break;
        }
        if (n == cap) {
            ns_control_row *bigger = realloc(rows, (cap *= 2) * sizeof *rows);
            if (!bigger) {
                rc = ns_error(NS_ENOMEM, "out of memory");
                break;
            }
            rows = bigger;
        }
        rc = parse_row(name, line, field, col, &rows[n]);
        if (!rc) n++;
    }
    if (!rc && n) rc = ns_control_maps_add(m, rows, n);
    if (!rc && m->n_maps == maps0)
        rc = ns_error(NS_EFORMAT, "%s: no rows: a template is a header (proto,dir,size,flags) and one line per packet", name);
    free(key), free(rows), free(copy);
    return rc;
}

int ns_control_maps_load(ns_control_maps *m, const char *path, int max_packets)
{
    uint8_t *buf;
    size_t len;
    int rc = ns_read_file(path, &buf, &len);
    if (rc) return rc;
    static const uint32_t pcap_magic[] = {0xa1b2c3d4u, 0xd4c3b2a1u, 0xa1b23c4du, 0x4d3cb2a1u, 0x0a0d0d0au};
    uint32_t head = 0;
    if (len >= 4) memcpy(&head, buf, 4);
    int is_pcap = 0;
    for (size_t i = 0; i < sizeof pcap_magic / sizeof pcap_magic[0]; i++) is_pcap |= len >= 4 && head == pcap_magic[i];
    if (len >= 8 && !memcmp(buf, NS_DATASET_MAGIC, 8)) {
        ns_dataset ds;
        if ((rc = ns_dataset_parse(&ds, buf, len, path))) return rc; /* it took buf */
        rc = ns_control_maps_from_dataset(m, &ds, 0, ds.n_flows, max_packets);
        ns_dataset_free(&ds);
        return rc;
    }
    if (is_pcap) rc = ns_control_maps_from_pcap(m, path, max_packets);
    else rc = ns_control_maps_parse_csv(m, (const char *)buf, len, path, max_packets);
    free(buf);
    return rc;
}

/* ---- what the network reads ---------------------------------------------------------- */

void ns_control_features(const ns_control_row *rows, int n, int T, float *feat)
{
    enum { F = NS_CONTROL_FEATURES };
    memset(feat, 0, (size_t)T * F * sizeof(float));
    for (int r = 0; r < n && r < T; r++) {
        float *f = feat + (size_t)r * F;
        const ns_control_row *c = &rows[r];
        f[0] = 1;
        f[1] = c->proto == 6, f[2] = c->proto == 17, f[3] = c->proto == 1;
        f[4] = c->dir ? 1.0f : -1.0f;
        f[5 + (c->size < NS_CONTROL_SIZE_BUCKETS ? c->size : NS_CONTROL_SIZE_BUCKETS - 1)] = 1;
        for (int k = 0; k < 8; k++) f[5 + NS_CONTROL_SIZE_BUCKETS + k] = (float)(c->flags >> (7 - k) & 1);
    }
}

void ns_control_flags_text(uint8_t flags, char *buf)
{
    int n = 0;
    for (int k = 0; k < 8; k++)
        if (flags >> (7 - k) & 1) buf[n++] = FLAG_LETTERS[k];
    if (!n) buf[n++] = '-';
    buf[n] = 0;
}
