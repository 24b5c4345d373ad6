/* dataset.c: the binary training file (see dataset.h).
 *
 * Byte layout, version 3, all integers little-endian:
 *
 *   0   char[8]  "NSYNDATA"
 *   8   u32      version (3)
 *   12  u32      header bytes (128)
 *   16  u32      CRC-32 of the whole file, computed with these 4 bytes zero
 *   20  u32      width (values per row)        24  u32  max_packets
 *   28  u32      flags (NS_DS_*, NO_TOTALS)    32  i64  idle_timeout_ns
 *   40  u64      n_flows                       48  u64  n_packets
 *   56  u32      n_attrs   60 u32 n_tokens     64  u32  n_files
 *   68  u32      row_bytes ((width + 3) / 4)   72  u64  string bytes
 *   80  u64      file bytes (the whole file)   88  40 zero bytes
 *
 * then, each section starting on an 8-byte boundary (zero padding):
 *   u32 attr_name_off[n_attrs]      u32 attr_first[n_attrs + 1]
 *   u32 token_off[n_tokens]         u32 file_off[n_files]
 *   char strings[string bytes]      (NUL-terminated strings; offsets index it)
 *   ns_ds_flow flows[n_flows]       (48 bytes each, as in dataset.h)
 *   ns_ds_totals totals[n_flows]    (40 bytes each; none with NO_TOTALS)
 *   i32 labels[n_flows * n_attrs]   i64 iat_ns[n_packets]
 *   u8 dir[n_packets]               u8 bits[n_packets * row_bytes]
 *
 * A row packs value 4j+k into bits 2k..2k+1 of byte j.
 *
 * A file without totals (NO_TOTALS, what version 1 was) caps flows at
 * NS_FLOW_MAX_PACKETS and knows only how many packets each flow had in all
 * (`seen`). Versions 1 and 2 had rows of 1088 values (1600 with the
 * payload layer) without the IPv6 layer: they are refused, naming the
 * command that rebuilds them. */
#include "netsynth/dataset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/flow.h"
#include "netsynth/labels.h"
#include "netsynth/nprint.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dataset files are read in place: this code assumes a little-endian host"
#endif

typedef struct ds_header {
    char magic[8];
    uint32_t version, header_bytes, crc, width, max_packets, flags;
    int64_t idle_timeout_ns;
    uint64_t n_flows, n_packets;
    uint32_t n_attrs, n_tokens, n_files, row_bytes;
    uint64_t string_bytes, file_bytes;
    uint8_t zero[40];
} ds_header;
_Static_assert(sizeof(ds_header) == 128, "header is 128 bytes");
_Static_assert(sizeof(ns_ds_flow) == 48, "flow record is 48 bytes");
_Static_assert(sizeof(ns_ds_totals) == 40, "totals record is 40 bytes");

/* Limits that keep every size computation below far from overflow. */
enum { MAX_ATTRS = 1 << 10, MAX_NAMES = 1 << 24 };
/* A header flag of the file alone (never in ns_dataset.flags): no totals section. */
enum { NO_TOTALS = 1u << 31 };
#define MAX_PACKETS (UINT64_C(1) << 40)
#define MAX_STRING_BYTES (UINT64_C(1) << 32)

typedef struct layout {
    uint64_t attr_names, attr_first, tokens, files, strings, flows, totals, labels, iat, dir, bits, end;
} layout;

static uint64_t pad8(uint64_t n) { return (n + 7) & ~UINT64_C(7); }

static void compute_layout(const ds_header *h, layout *l)
{
    uint64_t o = sizeof(ds_header);
    l->attr_names = o, o = pad8(o + 4 * (uint64_t)h->n_attrs);
    l->attr_first = o, o = pad8(o + 4 * ((uint64_t)h->n_attrs + 1));
    l->tokens = o, o = pad8(o + 4 * (uint64_t)h->n_tokens);
    l->files = o, o = pad8(o + 4 * (uint64_t)h->n_files);
    l->strings = o, o = pad8(o + h->string_bytes);
    l->flows = o, o = pad8(o + sizeof(ns_ds_flow) * h->n_flows);
    l->totals = o, o = pad8(o + (h->flags & NO_TOTALS ? 0 : sizeof(ns_ds_totals) * h->n_flows));
    l->labels = o, o = pad8(o + 4 * h->n_flows * h->n_attrs);
    l->iat = o, o = pad8(o + 8 * h->n_packets);
    l->dir = o, o = pad8(o + h->n_packets);
    l->bits = o, o = pad8(o + h->n_packets * h->row_bytes);
    l->end = o;
}

/* ---- packing -------------------------------------------------------------- */

/* A value's code is its low two bits (-1 = 0xff -> 11). Eight at a time:
 * gather the codes of bytes 0-3 into bits 0-7, and of 4-7 into bits 32-39. */
void ns_dataset_pack_row(const int8_t *row, uint32_t width, uint8_t *out)
{
    uint32_t i = 0;
    for (; i + 8 <= width; i += 8) {
        uint64_t w;
        memcpy(&w, row + i, 8);
        w &= UINT64_C(0x0303030303030303);
        w |= w >> 6 | w >> 12 | w >> 18;
        out[i / 4] = (uint8_t)w;
        out[i / 4 + 1] = (uint8_t)(w >> 32);
    }
    if (i < width) memset(out + i / 4, 0, (width - i + 3) / 4);
    for (; i < width; i++) out[i / 4] |= (uint8_t)((row[i] & 3) << 2 * (i & 3));
}

/* unpack_table[b]: byte b's four values as int8 in memory order (code 11 is
 * -1 = 0xff; code 10 never passes the reader). */
#define V(c) ((uint32_t)((c) == 3 ? 0xff : (c)))
#define E(b) (V((b) & 3) | V((b) >> 2 & 3) << 8 | V((b) >> 4 & 3) << 16 | V((b) >> 6 & 3) << 24)
#define E4(b) E(b), E((b) + 1), E((b) + 2), E((b) + 3)
#define E16(b) E4(b), E4((b) + 4), E4((b) + 8), E4((b) + 12)
#define E64(b) E16(b), E16((b) + 16), E16((b) + 32), E16((b) + 48)
static const uint32_t unpack_table[256] = {E64(0), E64(64), E64(128), E64(192)};
#undef V
#undef E
#undef E4
#undef E16
#undef E64

static void unpack_row(const uint8_t *packed, uint32_t width, int8_t *row)
{
    uint32_t full = width / 4;
    for (uint32_t j = 0; j < full; j++) memcpy(row + 4 * j, &unpack_table[packed[j]], 4);
    if (width & 3) {
        int8_t v[4];
        memcpy(v, &unpack_table[packed[full]], 4);
        memcpy(row + 4 * full, v, width & 3);
    }
}

void ns_dataset_row(const ns_dataset *ds, uint64_t k, int8_t *row)
{
    unpack_row(ds->bits + k * ds->row_bytes, ds->width, row);
}

void ns_dataset_flow_matrix(const ns_dataset *ds, uint64_t i, int8_t *m)
{
    const ns_ds_flow *f = &ds->flows[i];
    for (uint32_t k = 0; k < f->n_packets; k++) ns_dataset_row(ds, f->first + k, m + (size_t)k * ds->width);
}

int32_t ns_dataset_token(const ns_dataset *ds, const char *text)
{
    for (uint32_t i = 0; i < ds->n_tokens; i++)
        if (!strcmp(ds->tokens[i], text)) return (int32_t)i;
    return -1;
}

int ns_dataset_attr(const ns_dataset *ds, const char *name)
{
    for (uint32_t a = 0; a < ds->n_attrs; a++)
        if (!strcmp(ds->attr_names[a], name)) return (int)a;
    return -1;
}

int ns_dataset_token_attr(const ns_dataset *ds, int32_t id)
{
    uint32_t a = 0;
    while (a + 1 < ds->n_attrs && (uint32_t)id >= ds->attr_first[a + 1]) a++;
    return (int)a;
}

/* ---- reading -------------------------------------------------------------- */

void ns_dataset_free(ns_dataset *ds)
{
    if (!ds) return;
    free(ds->mem_);
    free((void *)ds->attr_names);   /* one block holds all three name tables */
    memset(ds, 0, sizeof *ds);
}

