/* nprint_csv.c: nPrint CSV text <-> int8 rows.
 *
 * The reader treats its input as hostile: every line has a length limit
 * derived from the header, every cell is checked, and every error names the
 * file, the line and the problem. It accepts what nPrint 1.2.1 writes (any
 * -O index column, -R's rts, -A's tv_sec,tv_usec, any subset of
 * -e -4 -6 -t -u -i, -p's payload_bit_<i>) and what the writer below writes. */
#include "netsynth/nprint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"

enum {
    HEADER_MAX = 16 << 20,     /* bytes in the header line: room for -p NS_NP_MAX_PAYLOAD */
    INDEX_MAX = 255,           /* bytes in one index value */
    NUM_MAX = 20,              /* bytes in one integer cell */
    CHUNK = 1 << 16,
};

/* ---- writing ----------------------------------------------------------------- */

int ns_nprint_csv_write_header_ex(FILE *fp, const char *index_name, int rts, int abs_time, unsigned layers,
                                  int payload_bytes)
{
    fputs(index_name, fp);
    if (rts) fputs(",rts", fp);
    if (abs_time) fputs(",tv_sec,tv_usec", fp);
    size_t nf;
    const ns_nprint_field *f = ns_nprint_fields(&nf);
    for (size_t i = 0; i < nf; i++)
        if (layers & f[i].layer)
            for (int b = 0; b < f[i].width; b++) fprintf(fp, ",%s_%d", f[i].name, b);
    for (int b = 0; b < 8 * payload_bytes; b++) fprintf(fp, ",payload_bit_%d", b);
    fputc('\n', fp);
    return ferror(fp) ? ns_error(NS_EIO, "write failed: %s", strerror(errno)) : NS_OK;
}

int ns_nprint_csv_write_header(FILE *fp, const char *index_name, int rts, unsigned layers)
{
    return ns_nprint_csv_write_header_ex(fp, index_name, rts, 0, layers, 0);
}

static size_t put_bits(char *line, const int8_t *bits, size_t count)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        int v = bits[i];
        if (v == 0 || v == 1) {
            line[n++] = (char)('0' + v);
            line[n++] = ',';
        } else {
            n += (size_t)sprintf(line + n, "%d,", v);
        }
    }
    return n;
}

int ns_nprint_csv_write_row_ex(FILE *fp, const char *index, int64_t rts, int64_t abs_us, const int8_t *row,
                               unsigned layers, const int8_t *payload, int payload_bytes)
{
    size_t width = (size_t)ns_nprint_width(layers), pbits = payload_bytes > 0 ? 8 * (size_t)payload_bytes : 0;
    char *line = malloc(strlen(index) + 64 + (width + pbits) * 5);
    if (!line) return ns_error(NS_ENOMEM, "out of memory");
    size_t n = (size_t)sprintf(line, "%s,", index);
    if (rts >= 0) n += (size_t)sprintf(line + n, "%" PRId64 ",", rts);
    if (abs_us >= 0) n += (size_t)sprintf(line + n, "%" PRId64 ",%" PRId64 ",", abs_us / 1000000, abs_us % 1000000);
    n += put_bits(line + n, row, width);
    if (pbits) n += put_bits(line + n, payload, pbits);
    line[width + pbits ? n - 1 : n++] = '\n';
    size_t w = fwrite(line, 1, n, fp);
    free(line);
    return w == n ? NS_OK : ns_error(NS_EIO, "write failed: %s", strerror(errno));
}

int ns_nprint_csv_write_row(FILE *fp, const char *index, int64_t rts, const int8_t *row, unsigned layers)
{
    return ns_nprint_csv_write_row_ex(fp, index, rts, -1, row, layers, NULL, 0);
}

/* ---- reading lines ---------------------------------------------------------- */

typedef struct line_reader {
    FILE *fp;
    const char *name;
    char *buf;
    size_t cap, pos, end;      /* unread bytes are buf[pos, end) */
    int eof;
    size_t lineno;             /* of the line last returned */
} line_reader;

/* Next line (without its "\n" or "\r\n") in *line and *len: 1, 0 at the end,
 * or an error when it is longer than max bytes or reading fails. */