static int check_header(const ds_header *h, size_t len, const char *name)
{
    if (h->header_bytes != sizeof *h)
        return ns_error(NS_ECORRUPT, "%s: header size %u, expected %zu", name, h->header_bytes, sizeof *h);
    for (size_t i = 0; i < sizeof h->zero; i++)
        if (h->zero[i]) return ns_error(NS_ECORRUPT, "%s: reserved header bytes are not zero", name);
    /* Every user of a dataset (the model's encoder, control maps, features)
     * reads rows of exactly NS_NP_MODEL_WIDTH values, many into fixed-size
     * buffers: a file that says another width, however consistent, is
     * refused here rather than trusted there. */
    if (h->width != NS_NP_MODEL_WIDTH)
        return ns_error(NS_ECORRUPT, "%s: row width %u, this build's rows are %d values (a dataset of another "
                        "netsynth version: rebuild it with `netsynth dataset`)", name, h->width, NS_NP_MODEL_WIDTH);
    if (h->row_bytes != (h->width + 3) / 4)
        return ns_error(NS_ECORRUPT, "%s: row bytes %u, a row of %u values packs into %u", name, h->row_bytes,
                        h->width, (h->width + 3) / 4);
    /* Files without totals were cut to a model's window; with them they keep whole flows. */
    uint32_t most = h->flags & NO_TOTALS ? NS_FLOW_MAX_PACKETS : NS_FLOW_MAX_KEPT;
    if (!h->max_packets || h->max_packets > most)
        return ns_error(NS_ECORRUPT, "%s: bad packets per flow %u (a file %s totals keeps 1 to %u)", name,
                        h->max_packets, h->flags & NO_TOTALS ? "without" : "with", most);
    if (h->flags & ~(uint32_t)(NS_DS_KEEP_ADDRESSES | NS_DS_PAYLOAD_MASK | NO_TOTALS))
        return ns_error(NS_ECORRUPT, "%s: unknown flags 0x%x", name, h->flags);
    if ((h->flags & NS_DS_PAYLOAD_MASK) >> NS_DS_PAYLOAD_SHIFT > NS_DS_MAX_PAYLOAD)
        return ns_error(NS_ECORRUPT, "%s: keeps %u payload bytes, rows hold at most %d", name,
                        (h->flags & NS_DS_PAYLOAD_MASK) >> NS_DS_PAYLOAD_SHIFT, NS_DS_MAX_PAYLOAD);
    if (h->idle_timeout_ns < 0) return ns_error(NS_ECORRUPT, "%s: negative idle timeout", name);
    if (h->n_attrs > MAX_ATTRS || h->n_tokens > MAX_NAMES || h->n_files > MAX_NAMES ||
        h->n_packets > MAX_PACKETS || h->n_flows > h->n_packets || h->string_bytes >= MAX_STRING_BYTES)
        return ns_error(NS_ECORRUPT, "%s: counts out of range (%" PRIu64 " flows, %" PRIu64
                        " packets, %u attributes, %u tokens, %u files)", name, h->n_flows, h->n_packets,
                        h->n_attrs, h->n_tokens, h->n_files);
    layout l;
    compute_layout(h, &l);
    if (h->file_bytes != l.end)
        return ns_error(NS_ECORRUPT, "%s: header says %" PRIu64 " bytes, its counts give %" PRIu64,
                        name, h->file_bytes, l.end);
    if (len < l.end)
        return ns_error(NS_ETRUNC, "%s: truncated: %zu bytes, the header says %" PRIu64, name, len, l.end);
    if (len > l.end)
        return ns_error(NS_ECORRUPT, "%s: %zu bytes, the header says %" PRIu64 " (trailing data)", name, len, l.end);
    return NS_OK;
}

static uint32_t file_crc(const uint8_t *buf, size_t len)
{
    ds_header h;
    memcpy(&h, buf, sizeof h);
    h.crc = 0;
    uint32_t crc = ns_crc32(0, &h, sizeof h);
    return ns_crc32(crc, buf + sizeof h, len - sizeof h);
}

/* Resolve n string offsets into names[]; each must lie inside the pool. */
static int resolve_names(const char *pool, uint64_t pool_len, const uint32_t *off, uint32_t n,
                         const char **names, const char *what, const char *name)
{
    for (uint32_t i = 0; i < n; i++) {
        if (off[i] >= pool_len)
            return ns_error(NS_ECORRUPT, "%s: %s %u: string offset %u outside the %" PRIu64 "-byte pool",
                            name, what, i, off[i], pool_len);
        names[i] = pool + off[i];
    }
    return NS_OK;
}

static int check_vocabulary(const ns_dataset *ds, const char *name)
{
    if (ds->attr_first[0] != 0 || ds->attr_first[ds->n_attrs] != ds->n_tokens)
        return ns_error(NS_ECORRUPT, "%s: attribute token ranges do not cover the %u tokens", name, ds->n_tokens);
    for (uint32_t a = 0; a < ds->n_attrs; a++) {
        if (ds->attr_first[a] > ds->attr_first[a + 1])
            return ns_error(NS_ECORRUPT, "%s: attribute %u: token range goes backwards", name, a);
        size_t n = strlen(ds->attr_names[a]);
        if (!n) return ns_error(NS_ECORRUPT, "%s: attribute %u has an empty name", name, a);
        for (uint32_t t = ds->attr_first[a]; t < ds->attr_first[a + 1]; t++)
            if (strncmp(ds->tokens[t], ds->attr_names[a], n) || ds->tokens[t][n] != '=')
                return ns_error(NS_ECORRUPT, "%s: token %u '%s' is not of attribute '%s'", name, t,
                                ds->tokens[t], ds->attr_names[a]);
    }
    return NS_OK;
}

static int check_flows(const ns_dataset *ds, const char *name)
{
    uint64_t next = 0;
    for (uint64_t i = 0; i < ds->n_flows; i++) {
        const ns_ds_flow *f = &ds->flows[i];
        const char *bad = NULL;
        if (f->first != next) bad = "does not start where the previous flow ends";
        else if (!f->n_packets || f->n_packets > ds->max_packets || f->seen < f->n_packets)
            bad = "has a bad packet count";
        else if (f->n_packets > ds->n_packets - next) bad = "runs past the last packet";
        else if (f->file >= ds->n_files) bad = "names a file out of range";
        else if (f->proto != 1 && f->proto != 6 && f->proto != 17) bad = "has a protocol other than TCP/UDP/ICMP";
        else if (f->ipv6 > 1) bad = "has an IP version flag other than 0 or 1";
        for (int k = 0; k < (int)sizeof f->pad_ && !bad; k++)
            if (f->pad_[k]) bad = "has non-zero padding";
        if (bad) return ns_error(NS_ECORRUPT, "%s: flow %" PRIu64 " %s", name, i, bad);
        next += f->n_packets;
        for (uint32_t a = 0; a < ds->n_attrs; a++) {
            int32_t t = ds->labels[i * ds->n_attrs + a];
            if (t != -1 && (t < 0 || (uint32_t)t < ds->attr_first[a] || (uint32_t)t >= ds->attr_first[a + 1]))
                return ns_error(NS_ECORRUPT, "%s: flow %" PRIu64 ": label id %d out of range for attribute '%s'",
                                name, i, t, ds->attr_names[a]);
        }
    }
    if (next != ds->n_packets)
        return ns_error(NS_ECORRUPT, "%s: flows hold %" PRIu64 " packets, the header says %" PRIu64, name, next,
                        ds->n_packets);
    return NS_OK;
}

enum { TCP_FIN = 0x01, TCP_RST = 0x04, IPV4_MIN_BYTES = 20, IPV4_MAX_BYTES = 65535 };

/* A flow's totals against its kept packets (check_flows and check_packets
 * first: the packets are in range and their directions 0 or 1). */
static int check_totals(const ns_dataset *ds, const char *name)
{
    for (uint64_t i = 0; ds->totals && i < ds->n_flows; i++) {
        const ns_ds_flow *f = &ds->flows[i];
        const ns_ds_totals *w = &ds->totals[i];
        uint64_t kept[2] = {0, 0};
        for (uint32_t k = 0; k < f->n_packets; k++) kept[ds->dir[f->first + k]]++;
        const char *bad = NULL;
        uint8_t flags = w->tcp_flags[0] | w->tcp_flags[1];
        /* Each count below 2^40 keeps the sums and products here exact. */
        if (w->packets[0] >= MAX_PACKETS || w->packets[1] >= MAX_PACKETS) bad = "has an absurd packet total";
        else if (kept[0] > w->packets[0] || kept[1] > w->packets[1])
            bad = "keeps more packets in a direction than its totals count";
        else if (f->n_packets != (w->packets[0] + w->packets[1] < ds->max_packets ? w->packets[0] + w->packets[1]
                                                                                   : ds->max_packets))
            bad = "keeps other than its first packets up to the cap";
        else if (f->seen != (w->packets[0] + w->packets[1] < UINT32_MAX ? w->packets[0] + w->packets[1] : UINT32_MAX))
            bad = "counts other packets in 'seen' than in its totals";
        else if (w->bytes[0] < IPV4_MIN_BYTES * w->packets[0] || w->bytes[0] > IPV4_MAX_BYTES * w->packets[0] ||
                 w->bytes[1] < IPV4_MIN_BYTES * w->packets[1] || w->bytes[1] > IPV4_MAX_BYTES * w->packets[1])
            bad = "has bytes that no IPv4 packets of its count add up to";
        else if (flags && f->proto != 6) bad = "has TCP flags but is not TCP";
        else if (w->end < NS_DS_END_FIN || w->end > NS_DS_END_CAPTURE) bad = "has an unknown end";
        else if ((w->end == NS_DS_END_RST) != !!(flags & TCP_RST) ||
                 (w->end == NS_DS_END_FIN) != ((flags & (TCP_FIN | TCP_RST)) == TCP_FIN))
            bad = "ends otherwise than its TCP flags say";
        else if (w->end == NS_DS_END_IDLE && !ds->idle_timeout_ns) bad = "ends idle with no idle timeout";
        if (!bad && w->span_us && w->packets[0] + w->packets[1] < 2) bad = "has a span but one packet";
        if (!bad && w->pad_[0]) bad = "has non-zero padding in its totals";
        if (bad) return ns_error(NS_ECORRUPT, "%s: flow %" PRIu64 " %s", name, i, bad);
    }
    return NS_OK;
}

static int check_packets(const ns_dataset *ds, const char *name)
{
    for (uint64_t k = 0; k < ds->n_packets; k++) {
        if (ds->iat_ns[k] < 0)
            return ns_error(NS_ECORRUPT, "%s: packet %" PRIu64 ": negative inter-arrival time", name, k);
        if (ds->dir[k] > 1)
            return ns_error(NS_ECORRUPT, "%s: packet %" PRIu64 ": direction %u", name, k, ds->dir[k]);
    }
    /* Code 10 never occurs, nor bits past the width in a row's last byte. */
    const uint8_t *b = ds->bits;
    uint64_t n = ds->n_packets * ds->row_bytes, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w >> 1 & ~w & UINT64_C(0x5555555555555555)) break;
    }
    for (; i < n; i++)
        if (b[i] >> 1 & ~b[i] & 0x55u) break;
    uint8_t tail_mask = (uint8_t)(ds->width & 3 ? 0xffu << 2 * (ds->width & 3) : 0);
    for (uint64_t k = 0; tail_mask && k < ds->n_packets && i == n; k++)
        if (b[k * ds->row_bytes + ds->row_bytes - 1] & tail_mask) i = k * ds->row_bytes;
    if (i < n)
        return ns_error(NS_ECORRUPT, "%s: packet %" PRIu64 ": invalid packed value", name, i / ds->row_bytes);
    return NS_OK;
}

int ns_dataset_parse(ns_dataset *ds, uint8_t *buf, size_t len, const char *name)
{
    memset(ds, 0, sizeof *ds);
    ds->mem_ = buf;
    ds_header h;
    int rc = NS_OK;
    if (len < 8 || memcmp(buf, NS_DATASET_MAGIC, 8)) {
        if (len < 8 && !memcmp(buf, NS_DATASET_MAGIC, len))
            rc = ns_error(NS_ETRUNC, "%s: truncated: %zu bytes, not even a header", name, len);
        else
            rc = ns_error(NS_EFORMAT, "%s: not a netsynth dataset (bad magic)", name);
        goto fail;
    }
    if (len < sizeof h) {
        rc = ns_error(NS_ETRUNC, "%s: truncated: %zu bytes, the header alone is %zu", name, len, sizeof h);
        goto fail;
    }
    memcpy(&h, buf, sizeof h);
    if (h.version == 1 || h.version == 2) {
        /* Its own width: 1088, or 1600 with the payload layer between the merges. */
        rc = ns_error(NS_EVERSION, "%s: dataset version %u (rows of %u values, IPv6 flows left out); this build "
                      "reads version %d: rebuild it with `netsynth dataset`", name, h.version, h.width,
                      NS_DATASET_VERSION);
        goto fail;
    }
    if (h.version != NS_DATASET_VERSION) {
        rc = ns_error(NS_EVERSION, "%s: dataset version %u, this build reads version %d (a newer netsynth wrote it?)",
                      name, h.version, NS_DATASET_VERSION);
        goto fail;
    }
    if ((rc = check_header(&h, len, name))) goto fail;
    uint32_t crc = file_crc(buf, len);
    if (crc != h.crc) {
        rc = ns_error(NS_ECORRUPT, "%s: checksum mismatch (header %08x, contents %08x)", name, h.crc, crc);
        goto fail;
    }

    layout l;
    compute_layout(&h, &l);
    ds->version = h.version;
    ds->width = h.width, ds->row_bytes = h.row_bytes, ds->max_packets = h.max_packets;
    ds->flags = h.flags & ~(uint32_t)NO_TOTALS;
    ds->idle_timeout_ns = h.idle_timeout_ns;
    ds->n_flows = h.n_flows, ds->n_packets = h.n_packets;
    ds->n_attrs = h.n_attrs, ds->n_tokens = h.n_tokens, ds->n_files = h.n_files;
    ds->attr_first = (const uint32_t *)(buf + l.attr_first);
    ds->flows = (const ns_ds_flow *)(buf + l.flows);
    ds->totals = h.flags & NO_TOTALS ? NULL : (const ns_ds_totals *)(buf + l.totals);
    ds->labels = (const int32_t *)(buf + l.labels);
    ds->iat_ns = (const int64_t *)(buf + l.iat);
    ds->dir = buf + l.dir;
    ds->bits = buf + l.bits;

    const char *pool = (const char *)buf + l.strings;
    if (h.string_bytes && pool[h.string_bytes - 1]) {
        rc = ns_error(NS_ECORRUPT, "%s: string pool does not end in NUL", name);
        goto fail;
    }
    size_t n_names = (size_t)h.n_attrs + h.n_tokens + h.n_files;
    const char **names = malloc((n_names ? n_names : 1) * sizeof *names);
    if (!names) {
        rc = ns_error(NS_ENOMEM, "%s: out of memory for %zu names", name, n_names);
        goto fail;
    }
    ds->attr_names = names;
    ds->tokens = names + h.n_attrs;
    ds->files = names + h.n_attrs + h.n_tokens;
    if ((rc = resolve_names(pool, h.string_bytes, (const uint32_t *)(buf + l.attr_names), h.n_attrs,
                            names, "attribute", name)) ||
        (rc = resolve_names(pool, h.string_bytes, (const uint32_t *)(buf + l.tokens), h.n_tokens,
                            (const char **)ds->tokens, "token", name)) ||
        (rc = resolve_names(pool, h.string_bytes, (const uint32_t *)(buf + l.files), h.n_files,
                            (const char **)ds->files, "file", name)) ||
        (rc = check_vocabulary(ds, name)) || (rc = check_flows(ds, name)) || (rc = check_packets(ds, name)) ||
        (rc = check_totals(ds, name)))
        goto fail;
    return NS_OK;
fail:
    ns_dataset_free(ds);
    return rc;
}