static int next_line(line_reader *r, size_t max, char **line, size_t *len)
{
    size_t scanned = 0;
    if (!r->buf) {
        r->cap = 4 * CHUNK;
        if (!(r->buf = malloc(r->cap))) return ns_error(NS_ENOMEM, "out of memory");
    }
    for (;;) {
        char *nl = memchr(r->buf + r->pos + scanned, '\n', r->end - r->pos - scanned);
        if (nl || (r->eof && r->end > r->pos)) {
            size_t n = nl ? (size_t)(nl - (r->buf + r->pos)) : r->end - r->pos;
            r->lineno++;
            if (n > max) return ns_error(NS_EFORMAT, "%s: line %zu: longer than %zu bytes", r->name, r->lineno, max);
            *line = r->buf + r->pos;
            r->pos += n + (nl != NULL);
            if (n && (*line)[n - 1] == '\r') n--;
            *len = n;
            return 1;
        }
        if (r->eof) return 0;
        scanned = r->end - r->pos;
        if (scanned > max + 1)
            return ns_error(NS_EFORMAT, "%s: line %zu: longer than %zu bytes", r->name, r->lineno + 1, max);
        /* Keep the partial line, make room, read more. */
        memmove(r->buf, r->buf + r->pos, scanned);
        r->end = scanned;
        r->pos = 0;
        if (r->cap - r->end < CHUNK) {
            size_t cap = r->cap ? r->cap * 2 : 4 * CHUNK;
            char *b = realloc(r->buf, cap);
            if (!b) return ns_error(NS_ENOMEM, "out of memory");
            r->buf = b;
            r->cap = cap;
        }
        size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->fp);
        if (got == 0) {
            if (ferror(r->fp)) return ns_error(NS_EIO, "%s: read failed: %s", r->name, strerror(errno));
            r->eof = 1;
        }
        r->end += got;
    }
}

/* ---- the header ------------------------------------------------------------- */

static int cell_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && !memcmp(s, want, n);
}

/* Does the cell name bit b of a layer's columns, e.g. "ipv4_ttl_3"? */
static int cell_is_bit(const char *s, size_t n, const char *field, int bit)
{
    char want[64];
    snprintf(want, sizeof want, "%s_%d", field, bit);
    return cell_is(s, n, want);
}

static void describe(char *out, size_t size, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 40) {
            k += (size_t)snprintf(out + k, size - k, "...");
            break;
        }
        k += (size_t)snprintf(out + k, size - k, ch >= 0x20 && ch < 0x7f ? "%c" : "\\x%02x", ch);
    }
    out[k < size ? k : size - 1] = 0;
}

/* Cells of a line, one at a time: 1 with the cell in *s and *n, 0 after the last. */
typedef struct cell_iter {
    const char *p, *end;
    int done;
} cell_iter;

static int cell_next(cell_iter *it, const char **s, size_t *n)
{
    if (it->done) return 0;
    const char *c = memchr(it->p, ',', (size_t)(it->end - it->p));
    *s = it->p;
    *n = (size_t)((c ? c : it->end) - it->p);
    if (c) it->p = c + 1;
    else it->done = 1;
    return 1;
}