int ns_dataset_load(ns_dataset *ds, const char *path)
{
    memset(ds, 0, sizeof *ds);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ns_error(NS_EIO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return ns_error(NS_ENOMEM, "%s: out of memory for %zu bytes", path, len);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return ns_error(NS_EIO, "%s: read failed: %s", path, r ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    return ns_dataset_parse(ds, buf, len, path);
}

/* ---- writing -------------------------------------------------------------- */

typedef struct chunk {
    const void *data;
    uint64_t offset, len;
} chunk;

int ns_dataset_write(const ns_dataset *ds, const char *path)
{
    if (ds->width != NS_NP_MODEL_WIDTH || ds->row_bytes != (ds->width + 3) / 4)
        return ns_error(NS_EARG, "%s: row width %u (%u bytes), this build's rows are %d values (not written)", path,
                        ds->width, ds->row_bytes, NS_NP_MODEL_WIDTH);
    if (ds->n_attrs > MAX_ATTRS || ds->n_tokens > MAX_NAMES || ds->n_files > MAX_NAMES ||
        ds->n_packets > MAX_PACKETS)
        return ns_error(NS_ERANGE, "%s: too many attributes, tokens, files or packets", path);

    uint32_t most = ds->totals ? NS_FLOW_MAX_KEPT : NS_FLOW_MAX_PACKETS;
    if (!ds->max_packets || ds->max_packets > most)
        return ns_error(NS_EARG, "%s: %u packets per flow: a file %s totals keeps 1 to %u%s (not written)", path,
                        ds->max_packets, ds->totals ? "with" : "without", most,
                        ds->totals ? "" : " (longer flows need totals)");
    if (ds->flags & NO_TOTALS) return ns_error(NS_EARG, "%s: unknown flags 0x%x (not written)", path, ds->flags);
    static const uint32_t no_tokens = 0;
    ns_dataset d = *ds;
    if (!d.attr_first && !d.n_attrs) d.attr_first = &no_tokens;   /* an empty vocabulary */
    ds = &d;

    /* Never write what the reader would refuse. */
    int rc = check_vocabulary(ds, path);
    if (!rc) rc = check_flows(ds, path);
    if (!rc) rc = check_packets(ds, path);
    if (!rc) rc = check_totals(ds, path);
    if (rc) return ns_error(NS_EARG, "%s (not written)", ns_errmsg());

    /* String pool: attribute names, tokens, files. */
    uint32_t n_names = ds->n_attrs + ds->n_tokens + ds->n_files;
    uint32_t *off = malloc(((size_t)n_names + 1) * sizeof *off);
    if (!off) return ns_error(NS_ENOMEM, "%s: out of memory", path);
    uint64_t pool_len = 0;
    for (uint32_t i = 0; i < n_names; i++) {
        const char *s = i < ds->n_attrs ? ds->attr_names[i]
                        : i < ds->n_attrs + ds->n_tokens ? ds->tokens[i - ds->n_attrs]
                                                         : ds->files[i - ds->n_attrs - ds->n_tokens];
        off[i] = (uint32_t)pool_len;
        pool_len += strlen(s) + 1;
        if (pool_len >= MAX_STRING_BYTES) {
            free(off);
            return ns_error(NS_ERANGE, "%s: names take more than 4 GiB", path);
        }
    }
    char *pool = malloc(pool_len ? pool_len : 1);
    if (!pool) {
        free(off);
        return ns_error(NS_ENOMEM, "%s: out of memory", path);
    }
    for (uint32_t i = 0; i < n_names; i++) {
        uint64_t end = i + 1 < n_names ? off[i + 1] : pool_len;
        const char *s = i < ds->n_attrs ? ds->attr_names[i]
                        : i < ds->n_attrs + ds->n_tokens ? ds->tokens[i - ds->n_attrs]
                                                         : ds->files[i - ds->n_attrs - ds->n_tokens];
        memcpy(pool + off[i], s, end - off[i]);
    }

    ds_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, NS_DATASET_MAGIC, 8);
    h.version = NS_DATASET_VERSION;
    h.header_bytes = sizeof h;
    h.width = ds->width, h.row_bytes = ds->row_bytes, h.max_packets = ds->max_packets;
    h.flags = ds->flags | (ds->totals ? 0 : NO_TOTALS);
    h.idle_timeout_ns = ds->idle_timeout_ns;
    h.n_flows = ds->n_flows, h.n_packets = ds->n_packets;
    h.n_attrs = ds->n_attrs, h.n_tokens = ds->n_tokens, h.n_files = ds->n_files;
    h.string_bytes = pool_len;
    layout l;
    compute_layout(&h, &l);
    h.file_bytes = l.end;

    const chunk chunks[] = {
        {off, l.attr_names, 4 * (uint64_t)ds->n_attrs},
        {ds->attr_first, l.attr_first, 4 * ((uint64_t)ds->n_attrs + 1)},
        {off + ds->n_attrs, l.tokens, 4 * (uint64_t)ds->n_tokens},
        {off + ds->n_attrs + ds->n_tokens, l.files, 4 * (uint64_t)ds->n_files},
        {pool, l.strings, pool_len},
        {ds->flows, l.flows, sizeof(ns_ds_flow) * ds->n_flows},
        {ds->totals, l.totals, ds->totals ? sizeof(ns_ds_totals) * ds->n_flows : 0},
        {ds->labels, l.labels, 4 * ds->n_flows * ds->n_attrs},
        {ds->iat_ns, l.iat, 8 * ds->n_packets},
        {ds->dir, l.dir, ds->n_packets},
        {ds->bits, l.bits, ds->n_packets * ds->row_bytes},
    };
    size_t n_chunks = sizeof chunks / sizeof chunks[0];
    static const uint8_t zeros[8];

    /* Checksum first (the header carries it), then one pass of writes. */
    uint32_t crc = ns_crc32(0, &h, sizeof h);
    uint64_t at = sizeof h;
    for (size_t i = 0; i < n_chunks; i++) {
        crc = ns_crc32(crc, zeros, chunks[i].offset - at);
        crc = ns_crc32(crc, chunks[i].data, chunks[i].len);
        at = chunks[i].offset + chunks[i].len;
    }
    crc = ns_crc32(crc, zeros, l.end - at);
    h.crc = crc;

    ns_outfile o;
    rc = ns_outfile_open(&o, path);
    if (rc == NS_OK) {
        int ok = fwrite(&h, sizeof h, 1, o.fp) == 1;
        at = sizeof h;
        for (size_t i = 0; i < n_chunks && ok; i++) {
            ok = fwrite(zeros, 1, chunks[i].offset - at, o.fp) == chunks[i].offset - at &&
                 (!chunks[i].len || fwrite(chunks[i].data, chunks[i].len, 1, o.fp) == 1);
            at = chunks[i].offset + chunks[i].len;
        }
        ok = ok && fwrite(zeros, 1, l.end - at, o.fp) == l.end - at;
        if (ok) {
            rc = ns_outfile_commit(&o);
        } else {
            rc = ns_error(NS_EIO, "%s: write failed: %s", path, strerror(errno));
            ns_outfile_abort(&o);
        }
    }
    free(pool);
    free(off);
    return rc;
}

int ns_dataset_write_subset(const ns_dataset *ds, const uint8_t *keep, const char *path)
{
    uint64_t n_flows = 0, n_packets = 0;
    for (uint64_t i = 0; i < ds->n_flows; i++)
        if (keep[i]) n_flows++, n_packets += ds->flows[i].n_packets;
    ns_ds_flow *flows = malloc((n_flows + 1) * sizeof *flows);
    ns_ds_totals *totals = ds->totals ? malloc((n_flows + 1) * sizeof *totals) : NULL;
    int32_t *labels = malloc((n_flows * ds->n_attrs + 1) * sizeof *labels);
    int64_t *iat = malloc((n_packets + 1) * sizeof *iat);
    uint8_t *dir = malloc(n_packets + 1), *bits = malloc(n_packets * ds->row_bytes + 1);
    int rc = NS_OK;
    if (!flows || (ds->totals && !totals) || !labels || !iat || !dir || !bits) {
        rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    uint64_t f = 0, k = 0;
    for (uint64_t i = 0; i < ds->n_flows; i++) {
        if (!keep[i]) continue;
        const ns_ds_flow *src = &ds->flows[i];
        uint64_t n = src->n_packets;
        flows[f] = *src;
        flows[f].first = k;
        if (totals) totals[f] = ds->totals[i];
        memcpy(labels + f * ds->n_attrs, ds->labels + i * ds->n_attrs, ds->n_attrs * sizeof *labels);
        memcpy(iat + k, ds->iat_ns + src->first, n * sizeof *iat);
        memcpy(dir + k, ds->dir + src->first, n);
        memcpy(bits + k * ds->row_bytes, ds->bits + src->first * ds->row_bytes, n * ds->row_bytes);
        f++, k += n;
    }
    ns_dataset out = *ds;
    out.n_flows = n_flows, out.n_packets = n_packets;
    out.flows = flows, out.totals = totals, out.labels = labels, out.iat_ns = iat, out.dir = dir, out.bits = bits;
    rc = ns_dataset_write(&out, path);
done:
    free(flows), free(totals), free(labels), free(iat), free(dir), free(bits);
    return rc;
}

/* ---- building from labelled captures --------------------------------------- */

void ns_dataset_opts_init(ns_dataset_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_packets = NS_FLOW_MAX_KEPT;
    o->idle_timeout_ns = NS_FLOW_DEFAULT_IDLE_NS;
    o->payload_bytes = NS_DS_DEFAULT_PAYLOAD;
}

uint32_t ns_ds_span_us(int64_t span_ns, uint64_t packets)
{
    if (packets < 2) return 0;
    int64_t us = span_ns / 1000;
    return us < 1 ? 1 : us >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

int ns_dataset_payload(const ns_dataset *ds) { return (int)((ds->flags & NS_DS_PAYLOAD_MASK) >> NS_DS_PAYLOAD_SHIFT); }

#define SERVICE_ATTR "service"

typedef struct span {
    const char *s;
    size_t n;
} span;

static int span_cmp(const void *pa, const void *pb)
{
    const span *a = pa, *b = pb;
    int c = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* A flow-table row's service value: nDPI's "MASTER.APP" keeps MASTER; a dot
 * before a digit is part of a name ("Z39.50"). */
static span service_value(const char *cell, int full)
{
    span v = {cell, strlen(cell)};
    for (const char *dot = cell; !full && (dot = strchr(dot, '.')); dot++)
        if (dot > cell && !(dot[1] >= '0' && dot[1] <= '9')) {
            v.n = (size_t)(dot - cell);
            break;
        }
    return v;
}

/* One (file, 5-tuple) -> service token; sorted for bsearch. */
typedef struct svc_entry {
    uint32_t file;
    uint32_t row;      /* tie-break: the table's first row wins */
    uint64_t key[2];
    int32_t token;
} svc_entry;

static int svc_cmp(const void *pa, const void *pb)
{
    const svc_entry *a = pa, *b = pb;
    if (a->file != b->file) return a->file < b->file ? -1 : 1;
    for (int i = 0; i < 2; i++)
        if (a->key[i] != b->key[i]) return a->key[i] < b->key[i] ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

typedef struct path_index {
    const char *path;
    uint32_t file;
} path_index;

static int path_cmp(const void *pa, const void *pb)
{
    return strcmp(((const path_index *)pa)->path, ((const path_index *)pb)->path);
}

typedef struct builder {
    const ns_dataset_opts *o;
    ns_labels table, ftable;
    uint32_t n_attrs, n_label_attrs;   /* labels first, then "service" if any */
    int label_col[MAX_ATTRS];
    const char *attr_names[MAX_ATTRS + 1];
    span *values;                      /* every attribute's distinct values, sorted */
    uint32_t *attr_first;              /* [n_attrs + 1] into values (= token ids) */
    char *token_pool;
    const char **tokens;
    uint32_t n_files;
    size_t *file_row;                  /* label-table row of each selected file */
    char **paths;                      /* resolved capture paths */
    const char **file_names;           /* as the table spells them */
    int32_t *file_tokens;              /* [n_files * n_label_attrs] */
    int ftable_col[7];                 /* pcap, l4proto, src_ip, src_port, dst_ip, dst_port, label */
    svc_entry *svc;
    size_t n_svc;
} builder;

static void builder_free(builder *b)
{
    ns_labels_free(&b->table);
    ns_labels_free(&b->ftable);
    free(b->values);
    free(b->attr_first);
    free(b->token_pool);
    free(b->tokens);
    free(b->file_row);
    if (b->paths)
        for (uint32_t i = 0; i < b->n_files; i++) free(b->paths[i]);
    free(b->paths);
    free(b->file_names);
    free(b->file_tokens);
    free(b->svc);
}

/* The column called col, or `code` with a message listing the columns. */
static int need_column(const ns_labels *t, const char *col, const char *path, const char *why, int code)
{
    int c = ns_labels_column(t, col);
    if (c >= 0) return c;
    char cols[512] = "";
    size_t n = 0;
    for (size_t i = 0; i < t->n_cols && n < sizeof cols; i++)
        n += (size_t)snprintf(cols + n, sizeof cols - n, "%s%s", i ? ", " : "", t->cols[i]);
    return ns_error(code, "%s: no column '%s'%s (its columns: %s)", path, col, why, cols);
}

/* Columns of the label table named by --label. */
static int parse_label_columns(builder *b)
{
    const char *list = b->o->label_cols ? b->o->label_cols : "";
    const char *path = b->o->labels_path;
    for (const char *s = list; *list;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        char name[256];
        if (!n || n >= sizeof name)
            return ns_error(NS_EARG, "label columns '%s': empty or over-long name", list);
        memcpy(name, s, n);
        name[n] = 0;
        int c = ns_labels_column(&b->table, name);
        if (c < 0) return need_column(&b->table, name, path, " for a label", NS_EARG);
        /* "service" is the flow table's attribute: a label column may take the
         * name only when no flow table is given. */
        if (!strcmp(name, "path") || (b->o->flows_path && !strcmp(name, SERVICE_ATTR)))
            return ns_error(NS_EARG, "label column '%s' is reserved%s", name,
                            strcmp(name, "path") ? " (--flows makes the attribute 'service')" : "");
        for (uint32_t a = 0; a < b->n_label_attrs; a++)
            if (b->label_col[a] == c) return ns_error(NS_EARG, "label column '%s' given twice", name);
        if (b->n_label_attrs == MAX_ATTRS) return ns_error(NS_EARG, "more than %d label columns", MAX_ATTRS);
        b->label_col[b->n_label_attrs] = c;
        b->attr_names[b->n_label_attrs++] = b->table.cols[c];
        if (!comma) break;
        s = comma + 1;
    }
    b->n_attrs = b->n_label_attrs;
    return NS_OK;
}

typedef struct real_path {
    char *real;
    uint32_t file;
} real_path;

static int real_cmp(const void *pa, const void *pb)
{
    const real_path *a = pa, *b = pb;
    int c = strcmp(a->real, b->real);
    return c ? c : (a->file > b->file) - (a->file < b->file);
}

/* Two selected rows naming one capture, however spelled ("a.pcap",
 * "./x/../a.pcap", a symlink): its flows would be learned under both rows'
 * labels. realpath() is the normal form; sorting finds the pairs. */
static int check_duplicates(const builder *b)
{
    const char *lpath = b->o->labels_path;
    const ns_labels *t = &b->table;
    real_path *r = calloc(b->n_files, sizeof *r);
    if (!r) return ns_error(NS_ENOMEM, "%s: out of memory", lpath);
    int rc = NS_OK;
    for (uint32_t f = 0; f < b->n_files && !rc; f++) {
        r[f].file = f;
        if (!(r[f].real = realpath(b->paths[f], NULL)))
            rc = ns_error(NS_EIO, "%s:%u: capture '%s': %s", lpath, t->lines[b->file_row[f]], b->paths[f],
                          strerror(errno));
    }
    if (!rc) qsort(r, b->n_files, sizeof *r, real_cmp);
    for (uint32_t i = 1; i < b->n_files && !rc; i++) {
        if (strcmp(r[i - 1].real, r[i].real)) continue;
        uint32_t x = r[i - 1].file, y = r[i].file;
        rc = ns_error(NS_EFORMAT, "%s: lines %u and %u name the same capture %s ('%s', '%s'): its flows would be "
                      "learned under both rows' labels (--allow-duplicate-captures keeps both)", lpath,
                      t->lines[b->file_row[x]], t->lines[b->file_row[y]], r[i].real, b->file_names[x],
                      b->file_names[y]);
    }
    for (uint32_t f = 0; f < b->n_files; f++) free(r[f].real);
    free(r);
    return rc;
}

/* Selected rows, their resolved paths (checked readable), names as spelled. */
static int select_files(builder *b)
{
    const ns_labels *t = &b->table;
    const char *lpath = b->o->labels_path;
    int path_col = need_column(t, "path", lpath, "", NS_EFORMAT);
    if (path_col < 0) return path_col;
    int split_col = -1;
    if (b->o->split && (split_col = need_column(t, "split", lpath, " to select a split on", NS_EFORMAT)) < 0) return split_col;

    b->file_row = malloc((t->n_rows ? t->n_rows : 1) * sizeof *b->file_row);
    b->paths = calloc(t->n_rows ? t->n_rows : 1, sizeof *b->paths);
    b->file_names = malloc((t->n_rows ? t->n_rows : 1) * sizeof *b->file_names);
    if (!b->file_row || !b->paths || !b->file_names) return ns_error(NS_ENOMEM, "%s: out of memory", lpath);
    const char *slash = strrchr(lpath, '/');
    size_t dir_len = slash ? (size_t)(slash - lpath) + 1 : 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        if (split_col >= 0 && strcmp(ns_labels_cell(t, r, split_col), b->o->split)) continue;
        const char *p = ns_labels_cell(t, r, path_col);
        if (!*p) return ns_error(NS_EFORMAT, "%s:%u: empty path", lpath, t->lines[r]);
        size_t pre = p[0] == '/' ? 0 : dir_len;
        char *full = malloc(pre + strlen(p) + 1);
        if (!full) return ns_error(NS_ENOMEM, "%s: out of memory", lpath);
        memcpy(full, lpath, pre);
        strcpy(full + pre, p);
        b->paths[b->n_files] = full;
        b->file_names[b->n_files] = p;
        b->file_row[b->n_files++] = r;
        if (access(full, R_OK) != 0)
            return ns_error(NS_EIO, "%s:%u: capture '%s': %s", lpath, t->lines[r], full, strerror(errno));
    }
    if (!b->n_files) {
        if (b->o->split)
            return ns_error(NS_EARG, "%s: no rows with split '%s'", lpath, b->o->split);
        return ns_error(NS_EFORMAT, "%s: no rows", lpath);
    }
    return b->o->allow_duplicate_captures ? NS_OK : check_duplicates(b);
}

/* Sorted distinct values of one attribute, appended to b->values. */
static int add_attribute_values(builder *b, span *vals, size_t n, size_t *n_values)
{
    qsort(vals, n, sizeof *vals, span_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || span_cmp(&vals[k - 1], &vals[i])) vals[k++] = vals[i];
    memcpy(b->values + *n_values, vals, k * sizeof *vals);
    *n_values += k;
    return NS_OK;
}

/* Whether a flow-table row is TCP/UDP or ICMP over IPv4, ICMPv6 over IPv6
 * (IGMP rows and the like never match a flow, so their values make no tokens). */
static int can_be_flow(const builder *b, size_t r)
{
    const char *proto = ns_labels_cell(&b->ftable, r, b->ftable_col[1]);
    int v6 = strchr(ns_labels_cell(&b->ftable, r, b->ftable_col[2]), ':') != NULL;
    return !strcmp(proto, "6") || !strcmp(proto, "17") || !strcmp(proto, v6 ? "58" : "1");
}

/* Tokens come from the whole tables, whatever --split selects, so a train and
 * a test file built from the same tables share token ids. */
static int build_vocabulary(builder *b)
{
    const ns_labels *t = &b->table, *ft = &b->ftable;
    int svc_col = b->o->flows_path ? b->ftable_col[6] : -1;
    size_t max_values = t->n_rows * b->n_label_attrs + (svc_col >= 0 ? ft->n_rows : 0);
    b->values = malloc((max_values ? max_values : 1) * sizeof *b->values);
    span *scratch = malloc((max_values ? max_values : 1) * sizeof *scratch);
    b->attr_first = malloc((b->n_attrs + 1) * sizeof *b->attr_first);
    if (!b->values || !scratch || !b->attr_first) {
        free(scratch);
        return ns_error(NS_ENOMEM, "out of memory for the vocabulary");
    }
    size_t n_values = 0;
    for (uint32_t a = 0; a < b->n_attrs; a++) {
        b->attr_first[a] = (uint32_t)n_values;
        size_t n = 0;
        if (a < b->n_label_attrs) {
            for (size_t r = 0; r < t->n_rows; r++) {
                const char *v = ns_labels_cell(t, r, b->label_col[a]);
                if (*v) scratch[n++] = (span){v, strlen(v)};
            }
        } else {
            for (size_t r = 0; r < ft->n_rows; r++) {
                span v = service_value(ns_labels_cell(ft, r, svc_col), b->o->full_service);
                if (v.n && can_be_flow(b, r)) scratch[n++] = v;
            }
        }
        add_attribute_values(b, scratch, n, &n_values);
    }
    b->attr_first[b->n_attrs] = (uint32_t)n_values;
    free(scratch);
    if (n_values > MAX_NAMES) return ns_error(NS_ERANGE, "more than %d distinct label values", MAX_NAMES);

    size_t pool = 0;
    for (uint32_t a = 0; a < b->n_attrs; a++)
        for (uint32_t i = b->attr_first[a]; i < b->attr_first[a + 1]; i++)
            pool += strlen(b->attr_names[a]) + 1 + b->values[i].n + 1;
    b->token_pool = malloc(pool ? pool : 1);
    b->tokens = malloc((n_values ? n_values : 1) * sizeof *b->tokens);
    if (!b->token_pool || !b->tokens) return ns_error(NS_ENOMEM, "out of memory for the vocabulary");
    char *p = b->token_pool;
    for (uint32_t a = 0; a < b->n_attrs; a++)
        for (uint32_t i = b->attr_first[a]; i < b->attr_first[a + 1]; i++) {
            b->tokens[i] = p;
            size_t n = strlen(b->attr_names[a]);
            memcpy(p, b->attr_names[a], n);
            p[n] = '=';
            memcpy(p + n + 1, b->values[i].s, b->values[i].n);
            p += n + 1 + b->values[i].n;
            *p++ = 0;
        }
    return NS_OK;
}

static int32_t token_of(const builder *b, uint32_t attr, span v)
{
    if (!v.n) return -1;
    const span *lo = b->values + b->attr_first[attr];
    const span *hit = bsearch(&v, lo, b->attr_first[attr + 1] - b->attr_first[attr], sizeof v, span_cmp);
    return hit ? (int32_t)(hit - b->values) : -1;
}

static int file_label_tokens(builder *b)
{
    b->file_tokens = malloc(((size_t)b->n_files * b->n_label_attrs + 1) * sizeof *b->file_tokens);
    if (!b->file_tokens) return ns_error(NS_ENOMEM, "out of memory");
    for (uint32_t f = 0; f < b->n_files; f++)
        for (uint32_t a = 0; a < b->n_label_attrs; a++) {
            const char *v = ns_labels_cell(&b->table, b->file_row[f], b->label_col[a]);
            b->file_tokens[(size_t)f * b->n_label_attrs + a] = token_of(b, a, (span){v, strlen(v)});
        }
    return NS_OK;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (*s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

static int find_flow_columns(builder *b)
{
    static const char *const need[] = {"pcap", "l4proto", "src_ip", "src_port", "dst_ip", "dst_port"};
    for (int i = 0; i < 6; i++)
        if ((b->ftable_col[i] = need_column(&b->ftable, need[i], b->o->flows_path, "", NS_EFORMAT)) < 0)
            return b->ftable_col[i];
    b->ftable_col[6] = need_column(&b->ftable, b->o->flow_label, b->o->flows_path, " for the flow label", NS_EARG);
    return b->ftable_col[6] < 0 ? b->ftable_col[6] : NS_OK;
}

/* The per-flow table: (file, 5-tuple) -> service token, sorted. */
static int load_services(builder *b)
{
    const ns_labels *ft = &b->ftable;
    const char *fpath = b->o->flows_path;
    const int *col = b->ftable_col;

    path_index *index = malloc(b->n_files * sizeof *index);
    b->svc = malloc((ft->n_rows ? ft->n_rows : 1) * sizeof *b->svc);
    if (!index || !b->svc) {
        free(index);
        return ns_error(NS_ENOMEM, "%s: out of memory", fpath);
    }
    for (uint32_t f = 0; f < b->n_files; f++) index[f] = (path_index){b->file_names[f], f};
    qsort(index, b->n_files, sizeof *index, path_cmp);

    int svc_col = col[6], rc = NS_OK;
    for (size_t r = 0; r < ft->n_rows && !rc; r++) {
        const char *cell[6];
        for (int i = 0; i < 6; i++) cell[i] = ns_labels_cell(ft, r, col[i]);
        unsigned long proto, sport, dport;
        struct in_addr src, dst;
        ns_flow_tuple t = {0};
        int bad = -1, v6 = strchr(cell[2], ':') || strchr(cell[4], ':');
        if (parse_uint(cell[1], 255, &proto)) bad = 1;
        else if (parse_uint(cell[3], 65535, &sport)) bad = 3;
        else if (parse_uint(cell[5], 65535, &dport)) bad = 5;
        else if (v6 && inet_pton(AF_INET6, cell[2], t.client_ip6) != 1) bad = 2;
        else if (v6 && inet_pton(AF_INET6, cell[4], t.server_ip6) != 1) bad = 4;
        else if (!v6 && inet_pton(AF_INET, cell[2], &src) != 1) bad = 2;
        else if (!v6 && inet_pton(AF_INET, cell[4], &dst) != 1) bad = 4;
        if (bad >= 0) {
            rc = ns_error(NS_EFORMAT, "%s:%u: bad %s '%s'", fpath, ft->lines[r], ft->cols[col[bad]], cell[bad]);
            break;
        }
        path_index probe = {cell[0], 0};
        const path_index *hit = bsearch(&probe, index, b->n_files, sizeof *index, path_cmp);
        int32_t token = token_of(b, b->n_attrs - 1, service_value(ns_labels_cell(ft, r, svc_col), b->o->full_service));
        if (v6 && proto == NS_PROTO_ICMPV6) proto = NS_PROTO_ICMP;   /* the flow table's ICMP of an IPv6 flow */
        else if (v6 && proto == NS_PROTO_ICMP) continue;
        if (!hit || token < 0 || (proto != 1 && proto != 6 && proto != 17)) continue;
        if (v6) {
            t.ipv6 = 1;
            t.client_ip = ns_flow_ip6_digest(t.client_ip6), t.server_ip = ns_flow_ip6_digest(t.server_ip6);
        } else {
            t.client_ip = ntohl(src.s_addr), t.server_ip = ntohl(dst.s_addr);
        }
        t.client_port = (uint16_t)sport, t.server_port = (uint16_t)dport, t.proto = (uint8_t)proto;
        if (proto == 1) t.client_port = t.server_port = 0;
        svc_entry *e = &b->svc[b->n_svc++];
        e->file = hit->file;
        e->row = (uint32_t)r;
        ns_flow_tuple_key(&t, e->key);
        e->token = token;
    }
    free(index);
    if (rc) return rc;
    qsort(b->svc, b->n_svc, sizeof *b->svc, svc_cmp);
    return NS_OK;
}

static int32_t service_of(const builder *b, uint32_t file, const ns_flow_tuple *t)
{
    svc_entry probe = {file, 0, {0, 0}, 0};
    ns_flow_tuple_key(t, probe.key);
    /* Find the first entry for (file, key): the row-0 probe sorts before it. */
    size_t lo = 0, hi = b->n_svc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (svc_cmp(&b->svc[mid], &probe) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < b->n_svc && b->svc[lo].file == file && b->svc[lo].key[0] == probe.key[0] &&
        b->svc[lo].key[1] == probe.key[1])
        return b->svc[lo].token;
    return -1;
}

/* One capture's flows, packed. */
/* What reading one capture gave. A field added here travels in
 * pack_outs/unpack_outs too (reading shared over ranks). */
typedef struct file_out {
    int rc;
    char msg[512];
    ns_ds_flow *flows;
    ns_ds_totals *totals;
    int32_t *service;
    int64_t *iat;
    uint8_t *dir, *bits;
    uint64_t n_flows, n_packets, packets_read, packets_in_flows;
    ns_capture_cut cut;
    ns_skips skips;
} file_out;

static void file_out_free(file_out *o)
{
    free(o->flows);
    free(o->totals);
    free(o->service);
    free(o->iat);
    free(o->dir);
    free(o->bits);
}

/* The address values blanked in a packed row (4 to a byte): whole bytes, back to back. */
enum { ADDR_BITS = NS_NP_BITS_IPV4_SRC + NS_NP_BITS_IPV4_DST, ADDR6_BITS = NS_NP_BITS_IPV6_SRC + NS_NP_BITS_IPV6_DST };
_Static_assert(NS_NP_COL_IPV6_SRC % 4 == 0 && ADDR6_BITS % 4 == 0 &&
               NS_NP_COL_IPV6_DST == NS_NP_COL_IPV6_SRC + NS_NP_BITS_IPV6_SRC,
               "the IPv6 addresses are whole bytes of a packed row");
_Static_assert(NS_NP_COL_IPV4_SRC % 4 == 0 && ADDR_BITS % 4 == 0 && NS_NP_COL_IPV4_DST == NS_NP_COL_IPV4_SRC + NS_NP_BITS_IPV4_SRC,
               "the IPv4 addresses are whole bytes of a packed row");
/* Payload bytes past --payload N are blanked the same way: 8 values a payload byte, 2 packed bytes. */
_Static_assert(NS_NP_COL_PAY % 4 == 0 && NS_NP_COL_PAY + NS_NP_BITS_PAY == NS_NP_MODEL_WIDTH,
               "the payload layer is whole bytes of a packed row, at its end");

static int process_file(const builder *b, uint32_t file, file_out *out)
{
    const ns_dataset_opts *o = b->o;
    ns_flow_table *t;
    int rc = ns_flow_table_new(&t, o->max_packets, o->idle_timeout_ns);
    if (rc) return rc;
    if ((rc = ns_flow_table_add_capture(t, b->paths[file], &out->cut))) {
        ns_flow_table_free(t);
        return rc;
    }
    size_t n;
    const ns_flow *flows = ns_flow_table_flows(t, &n);
    uint64_t rows = 0;
    int64_t capture_end = INT64_MIN;   /* the last flow packet's time */
    for (size_t i = 0; i < n; i++) {
        rows += flows[i].n;
        if (flows[i].last_ns > capture_end) capture_end = flows[i].last_ns;
    }
    const uint32_t rb = (NS_NP_MODEL_WIDTH + 3) / 4;
    out->flows = calloc(n + 1, sizeof *out->flows);
    out->totals = calloc(n + 1, sizeof *out->totals);
    out->service = malloc((n + 1) * sizeof *out->service);
    out->iat = malloc((rows + 1) * sizeof *out->iat);
    out->dir = malloc(rows + 1);
    out->bits = malloc((rows + 1) * rb);
    if (!out->flows || !out->totals || !out->service || !out->iat || !out->dir || !out->bits) {
        ns_flow_table_free(t);
        return ns_error(NS_ENOMEM, "%s: out of memory for %" PRIu64 " packets", b->paths[file], rows);
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const ns_flow *f = &flows[i];
        ns_ds_flow *d = &out->flows[i];
        d->first = k;
        d->start_ns = f->first_ns;
        d->n_packets = f->n;
        d->seen = f->seen > UINT32_MAX ? UINT32_MAX : (uint32_t)f->seen;
        d->file = file;
        d->client_ip = f->tuple.client_ip, d->server_ip = f->tuple.server_ip, d->ipv6 = f->tuple.ipv6;
        d->client_port = f->tuple.client_port, d->server_port = f->tuple.server_port;
        d->proto = f->tuple.proto;
        ns_ds_totals *w = &out->totals[i];
        for (int s = 0; s < 2; s++)
            w->packets[s] = f->packets[s], w->bytes[s] = f->bytes[s], w->tcp_flags[s] = f->tcp_flags[s];
        w->span_us = ns_ds_span_us(f->last_ns - f->first_ns, f->seen);
        uint8_t flags = f->tcp_flags[0] | f->tcp_flags[1];
        w->end = flags & TCP_RST ? NS_DS_END_RST
                 : flags & TCP_FIN ? NS_DS_END_FIN
                 : o->idle_timeout_ns && capture_end - f->last_ns > o->idle_timeout_ns ? NS_DS_END_IDLE
                                                                                       : NS_DS_END_CAPTURE;
        out->service[i] = o->flows_path ? service_of(b, file, &f->tuple) : -1;
        memcpy(out->iat + k, f->iat_ns, f->n * sizeof *f->iat_ns);
        memcpy(out->dir + k, f->dir, f->n);
        for (uint32_t j = 0; j < f->n; j++, k++) {
            uint8_t *packed = out->bits + k * rb;
            ns_dataset_pack_row(f->rows + (size_t)j * NS_NP_MODEL_WIDTH, NS_NP_MODEL_WIDTH, packed);
            if (!o->keep_addresses) { /* source and destination, 4 values a byte */
                memset(packed + NS_NP_COL_IPV4_SRC / 4, 0xff, ADDR_BITS / 4);
                memset(packed + NS_NP_COL_IPV6_SRC / 4, 0xff, ADDR6_BITS / 4);
            }
            memset(packed + (NS_NP_COL_PAY + 8 * o->payload_bytes) / 4, 0xff,
                   (size_t)(NS_NP_BITS_PAY - 8 * o->payload_bytes) / 4);
        }
        out->packets_in_flows += f->seen;
    }
    out->n_flows = n;
    out->n_packets = rows;
    out->packets_read = ns_flow_table_packets(t);
    out->skips = *ns_flow_table_skips(t);
    ns_flow_table_free(t);
    return NS_OK;
}

/* ---- reading shared over ranks (ns_dataset_opts.gather) ---- */

/* Rank `rank` of n reads captures f with f % n == rank: neighbours in a
 * table (one device's captures) go to different ranks. */
static int mine(const ns_dataset_opts *o, uint32_t f) { return o->n_ranks <= 1 || f % (uint32_t)o->n_ranks == (uint32_t)o->rank; }

/* Bytes appended at *at (NULL buf: only counted). */
static void put(uint8_t *buf, size_t *at, const void *p, size_t n)
{
    if (buf && n) memcpy(buf + *at, p, n);
    *at += n;
}

/* This rank's captures, each as its index, file_out's counts and arrays,
 * into one buffer for rank 0 (the same build on every rank reads it). */
static int pack_outs(const builder *b, const file_out *outs, uint8_t **buf, size_t *len)
{
    const size_t rb = (NS_NP_MODEL_WIDTH + 3) / 4;
    *buf = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        for (uint32_t f = 0; f < b->n_files; f++) {
            if (!mine(b->o, f)) continue;
            const file_out *o = &outs[f];
            uint64_t nf = o->rc ? 0 : o->n_flows, np = o->rc ? 0 : o->n_packets;
            put(*buf, &at, &f, sizeof f);
            put(*buf, &at, &o->rc, sizeof o->rc);
            put(*buf, &at, o->msg, sizeof o->msg);
            put(*buf, &at, &nf, sizeof nf);
            put(*buf, &at, &np, sizeof np);
            put(*buf, &at, &o->packets_read, sizeof o->packets_read);
            put(*buf, &at, &o->packets_in_flows, sizeof o->packets_in_flows);
            put(*buf, &at, &o->cut, sizeof o->cut);
            put(*buf, &at, &o->skips, sizeof o->skips);
            put(*buf, &at, o->flows, nf * sizeof *o->flows);
            put(*buf, &at, o->totals, nf * sizeof *o->totals);
            put(*buf, &at, o->service, nf * sizeof *o->service);
            put(*buf, &at, o->iat, np * sizeof *o->iat);
            put(*buf, &at, o->dir, np);
            put(*buf, &at, o->bits, np * rb);
        }
        *len = at;
        if (!pass && !(*buf = malloc(at + 1))) return ns_error(NS_ENOMEM, "out of memory for %zu bytes of flows", at);
    }
    return NS_OK;
}

/* Bytes taken from buf[*at..len) into p (allocated when *p is NULL and n > 0). */
static int take(const uint8_t *buf, size_t len, size_t *at, void *p, size_t n, int alloc)
{
    if (n > len - *at) return ns_error(NS_EFORMAT, "ranks' captures: %zu bytes cut short", len);
    if (alloc) {
        void **pp = p;
        if (!(*pp = malloc(n + 1))) return ns_error(NS_ENOMEM, "out of memory for %zu bytes of flows", n);
        p = *pp;
    }
    if (n) memcpy(p, buf + *at, n);
    *at += n;
    return NS_OK;
}

/* Rank 0: the other ranks' captures (pack_outs of each, concatenated) into outs. */
static int unpack_outs(const builder *b, file_out *outs, const uint8_t *buf, size_t len)
{
    const size_t rb = (NS_NP_MODEL_WIDTH + 3) / 4;
    size_t at = 0;
    int rc = NS_OK;
    while (!rc && at < len) {
        uint32_t f = 0;
        uint64_t nf = 0, np = 0;
        if ((rc = take(buf, len, &at, &f, sizeof f, 0))) break;
        if (f >= b->n_files) return ns_error(NS_EFORMAT, "ranks' captures: capture %u of %u", f, b->n_files);
        file_out *o = &outs[f];
        file_out_free(o);
        memset(o, 0, sizeof *o);
        if (!rc) rc = take(buf, len, &at, &o->rc, sizeof o->rc, 0);
        if (!rc) rc = take(buf, len, &at, o->msg, sizeof o->msg, 0);
        if (!rc) rc = take(buf, len, &at, &nf, sizeof nf, 0);
        if (!rc) rc = take(buf, len, &at, &np, sizeof np, 0);
        if (!rc) rc = take(buf, len, &at, &o->packets_read, sizeof o->packets_read, 0);
        if (!rc) rc = take(buf, len, &at, &o->packets_in_flows, sizeof o->packets_in_flows, 0);
        if (!rc) rc = take(buf, len, &at, &o->cut, sizeof o->cut, 0);
        if (!rc) rc = take(buf, len, &at, &o->skips, sizeof o->skips, 0);
        if (!rc) rc = take(buf, len, &at, &o->flows, nf * sizeof *o->flows, 1);
        if (!rc) rc = take(buf, len, &at, &o->totals, nf * sizeof *o->totals, 1);
        if (!rc) rc = take(buf, len, &at, &o->service, nf * sizeof *o->service, 1);
        if (!rc) rc = take(buf, len, &at, &o->iat, np * sizeof *o->iat, 1);
        if (!rc) rc = take(buf, len, &at, &o->dir, np, 1);
        if (!rc) rc = take(buf, len, &at, &o->bits, np * rb, 1);
        o->n_flows = nf, o->n_packets = np;
    }
    return rc;
}

/* Put the files' flows together into ds and write it. */
static int merge_and_write(builder *b, file_out *outs, const char *out_path, ns_dataset_stats *st)
{
    uint64_t n_flows = 0, n_packets = 0;
    for (uint32_t f = 0; f < b->n_files; f++) n_flows += outs[f].n_flows, n_packets += outs[f].n_packets;
    const uint32_t rb = (NS_NP_MODEL_WIDTH + 3) / 4;
    ns_ds_flow *flows = malloc((n_flows + 1) * sizeof *flows);
    ns_ds_totals *totals = malloc((n_flows + 1) * sizeof *totals);
    int32_t *labels = malloc((n_flows * b->n_attrs + 1) * sizeof *labels);
    int64_t *iat = malloc((n_packets + 1) * sizeof *iat);
    uint8_t *dir = malloc(n_packets + 1), *bits = malloc((n_packets + 1) * rb);
    int rc = NS_OK;
    if (!flows || !totals || !labels || !iat || !dir || !bits) {
        rc = ns_error(NS_ENOMEM, "%s: out of memory for %" PRIu64 " packets", out_path, n_packets);
        goto done;
    }
    uint64_t fi = 0, k = 0;
    for (uint32_t f = 0; f < b->n_files; f++) {
        const file_out *o = &outs[f];
        for (uint64_t i = 0; i < o->n_flows; i++, fi++) {
            flows[fi] = o->flows[i];
            flows[fi].first += k;
            totals[fi] = o->totals[i];
            int32_t *lab = labels + fi * b->n_attrs;
            memcpy(lab, b->file_tokens + (size_t)f * b->n_label_attrs, b->n_label_attrs * sizeof *lab);
            if (b->n_attrs > b->n_label_attrs) {
                lab[b->n_label_attrs] = o->service[i];
                st->flows_without_service += o->service[i] < 0;
            }
        }
        memcpy(iat + k, o->iat, o->n_packets * sizeof *iat);
        memcpy(dir + k, o->dir, o->n_packets);
        memcpy(bits + k * rb, o->bits, o->n_packets * rb);
        k += o->n_packets;
        st->packets_read += o->packets_read;
        st->packets_in_flows += o->packets_in_flows;
        if (o->cut.records) {
            st->truncated_records++;
            char msg[1024];
            ns_capture_cut_format(b->paths[f], &o->cut, msg, sizeof msg);
            if (b->o->warn) b->o->warn(b->o->warn_ctx, msg);
        }
        for (int r = 0; r < NS_SKIP_COUNT; r++) st->skips.n[r] += o->skips.n[r];
    }
    st->files = b->n_files, st->flows = n_flows, st->rows = n_packets;
    if (!n_flows) {
        /* An empty dataset only fails later, in train or eval, far from the cause. */
        char skips[512];
        ns_skips_format(&st->skips, skips, sizeof skips);
        rc = ns_error(NS_EFORMAT, "%s: no flow in the %u selected captures (%" PRIu64 " packets read%s%s); %s not written",
                      b->o->labels_path, b->n_files, st->packets_read, skips[0] ? "; " : "", skips, out_path);
        goto done;
    }

    ns_dataset ds = {
        .width = NS_NP_MODEL_WIDTH, .row_bytes = rb, .max_packets = (uint32_t)b->o->max_packets,
        .flags = (b->o->keep_addresses ? NS_DS_KEEP_ADDRESSES : 0u) | (uint32_t)b->o->payload_bytes << NS_DS_PAYLOAD_SHIFT,
        .idle_timeout_ns = b->o->idle_timeout_ns,
        .n_flows = n_flows, .n_packets = n_packets,
        .n_attrs = b->n_attrs, .n_tokens = b->attr_first[b->n_attrs], .n_files = b->n_files,
        .attr_names = b->attr_names, .attr_first = b->attr_first, .tokens = b->tokens,
        .files = b->file_names, .flows = flows, .totals = totals, .labels = labels, .iat_ns = iat, .dir = dir, .bits = bits,
    };
    rc = ns_dataset_write(&ds, out_path);
done:
    free(flows);
    free(totals);
    free(labels);
    free(iat);
    free(dir);
    free(bits);
    return rc;
}

int ns_dataset_build(const ns_dataset_opts *o, const char *out_path, ns_dataset_stats *st)
{
    memset(st, 0, sizeof *st);
    if (o->max_packets < 1 || o->max_packets > NS_FLOW_MAX_KEPT)
        return ns_error(NS_EARG, "packets per flow must be in [1, %d], got %d", NS_FLOW_MAX_KEPT, o->max_packets);
    if (o->idle_timeout_ns < 0) return ns_error(NS_EARG, "idle timeout must not be negative");
    if (o->payload_bytes < 0 || o->payload_bytes > NS_DS_MAX_PAYLOAD)
        return ns_error(NS_EARG, "payload bytes must be in [0, %d] (the model row's payload layer), got %d",
                        NS_DS_MAX_PAYLOAD, o->payload_bytes);
    if (o->flows_path && (!o->flow_label || !*o->flow_label))
        return ns_error(NS_EARG, "%s: a flow table needs the column to label flows with", o->flows_path);

    builder b;
    memset(&b, 0, sizeof b);
    b.o = o;
    int rc = ns_labels_load(&b.table, o->labels_path);
    if (!rc) rc = parse_label_columns(&b);
    if (!rc) rc = select_files(&b);
    if (!rc && o->flows_path) {
        rc = ns_labels_load(&b.ftable, o->flows_path);
        if (!rc) rc = find_flow_columns(&b);
        if (!rc) b.attr_names[b.n_attrs++] = SERVICE_ATTR;
    }
    if (!rc) rc = build_vocabulary(&b);
    if (!rc) rc = file_label_tokens(&b);
    if (!rc && o->flows_path) rc = load_services(&b);
    if (rc) {
        builder_free(&b);
        return rc;
    }

    file_out *outs = calloc(b.n_files, sizeof *outs);
    if (!outs) {
        builder_free(&b);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    uint64_t read = 0, share = 0;
    for (uint32_t f = 0; f < b.n_files; f++) share += (uint64_t)mine(o, f);
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t f = 0; f < (int64_t)b.n_files; f++) {
        if (!mine(o, (uint32_t)f)) continue;
        file_out *out = &outs[f];
        if ((out->rc = process_file(&b, (uint32_t)f, out)))
            snprintf(out->msg, sizeof out->msg, "%s", ns_errmsg());
        if (o->progress) {
            #pragma omp critical(ns_dataset_progress)
            o->progress(o->progress_ctx, ++read, share);
        }
    }
    if (o->n_ranks > 1) {
        /* Every rank's captures to rank 0, which goes on as one process. */
        uint8_t *buf = NULL;
        void *all = NULL;
        size_t len = 0, all_len = 0;
        rc = o->rank ? pack_outs(&b, outs, &buf, &len) : NS_OK;
        if (!rc) rc = o->gather(o->gather_ctx, buf, len, &all, &all_len);
        free(buf);
        if (!rc && !o->rank) rc = unpack_outs(&b, outs, all, all_len);
        free(all);
        if (!rc && o->rank) {
            for (uint32_t f = 0; f < b.n_files; f++) file_out_free(&outs[f]);
            free(outs);
            builder_free(&b);
            return NS_OK;
        }
    }
    for (uint32_t f = 0; f < b.n_files && !rc; f++)
        if (outs[f].rc) rc = ns_error(outs[f].rc, "%s", outs[f].msg);
    if (!rc) rc = merge_and_write(&b, outs, out_path, st);
    for (uint32_t f = 0; f < b.n_files; f++) file_out_free(&outs[f]);
    free(outs);
    builder_free(&b);
    return rc;
}

int ns_dataset_combos(const ns_dataset *ds, const int32_t *attr, const int32_t *tok, uint32_t n_attrs, int32_t **ids,
                      uint32_t **count, uint32_t *n)
{
    /* Quadratic in combinations, which number in the hundreds at most for
     * real label tables. */
    size_t A = n_attrs, cap = 64;
    int32_t *combo = malloc(cap * (A ? A : 1) * sizeof *combo), *row = malloc((A ? A : 1) * sizeof *row);
    uint32_t *cnt = malloc(cap * sizeof *cnt), k = 0;
    int ok = combo && row && cnt;
    for (uint64_t f = 0; ok && f < ds->n_flows; f++) {
        const int32_t *lab = ds->labels + f * ds->n_attrs;
        for (size_t b = 0; attr && b < A; b++) row[b] = -1;
        for (uint32_t a = 0; a < ds->n_attrs; a++) {
            int32_t t = lab[a] >= 0 && tok ? tok[lab[a]] : lab[a];
            row[attr ? (size_t)attr[a] : a] = t < 0 ? -1 : t;
        }
        uint32_t c = 0;
        while (c < k && memcmp(combo + c * A, row, A * sizeof *row)) c++;
        if (c == k && k == cap) {
            cap *= 2;
            int32_t *more = realloc(combo, cap * (A ? A : 1) * sizeof *combo);
            if (more) combo = more;
            uint32_t *more_cnt = realloc(cnt, cap * sizeof *cnt);
            if (more_cnt) cnt = more_cnt;
            ok = more && more_cnt;
        }
        if (ok && c == k) {
            memcpy(combo + c * A, row, A * sizeof *row);
            cnt[k++] = 0;
        }
        if (ok) cnt[c]++;
    }
    free(row);
    if (!ok) {
        free(combo), free(cnt);
        *ids = NULL, *count = NULL, *n = 0;
        return ns_error(NS_ENOMEM, "out of memory for label combinations");
    }
    *ids = combo, *count = cnt, *n = k;
    return NS_OK;
}