static int parse_header(ns_nprint_csv *c, const char *name, const char *line, size_t len)
{
    cell_iter it = {line, line + len, 0};
    const char *s;
    size_t n, col = 1;
    char what[200];
    cell_next(&it, &s, &n);
    if (n == 0) return ns_error(NS_EFORMAT, "%s: line 1: the first column (the index) has no name", name);
    if (n >= sizeof c->index_name)
        return ns_error(NS_EFORMAT, "%s: line 1: index column name longer than %zu bytes", name, sizeof c->index_name - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            describe(what, sizeof what, s, n);
            return ns_error(NS_EFORMAT, "%s: line 1: index column name '%s' has a space or a byte that is not printable ASCII", name, what);
        }
    memcpy(c->index_name, s, n);
    c->index_name[n] = 0;

    /* Optional columns, in the order nPrint writes them. */
    int have = cell_next(&it, &s, &n);
    col++;
    if (have && cell_is(s, n, "rts")) {
        c->has_rts = 1;
        have = cell_next(&it, &s, &n);
        col++;
    }
    if (have && cell_is(s, n, "tv_sec")) {
        have = cell_next(&it, &s, &n);
        col++;
        if (!have || !cell_is(s, n, "tv_usec"))
            return ns_error(NS_EFORMAT, "%s: line 1: column %zu: 'tv_sec' must be followed by 'tv_usec'", name, col);
        c->has_abs = 1;
        have = cell_next(&it, &s, &n);
        col++;
    }

    /* Bit columns: whole layers, in the fixed order, each exactly as nPrint names them. */
    size_t nf;
    const ns_nprint_field *f = ns_nprint_fields(&nf);
    size_t fi = 0;
    while (have) {
        /* -p's columns are read apart (any N), also where they are the payload layer. */
        if (cell_is(s, n, "payload_bit_0")) break;
        while (fi < nf && !cell_is_bit(s, n, f[fi].name, 0)) {
            /* Skip to the first field of the next layer. */
            unsigned layer = f[fi].layer;
            while (fi < nf && f[fi].layer == layer) fi++;
        }
        if (fi == nf) {
            describe(what, sizeof what, s, n);
            return ns_error(NS_EFORMAT,
                            "%s: line 1: column %zu: unexpected name '%s' (expected the next bit of a layer, or the "
                            "first bit of a later one of eth, ipv4, ipv6, tcp, udp, icmp)",
                            name, col, what);
        }
        unsigned layer = f[fi].layer;
        c->layers |= layer;
        for (; fi < nf && f[fi].layer == layer; fi++)
            for (int b = 0; b < f[fi].width; b++) {
                if (!have)
                    return ns_error(NS_EFORMAT, "%s: line 1: the header ends inside layer %s (before %s_%d)", name,
                                    ns_nprint_layer_name(layer), f[fi].name, b);
                if (!cell_is_bit(s, n, f[fi].name, b)) {
                    describe(what, sizeof what, s, n);
                    return ns_error(NS_EFORMAT, "%s: line 1: column %zu: expected '%s_%d', found '%s'", name, col,
                                    f[fi].name, b, what);
                }
                have = cell_next(&it, &s, &n);
                col++;
            }
    }
    /* -p's columns come last: payload_bit_0 .. payload_bit_<8 N - 1>. */
    long pbits = 0;
    for (; have; pbits++) {
        if (pbits == 8L * NS_NP_MAX_PAYLOAD)
            return ns_error(NS_EFORMAT, "%s: line 1: more than %d bytes of payload columns", name, NS_NP_MAX_PAYLOAD);
        if (!cell_is_bit(s, n, "payload_bit", (int)pbits)) {
            describe(what, sizeof what, s, n);
            return ns_error(NS_EFORMAT, "%s: line 1: column %zu: expected 'payload_bit_%ld' (payload columns come after "
                            "every header column), found '%s'", name, col, pbits, what);
        }
        have = cell_next(&it, &s, &n);
        col++;
    }
    if (pbits % 8)
        return ns_error(NS_EFORMAT, "%s: line 1: %ld payload bit columns, not whole bytes", name, pbits);
    c->payload_bytes = (int)(pbits / 8);
    if (!c->layers)
        return ns_error(NS_EFORMAT, "%s: line 1: no header bit columns (eth_*, ipv4_*, ipv6_*, tcp_*, udp_*, icmp_*)", name);
    c->width = ns_nprint_width(c->layers);
    return NS_OK;
}

/* ---- rows --------------------------------------------------------------------- */

static int parse_int(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > NUM_MAX) return 0;
    size_t i = s[0] == '-';
    if (i == n) return 0;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = s[0] == '-' ? -v : v;
    return 1;
}

static int grow(ns_nprint_csv *c, size_t *cap, size_t index_bytes, size_t *text_cap, size_t text_len)
{
    if (c->rows == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        if (ncap > SIZE_MAX / ((size_t)c->width + 1)) return ns_error(NS_ENOMEM, "out of memory");
        int8_t *b = realloc(c->bits, ncap * (size_t)c->width);
        if (!b) return ns_error(NS_ENOMEM, "out of memory");
        c->bits = b;
        size_t *o = realloc(c->index_off, ncap * sizeof *o);
        if (!o) return ns_error(NS_ENOMEM, "out of memory");
        c->index_off = o;
        if (c->has_rts) {
            int64_t *r = realloc(c->rts, ncap * sizeof *r);
            if (!r) return ns_error(NS_ENOMEM, "out of memory");
            c->rts = r;
        }
        if (c->has_abs) {
            int64_t *a = realloc(c->abs_us, ncap * sizeof *a);
            if (!a) return ns_error(NS_ENOMEM, "out of memory");
            c->abs_us = a;
        }
        if (c->payload_bytes) {
            if (ncap > SIZE_MAX / (8 * (size_t)c->payload_bytes)) return ns_error(NS_ENOMEM, "out of memory");
            int8_t *pb = realloc(c->payload, ncap * 8 * (size_t)c->payload_bytes);
            if (!pb) return ns_error(NS_ENOMEM, "out of memory");
            c->payload = pb;
        }
        *cap = ncap;
    }
    if (text_len + index_bytes + 1 > *text_cap) {
        size_t ncap = *text_cap ? *text_cap * 2 : 1 << 16;
        while (ncap < text_len + index_bytes + 1) ncap *= 2;
        char *t = realloc(c->index_text, ncap);
        if (!t) return ns_error(NS_ENOMEM, "out of memory");
        c->index_text = t;
        *text_cap = ncap;
    }
    return NS_OK;
}

static int parse_row(ns_nprint_csv *c, const char *name, size_t lineno, const char *line, size_t len,
                     size_t *text_len)
{
    char what[200];
    /* Count the cells first: nPrint drops the rts cell of a row whose rts is
     * exactly -1 (its "no value" sentinel), so such a row is one short. */
    size_t cells = 1;
    for (const char *q = line; (q = memchr(q, ',', (size_t)(line + len - q))); q++) cells++;
    size_t want = 1 + (size_t)c->has_rts + 2 * (size_t)c->has_abs + (size_t)c->width + 8 * (size_t)c->payload_bytes;
    int rts_dropped = 0;
    if (cells != want) {
        if (!(c->has_rts && cells + 1 == want))
            return ns_error(NS_EFORMAT, "%s: line %zu: %zu columns, the header has %zu", name, lineno, cells, want);
        rts_dropped = 1;
    }

    cell_iter it = {line, line + len, 0};
    const char *s;
    size_t n;
    cell_next(&it, &s, &n);
    if (n == 0) return ns_error(NS_EFORMAT, "%s: line %zu: empty index value", name, lineno);
    if (n > INDEX_MAX) return ns_error(NS_EFORMAT, "%s: line %zu: index value longer than %d bytes", name, lineno, INDEX_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return ns_error(NS_EFORMAT, "%s: line %zu: index value has a byte 0x%02x that is not printable ASCII", name, lineno, (unsigned char)s[i]);
    size_t r = c->rows, index_len = n;
    c->index_off[r] = *text_len;
    memcpy(c->index_text + *text_len, s, n);
    c->index_text[*text_len + n] = 0;

    if (c->has_rts) {
        if (rts_dropped) {
            c->rts[r] = -1;
        } else {
            cell_next(&it, &s, &n);
            if (!parse_int(s, n, &c->rts[r])) {
                describe(what, sizeof what, s, n);
                return ns_error(NS_EFORMAT, "%s: line %zu: rts '%s' is not an integer", name, lineno, what);
            }
        }
    }
    if (c->has_abs) {
        int64_t sec, usec;
        cell_next(&it, &s, &n);
        int ok = parse_int(s, n, &sec);
        cell_next(&it, &s, &n);
        ok = ok && parse_int(s, n, &usec);
        if (!ok || sec < 0 || usec < 0 || usec > 999999 || sec > INT64_MAX / 1000000 - 1)
            return ns_error(NS_EFORMAT, "%s: line %zu: tv_sec,tv_usec is not a time", name, lineno);
        c->abs_us[r] = sec * 1000000 + usec;
    }

    /* The bits: "0", "1" or "-1", comma-separated, exactly width of them
     * and then the payload's (the count was checked above, so only the cells
     * themselves remain). */
    size_t pbits = 8 * (size_t)c->payload_bytes, first = 1 + (size_t)c->has_rts - (size_t)rts_dropped + 2 * (size_t)c->has_abs;
    const char *p = it.p, *end = it.end;
    for (size_t i = 0; i < (size_t)c->width + pbits; i++) {
        int8_t *out = i < (size_t)c->width ? c->bits + r * (size_t)c->width + i : c->payload + r * pbits + (i - (size_t)c->width);
        const char *b = p;
        int v;
        size_t k;
        if (b < end && (*b == '0' || *b == '1')) {
            v = *b - '0';
            k = 1;
        } else if (b + 1 < end && b[0] == '-' && b[1] == '1') {
            v = -1;
            k = 2;
        } else {
            k = 0;
            v = 0;
        }
        if (!k || (b + k < end && b[k] != ',')) {
            cell_iter bad = {b, end, 0};
            cell_next(&bad, &s, &n);
            describe(what, sizeof what, s, n);
            return ns_error(NS_EFORMAT, "%s: line %zu: column %zu: '%s' is not -1, 0 or 1", name, lineno, first + i + 1,
                            what);
        }
        *out = (int8_t)v;
        p = b + k + 1;
    }
    *text_len += index_len + 1;
    c->rows++;
    return NS_OK;
}

void ns_nprint_csv_free(ns_nprint_csv *c)
{
    free(c->bits);
    free(c->rts);
    free(c->abs_us);
    free(c->payload);
    free(c->index_text);
    free(c->index_off);
    memset(c, 0, sizeof *c);
}

/* The offset of the first byte in s[0, n) that no text file has (NUL,
 * controls but tab, CR and LF, DEL), or n. */
static size_t first_binary_byte(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b == 0x7f) return i;
    }
    return n;
}

int ns_nprint_csv_read_stream(FILE *fp, const char *name, ns_nprint_csv *c)
{
    memset(c, 0, sizeof *c);
    line_reader r = {.fp = fp, .name = name};
    char *line;
    size_t len;
    int rc = next_line(&r, HEADER_MAX, &line, &len);
    /* A pcap or any other binary file would otherwise be reported by the
     * first header rule it breaks ("index column name ..."), which does not
     * say what is wrong: the file is not CSV at all. */
    size_t head = r.end < 4096 ? r.end : 4096, bad = r.buf ? first_binary_byte(r.buf, head) : head;
    if (bad < head && (rc >= 0 || rc == NS_EFORMAT))
        rc = ns_error(NS_EFORMAT, "%s: not an nPrint CSV: binary data (byte 0x%02x at offset %zu)", name,
                      (unsigned char)r.buf[bad], bad);
    if (rc == 0) rc = ns_error(NS_EFORMAT, "%s: empty file (no header line)", name);
    if (rc > 0) rc = parse_header(c, name, line, len);
    /* The longest row the header allows: index, rts, tv_sec, tv_usec, "-1," per bit. */
    size_t max = INDEX_MAX + 3 * (NUM_MAX + 1) + ((size_t)c->width + 8 * (size_t)c->payload_bytes) * 3;
    size_t cap = 0, text_cap = 0, text_len = 0;
    while (rc == NS_OK) {
        rc = next_line(&r, max, &line, &len);
        if (rc <= 0) break;
        if (len == 0) {
            rc = ns_error(NS_EFORMAT, "%s: line %zu: empty line", name, r.lineno);
            break;
        }
        if ((rc = grow(c, &cap, len, &text_cap, text_len))) break;
        rc = parse_row(c, name, r.lineno, line, len, &text_len);
    }
    free(r.buf);
    if (rc < 0) {
        /* Keep the message: freeing does not touch it. */
        ns_nprint_csv_free(c);
        return rc;
    }
    return NS_OK;
}

int ns_nprint_csv_read(const char *path, ns_nprint_csv *c)
{
    memset(c, 0, sizeof *c);
    FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!fp) return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = ns_nprint_csv_read_stream(fp, path, c);
    if (fp != stdin) fclose(fp);
    return rc;
}
