/* nprint.c: the nPrint bit layout, frames -> nPrint CSV text (byte-identical
 * to nPrint 1.2.1), and rows -> packet bytes.
 *
 * What nPrint 1.2.1 emits, learnt from its source and checked against its
 * output (../shared/golden/nprint-1.2.1):
 *   - Ethernet frames whose ethertype is IPv4 or IPv6 (no VLAN tags); the IP
 *     version then comes from the version nibble, not from the ethertype.
 *   - IPv4 with protocol TCP, UDP or ICMP; IPv6 whose *first* next header is
 *     TCP, UDP or ICMP (protocol 1: so ICMPv6 and anything behind an
 *     extension header is skipped). Fragments are not special.
 *   - Every emitted packet, whatever layers were asked for: an IPv6 packet
 *     under `-4` is a row whose ipv4 bits are all fill.
 *   - A header's bits are its own bytes, as many as its length field says
 *     (IHL*4, data offset*4), then fill up to the layer's width.
 * nPrint reads headers without bounds checks; a frame too short for the
 * headers it claims is skipped here (counted) instead of printing whatever
 * memory follows. nPrint also decodes a frame with any other ethertype as if
 * IP started at byte 0 (an ARP frame to a MAC beginning with 0x4_ turns into
 * an "IPv4" row); we count such frames as non-IP. */
#include "netsynth/nprint.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/bytes.h"
#include "netsynth/error.h"

/* L_ETH, L_IPV4, ...: a layer's index in layers_info (and np_view). */
#define LAYER_INDEX(id, name, bits, model) L_##id,
enum { NS_NP_LAYER_TABLE(LAYER_INDEX) NLAYERS };
#undef LAYER_INDEX

enum {
    ETH_LEN = 14,
    IPV6_LEN = 40,
};

/* ---- layout ----------------------------------------------------------------- */

static const struct layer_info {
    unsigned layer;
    const char *name;
    int bytes;             /* width / 8 */
} layers_info[NLAYERS] = {
#define LAYER(id, name, bits, model) {NS_NP_##id, name, (bits) / 8},
    NS_NP_LAYER_TABLE(LAYER)
#undef LAYER
};

static const ns_nprint_field fields[NS_NPF_COUNT] = {
#define FIELD(id, name, layer, bit, bits) {name, NS_NP_##layer, bit, bits},
    NS_NP_FIELD_TABLE(FIELD)
#undef FIELD
};

/* The tables agree with themselves: the layers' bits are NS_NP_ETH, ... in
 * column order, and a layer's fields tile it, each starting where the one
 * before it in the table ends (FIELD_AT_<id>, counted through a row of
 * every layer, as ALL_AT_<layer> counts the layers). */
#define LAYER_CHECK(id, name, bits, model)                                         \
    _Static_assert(NS_NP_##id == 1u << L_##id, "layer bits in column order"); \
    _Static_assert((bits) % 8 == 0, "layers are whole bytes");
NS_NP_LAYER_TABLE(LAYER_CHECK)
#undef LAYER_CHECK
_Static_assert(L_PAY == NLAYERS - 1 && (NS_NP_ALL | NS_NP_PAY) == (1u << NLAYERS) - 1,
               "NS_NP_ALL is every header layer; the payload comes last, where -p puts it");
#define ALL_AT(id, name, bits, model) ALL_AT_##id, ALL_END_##id = ALL_AT_##id + (bits) - 1,
enum { ALL_START_ = -1, NS_NP_LAYER_TABLE(ALL_AT) ALL_END };
#undef ALL_AT
_Static_assert(ALL_END == NS_NP_MAX_WIDTH + NS_NP_BITS_PAY, "layer widths add up");
#define FIELD_AT(id, name, layer, bit, bits) FIELD_AT_##id, FIELD_END_##id = FIELD_AT_##id + (bits) - 1,
enum { FIELD_START_ = -1, NS_NP_FIELD_TABLE(FIELD_AT) FIELD_END };
#undef FIELD_AT
#define FIELD_CHECK(id, name, layer, bit, bits)                                                   \
    _Static_assert((int)FIELD_AT_##id == (int)ALL_AT_##layer + (bit), name " starts where the field before it ends"); \
    _Static_assert((bit) + (bits) <= NS_NP_BITS_##layer, name " lies inside its layer");
NS_NP_FIELD_TABLE(FIELD_CHECK)
#undef FIELD_CHECK
_Static_assert(FIELD_END == NS_NP_MAX_WIDTH + NS_NP_BITS_PAY, "the fields cover every column");

const ns_nprint_field *ns_nprint_fields(size_t *count)
{
    *count = NS_NPF_COUNT;
    return fields;
}

int ns_nprint_field_find(const char *name)
{
    for (int i = 0; i < NS_NPF_COUNT; i++)
        if (!strcmp(fields[i].name, name)) return i;
    return -1;
}

int ns_nprint_field_col(unsigned layers, ns_nprint_field_id f)
{
    if ((unsigned)f >= NS_NPF_COUNT) return -1;
    int off = ns_nprint_layer_offset(layers, fields[f].layer);
    return off < 0 ? -1 : off + fields[f].bit;
}

/* Model-row columns by field id, from the header's constants. */
static const short model_col[NS_NPF_COUNT] = {
#define MODEL_COL(id, name, layer, bit, bits) NS_NP_COL_##id,
    NS_NP_FIELD_TABLE(MODEL_COL)
#undef MODEL_COL
};

uint64_t ns_nprint_bits_get(const int8_t *row, int col, int width)
{
    uint64_t v = 0;
    for (int k = 0; k < width; k++) v = v << 1 | (row[col + k] == 1);
    return v;
}

void ns_nprint_bits_put(int8_t *row, int col, int width, uint64_t value)
{
    for (int k = 0; k < width; k++) {
        int shift = width - 1 - k;
        row[col + k] = (int8_t)(shift < 64 ? value >> shift & 1 : 0);
    }
}

int ns_nprint_bits_present(const int8_t *row, int col, int width)
{
    int n = 0;
    for (int k = 0; k < width; k++) n += row[col + k] >= 0;
    return n;
}

uint64_t ns_nprint_get(const int8_t *row, ns_nprint_field_id f)
{
    if ((unsigned)f >= NS_NPF_COUNT || model_col[f] < 0) return 0;
    return ns_nprint_bits_get(row, model_col[f], fields[f].width);
}

void ns_nprint_put(int8_t *row, ns_nprint_field_id f, uint64_t value)
{
    if ((unsigned)f >= NS_NPF_COUNT || model_col[f] < 0) return;
    ns_nprint_bits_put(row, model_col[f], fields[f].width, value);
}

void ns_nprint_clear(int8_t *row, ns_nprint_field_id f)
{
    if ((unsigned)f >= NS_NPF_COUNT || model_col[f] < 0) return;
    memset(row + model_col[f], -1, (size_t)fields[f].width);
}

int ns_nprint_has(const int8_t *row, ns_nprint_field_id f)
{
    if ((unsigned)f >= NS_NPF_COUNT || model_col[f] < 0) return 0;
    return ns_nprint_bits_present(row, model_col[f], fields[f].width) == fields[f].width;
}

int ns_nprint_width(unsigned layers)
{
    int w = 0;
    for (int i = 0; i < NLAYERS; i++)
        if (layers & layers_info[i].layer) w += layers_info[i].bytes * 8;
    return w;
}

int ns_nprint_layer_offset(unsigned layers, unsigned layer)
{
    if (!(layers & layer)) return -1;
    int off = 0;
    for (int i = 0; i < NLAYERS && layers_info[i].layer != layer; i++)
        if (layers & layers_info[i].layer) off += layers_info[i].bytes * 8;
    return off;
}

const char *ns_nprint_layer_name(unsigned layer)
{
    for (int i = 0; i < NLAYERS; i++)
        if (layers_info[i].layer == layer) return layers_info[i].name;
    return "?";
}

const char *ns_nprint_index_name(ns_nprint_index ix)
{
    static const char *const names[] = {"src_ip", "dst_ip", "src_port", "dst_port", "flow"};
    return (unsigned)ix < 5 ? names[ix] : "?";
}

/* ---- nPrint's view of a frame ------------------------------------------------ */

/* The header bytes one row shows; lengths are what the headers say, and all
 * of them lie inside the captured bytes. */
typedef struct np_view {
    const uint8_t *hdr[NLAYERS];   /* indexed like layers_info; NULL = absent */
    size_t len[NLAYERS];
    const uint8_t *pay;            /* the transport payload (-p), pay_len bytes */
    size_t pay_len;
} np_view;

/* The transport payload as nPrint's -p sees it: from the end of the
 * transport header (IPv4: IHL*4 + its length; IPv6: 40 + its length) for the
 * IP length less those headers. nPrint does that arithmetic unsigned and
 * reads without bounds: a length field shorter than the headers, or a
 * capture cut short, has it print whatever memory follows, and for IPv6 TCP
 * it starts 20 times the TCP header length further on (pointer arithmetic on
 * a struct tcphdr *). Here the payload is the bytes that are there, the rest
 * is fill; the golden files have none of those cases, so the bytes agree. */
static void view_payload(np_view *v, ns_bytes net, size_t ip_hlen, size_t ip_total)
{
    size_t l4_hlen = 0;
    for (int l = L_TCP; l <= L_ICMP; l++)
        if (v->hdr[l]) l4_hlen = v->len[l];
    size_t start = ip_hlen + l4_hlen;
    ns_bytes pay = ns_bytes_tail(net, start);
    size_t want = ip_total > start ? ip_total - start : 0;
    v->pay = pay.data;
    v->pay_len = want < pay.len ? want : pay.len;
}

/* The transport header at `off` of an IP packet, as nPrint finds it. */
static ns_skip_reason view_l4(np_view *v, ns_bytes ip, size_t off, uint8_t proto)
{
    ns_bytes l4 = ns_bytes_tail(ip, off);
    switch (proto) {
    case NS_PROTO_TCP: {
        uint8_t doff;
        if (!ns_get_u8(l4, 12, &doff)) return NS_SKIP_TRUNC_TCP;
        /* nPrint prints doff*4 bytes even when doff < 5, and always reads the ports. */
        size_t n = (size_t)(doff >> 4) * 4;
        if (!ns_bytes_has(l4, 0, n < 4 ? 4 : n)) return NS_SKIP_TRUNC_TCP;
        v->hdr[L_TCP] = l4.data;
        v->len[L_TCP] = n;
        return NS_SKIP_NONE;
    }
    case NS_PROTO_UDP:
        if (!ns_bytes_has(l4, 0, 8)) return NS_SKIP_TRUNC_UDP;
        v->hdr[L_UDP] = l4.data;
        v->len[L_UDP] = 8;
        return NS_SKIP_NONE;
    case NS_PROTO_ICMP:
        if (!ns_bytes_has(l4, 0, 8)) return NS_SKIP_TRUNC_ICMP;
        v->hdr[L_ICMP] = l4.data;
        v->len[L_ICMP] = 8;
        return NS_SKIP_NONE;
    default:
        return NS_SKIP_OTHER_L4;
    }
}

/* IP from the first byte of `net`; the version nibble decides, as in nPrint.
 * `bad` is the reason to give when it is neither 4 nor 6. */
static ns_skip_reason view_ip(np_view *v, ns_bytes net, ns_skip_reason bad)
{
    uint8_t vhl;
    if (!ns_get_u8(net, 0, &vhl)) return bad == NS_SKIP_BAD_IPV6 ? NS_SKIP_TRUNC_IPV6 : NS_SKIP_TRUNC_IPV4;
    if (vhl >> 4 == 4) {
        size_t ihl = (size_t)(vhl & 15) * 4;
        uint8_t proto;
        if (!ns_get_u8(net, 9, &proto)) return NS_SKIP_TRUNC_IPV4;
        if (ihl < 20) return NS_SKIP_BAD_IPV4;
        if (!ns_bytes_has(net, 0, ihl)) return NS_SKIP_TRUNC_IPV4;
        v->hdr[L_IPV4] = net.data;
        v->len[L_IPV4] = ihl;
        ns_skip_reason r = view_l4(v, net, ihl, proto);
        uint16_t total = 0;
        ns_get_be16(net, 2, &total);
        if (r == NS_SKIP_NONE) view_payload(v, net, ihl, total);
        return r;
    }
    if (vhl >> 4 == 6) {
        if (!ns_bytes_has(net, 0, IPV6_LEN)) return NS_SKIP_TRUNC_IPV6;
        v->hdr[L_IPV6] = net.data;
        v->len[L_IPV6] = IPV6_LEN;
        ns_skip_reason r = view_l4(v, net, IPV6_LEN, net.data[6]);
        uint16_t plen = 0;
        ns_get_be16(net, 4, &plen);
        if (r == NS_SKIP_NONE) view_payload(v, net, IPV6_LEN, IPV6_LEN + (size_t)plen);
        return r;
    }
    return bad;
}

static ns_skip_reason view_frame(np_view *v, int dlt, const uint8_t *data, size_t caplen)
{
    memset(v, 0, sizeof *v);
    ns_bytes frame = ns_bytes_make(data, caplen);
    if (dlt == DLT_EN10MB) {
        uint16_t type;
        if (!ns_get_be16(frame, 12, &type)) return NS_SKIP_TRUNC_LINK;
        if (type != NS_ETHERTYPE_IPV4 && type != NS_ETHERTYPE_IPV6) return NS_SKIP_NON_IP;
        v->hdr[L_ETH] = data;
        v->len[L_ETH] = ETH_LEN;
        return view_ip(v, ns_bytes_tail(frame, ETH_LEN), type == NS_ETHERTYPE_IPV6 ? NS_SKIP_BAD_IPV6 : NS_SKIP_BAD_IPV4);
    }
    /* Other link layers: let the packet module find where IP starts. */
    ns_packet p;
    ns_skip_reason r = ns_packet_parse(&p, dlt, data, caplen);
    if (p.ip_version != 4 && p.ip_version != 6) return r != NS_SKIP_NONE ? r : NS_SKIP_NON_IP;
    return view_ip(v, p.net, p.ip_version == 6 ? NS_SKIP_BAD_IPV6 : NS_SKIP_BAD_IPV4);
}

/* ---- rows of int8 ---------------------------------------------------------- */

static void view_to_row(const np_view *v, unsigned layers, int8_t fill, int8_t *row)
{
    for (int l = 0; l < NLAYERS; l++) {
        if (!(layers & layers_info[l].layer)) continue;
        size_t n = v->hdr[l] ? v->len[l] : 0;
        for (size_t i = 0; i < n; i++)
            for (int b = 0; b < 8; b++) *row++ = (int8_t)(v->hdr[l][i] >> (7 - b) & 1);
        size_t rest = ((size_t)layers_info[l].bytes - n) * 8;
        memset(row, (uint8_t)fill, rest);
        row += rest;
    }
}

void ns_nprint_encode(const ns_packet *p, unsigned layers, int8_t *row)
{
    np_view v;
    memset(&v, 0, sizeof v);
    if (p->eth.len == ETH_LEN) {
        v.hdr[L_ETH] = p->eth.data;
        v.len[L_ETH] = ETH_LEN;
    }
    int l3 = p->ip_version == 4 ? L_IPV4 : p->ip_version == 6 ? L_IPV6 : -1;
    if (l3 >= 0 && p->ip.len) {
        v.hdr[l3] = p->ip.data;
        v.len[l3] = p->ip.len > (size_t)layers_info[l3].bytes ? (size_t)layers_info[l3].bytes : p->ip.len;
    }
    uint8_t ip6[IPV6_LEN];
    if (l3 == L_IPV6 && p->ip.len == IPV6_LEN && p->l4.len) {
        /* Fold extension headers away (see nprint.h): the bytes between the
         * fixed header and the transport header leave the payload length. */
        size_t ext = (size_t)(p->l4.data - p->ip.data) - IPV6_LEN;
        memcpy(ip6, p->ip.data, IPV6_LEN);
        uint16_t plen = (uint16_t)(ip6[4] << 8 | ip6[5]);
        if (ext && plen >= ext) plen = (uint16_t)(plen - ext);
        ip6[4] = (uint8_t)(plen >> 8), ip6[5] = (uint8_t)plen, ip6[6] = p->l4_proto;
        v.hdr[L_IPV6] = ip6;
    }
    int icmp = p->l4_proto == NS_PROTO_ICMP || (p->ip_version == 6 && p->l4_proto == NS_PROTO_ICMPV6);
    int l4 = p->l4_proto == NS_PROTO_TCP ? L_TCP : p->l4_proto == NS_PROTO_UDP ? L_UDP : icmp ? L_ICMP : -1;
    if (l3 >= 0 && l4 >= 0 && p->l4.len) {
        v.hdr[l4] = p->l4.data;
        v.len[l4] = p->l4.len > (size_t)layers_info[l4].bytes ? (size_t)layers_info[l4].bytes : p->l4.len;
        /* The payload layer is -p's bytes: only behind a transport header. */
        if (p->payload.len) {
            v.hdr[L_PAY] = p->payload.data;
            v.len[L_PAY] = p->payload.len > (size_t)layers_info[L_PAY].bytes ? (size_t)layers_info[L_PAY].bytes
                                                                              : p->payload.len;
        }
    }
    view_to_row(&v, layers, -1, row);
}

/* ---- frames -> text ---------------------------------------------------------- */

/* Rows wait in a batch so that their text can be made in parallel. Each
 * keeps a copy of just its header bytes (at most 14 + 60 + 60) and, with
 * -p N, of its first N payload bytes (in the writer's `pay`). A batch holds
 * up to BATCH rows, fewer when -p makes rows long: its text stays near
 * BATCH_TEXT bytes. */
enum { BATCH = 4096, BATCH_TEXT = 64 << 20, MAX_HDR = ETH_LEN + 60 + 60, MAX_INDEX = 112 };

typedef struct pending_row {
    uint8_t bytes[MAX_HDR];
    uint8_t off[NLAYERS], len[NLAYERS];   /* len 0: absent (a TCP doff of 0 too) */
    uint8_t present;                      /* bit per layer */
    uint8_t index_len;
    char index[MAX_INDEX];
    int64_t rts;
    uint8_t has_rts;
    int64_t tv_sec;                       /* -A */
    uint32_t tv_usec;
    uint32_t pay_len;                     /* payload bytes kept, <= -p */
    size_t out_off;
} pending_row;

struct ns_nprint_writer {
    FILE *fp;
    char *name;
    ns_nprint_opts o;
    /* Text of each byte's 8 bits, "b,b,b,b,b,b,b,b," (16 chars). */
    char byte_text[256][16];
    /* Text of fill for a whole layer, or for the whole payload when -p
     * is longer: fill_bytes bytes * 8 bits * "fill,". */
    char *fill_text;
    size_t fill_byte_len;                 /* text of one fill byte */
    pending_row *rows;
    uint8_t *pay;                         /* batch * o.payload bytes */
    size_t n, batch;
    int bits;                             /* bit columns: headers and payload */
    /* Two text buffers: one batch is written while the next is formatted. */
    char *out[2];
    size_t out_cap[2], out_len[2];
    int cur, waiting;                     /* waiting: out[cur ^ 1] is unwritten */
    int64_t last_us;                      /* nPrint's "mrt": the previous row's time */
    int have_last;
    uint64_t total_rows;
    ns_skips skips;
};

static int write_header(ns_nprint_writer *w)
{
    FILE *fp = w->fp;
    int rc = ns_nprint_csv_write_header_ex(fp, ns_nprint_index_name(w->o.index), w->o.rts, w->o.abs_time,
                                           w->o.layers, w->o.payload);
    return rc ? ns_error(NS_EIO, "%s: write failed", w->name) : NS_OK;
}

int ns_nprint_writer_open(ns_nprint_writer **out, FILE *fp, const char *name, const ns_nprint_opts *o)
{
    *out = NULL;
    if (o->fill < -128 || o->fill > 127) return ns_error(NS_EARG, "fill value %d is outside -128..127", o->fill);
    if ((unsigned)o->index > NS_NP_INDEX_FLOW) return ns_error(NS_EARG, "index option %d is outside 0..4", (int)o->index);
    if (o->payload < 0 || o->payload > NS_NP_MAX_PAYLOAD)
        return ns_error(NS_EARG, "payload bytes %d are outside 0..%d", o->payload, NS_NP_MAX_PAYLOAD);
    ns_nprint_writer *w = calloc(1, sizeof *w);
    if (!w) return ns_error(NS_ENOMEM, "out of memory");
    w->fp = fp;
    w->o = *o;
    w->o.layers &= NS_NP_ALL;
    w->bits = ns_nprint_width(w->o.layers) + 8 * o->payload;
    /* The longest row: every bit "-128," and the columns before them. */
    size_t row_max = (size_t)w->bits * 5 + MAX_INDEX + 64;
    w->batch = BATCH_TEXT / row_max;
    w->batch = w->batch < 16 ? 16 : w->batch > BATCH ? BATCH : w->batch;
    w->name = strdup(name ? name : "-");
    w->rows = malloc(w->batch * sizeof *w->rows);
    w->pay = malloc(w->batch * (size_t)o->payload + 1);
    char cell[8];
    int cl = snprintf(cell, sizeof cell, "%d,", o->fill);
    size_t fill_bytes = o->payload > 60 ? (size_t)o->payload : 60;
    w->fill_byte_len = 8 * (size_t)cl;
    w->fill_text = malloc(fill_bytes * w->fill_byte_len);
    if (!w->name || !w->rows || !w->pay || !w->fill_text) {
        ns_nprint_writer_free(w);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < fill_bytes * 8; i++) memcpy(w->fill_text + i * (size_t)cl, cell, (size_t)cl);
    for (int v = 0; v < 256; v++)
        for (int b = 0; b < 8; b++) {
            w->byte_text[v][2 * b] = (char)('0' + (v >> (7 - b) & 1));
            w->byte_text[v][2 * b + 1] = ',';
        }
    int rc = write_header(w);
    if (rc) {
        ns_nprint_writer_free(w);
        return rc;
    }
    *out = w;
    return NS_OK;
}

static size_t put_u(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do tmp[n++] = (char)('0' + v % 10); while (v /= 10);
    for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

static size_t put_ip(char *p, const uint8_t *addr, int v6)
{
    if (v6) {
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, addr, buf, sizeof buf);
        size_t n = strlen(buf);
        memcpy(p, buf, n);
        return n;
    }
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        if (i) p[n++] = '.';
        n += put_u(p + n, addr[i]);
    }
    return n;
}

static size_t put_i(char *p, int64_t v)
{
    if (v >= 0) return put_u(p, (uint64_t)v);
    *p = '-';
    return 1 + put_u(p + 1, (uint64_t)0 - (uint64_t)v);
}

static size_t put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return n;
}

/* nPrint's index column: addresses of whichever IP header there is, ports
 * of TCP or UDP ("NULL" otherwise), and for -O 4 the transport's name. */
static size_t format_index(char *p, const np_view *v, ns_nprint_index ix)
{
    int v6 = !v->hdr[L_IPV4];
    const uint8_t *ip = v6 ? v->hdr[L_IPV6] : v->hdr[L_IPV4];
    const uint8_t *ports = v->hdr[L_TCP] ? v->hdr[L_TCP] : v->hdr[L_UDP];
    const uint8_t *src = ip + (v6 ? 8 : 12), *dst = ip + (v6 ? 24 : 16);
    size_t n = 0;
    switch (ix) {
    case NS_NP_INDEX_SRC_IP: return put_ip(p, src, v6);
    case NS_NP_INDEX_DST_IP: return put_ip(p, dst, v6);
    case NS_NP_INDEX_SRC_PORT:
        return ports ? put_u(p, (unsigned)(ports[0] << 8 | ports[1])) : put_str(p, "NULL");
    case NS_NP_INDEX_DST_PORT:
        return ports ? put_u(p, (unsigned)(ports[2] << 8 | ports[3])) : put_str(p, "NULL");
    case NS_NP_INDEX_FLOW:
        n += put_ip(p + n, src, v6);
        p[n++] = '_';
        n += put_ip(p + n, dst, v6);
        p[n++] = '_';
        n += ports ? put_u(p + n, (unsigned)(ports[0] << 8 | ports[1])) : put_str(p + n, "NULL");
        p[n++] = '_';
        n += ports ? put_u(p + n, (unsigned)(ports[2] << 8 | ports[3])) : put_str(p + n, "NULL");
        p[n++] = '_';
        n += put_str(p + n, v->hdr[L_TCP] ? "TCP" : v->hdr[L_UDP] ? "UDP" : "NULL");
        return n;
    }
    return 0;
}

/* Exact text length of a pending row (known before it is formatted, so
 * that every row gets its place in the output buffer up front). */
static size_t row_text_len(const ns_nprint_writer *w, const pending_row *r)
{
    size_t n = r->index_len + 1;
    char tmp[24];
    if (r->has_rts) n += put_i(tmp, r->rts) + 1;
    if (w->o.abs_time) n += put_i(tmp, r->tv_sec) + 1 + put_u(tmp, r->tv_usec) + 1;
    for (int l = 0; l < NLAYERS; l++) {
        if (!(w->o.layers & layers_info[l].layer)) continue;
        size_t have = (r->present >> l & 1) ? r->len[l] : 0;
        n += have * 16 + ((size_t)layers_info[l].bytes - have) * w->fill_byte_len;
    }
    n += (size_t)r->pay_len * 16 + ((size_t)w->o.payload - r->pay_len) * w->fill_byte_len;
    return n + (w->bits ? 0 : 1);   /* the last ',' becomes '\n' */
}

static void format_row(const ns_nprint_writer *w, const pending_row *r, const uint8_t *pay, char *p)
{
    char *start = p;
    memcpy(p, r->index, r->index_len);
    p += r->index_len;
    *p++ = ',';
    if (r->has_rts) {
        p += put_i(p, r->rts);
        *p++ = ',';
    }
    if (w->o.abs_time) {
        p += put_i(p, r->tv_sec);
        *p++ = ',';
        p += put_u(p, r->tv_usec);
        *p++ = ',';
    }
    for (int l = 0; l < NLAYERS; l++) {
        if (!(w->o.layers & layers_info[l].layer)) continue;
        size_t have = (r->present >> l & 1) ? r->len[l] : 0;
        const uint8_t *b = r->bytes + r->off[l];
        for (size_t i = 0; i < have; i++, p += 16) memcpy(p, w->byte_text[b[i]], 16);
        size_t fill = ((size_t)layers_info[l].bytes - have) * w->fill_byte_len;
        memcpy(p, w->fill_text, fill);
        p += fill;
    }
    for (size_t i = 0; i < r->pay_len; i++, p += 16) memcpy(p, w->byte_text[pay[i]], 16);
    size_t fill = ((size_t)w->o.payload - r->pay_len) * w->fill_byte_len;
    memcpy(p, w->fill_text, fill);
    p += fill;
    /* nPrint ends a row with a newline in place of the last separator; with
     * no bit columns at all the index keeps its trailing comma. */
    if (p > start && p[-1] == ',' && w->bits) p[-1] = '\n';
    else *p = '\n';
}

static int write_text(ns_nprint_writer *w, int buf)
{
    if (fwrite(w->out[buf], 1, w->out_len[buf], w->fp) != w->out_len[buf])
        return ns_error(NS_EIO, "%s: write failed", w->name);
    return NS_OK;
}

/* Format the batch into out[cur] in parallel while one thread writes the
 * previous batch, so that with two cores the disk and the CPU overlap. */
static int flush_batch(ns_nprint_writer *w)
{
    if (!w->n) return NS_OK;
    int cur = w->cur;
    size_t total = 0;
    for (size_t i = 0; i < w->n; i++) {
        w->rows[i].out_off = total;
        total += row_text_len(w, &w->rows[i]);
    }
    if (total > w->out_cap[cur]) {
        char *b = realloc(w->out[cur], total);
        if (!b) return ns_error(NS_ENOMEM, "out of memory");
        w->out[cur] = b;
        w->out_cap[cur] = total;
    }
    w->out_len[cur] = total;
    long n = (long)w->n;
    int threads = w->o.threads, rc = NS_OK;
#pragma omp parallel num_threads(threads) if (threads != 1)
    {
#pragma omp single nowait
        if (w->waiting) rc = write_text(w, cur ^ 1);
#pragma omp for schedule(dynamic, 32)
        for (long i = 0; i < n; i++)
            format_row(w, &w->rows[i], w->pay + (size_t)i * (size_t)w->o.payload, w->out[cur] + w->rows[i].out_off);
    }
    w->n = 0;
    w->waiting = 1;
    w->cur = cur ^ 1;
    return rc;
}

int ns_nprint_writer_frame(ns_nprint_writer *w, int dlt, const ns_frame *f)
{
    np_view v;
    ns_skip_reason r = view_frame(&v, dlt, f->data, f->caplen);
    if (r != NS_SKIP_NONE) {
        ns_skips_add(&w->skips, r);
        return NS_OK;
    }
    pending_row *p = &w->rows[w->n];
    size_t off = 0;
    p->present = 0;
    for (int l = 0; l < NLAYERS; l++) {
        p->off[l] = (uint8_t)off;
        p->len[l] = 0;
        if (!v.hdr[l]) continue;
        p->present |= (uint8_t)(1u << l);
        p->len[l] = (uint8_t)v.len[l];
        memcpy(p->bytes + off, v.hdr[l], v.len[l]);
        off += v.len[l];
    }
    p->pay_len = (uint32_t)(v.pay_len < (size_t)w->o.payload ? v.pay_len : (size_t)w->o.payload);
    if (p->pay_len) memcpy(w->pay + w->n * (size_t)w->o.payload, v.pay, p->pay_len);
    p->index_len = (uint8_t)format_index(p->index, &v, w->o.index);
    /* nPrint reads the capture at microsecond precision: libpcap truncates
     * finer stamps. */
    int64_t sec = f->ts_ns / 1000000000, sub = f->ts_ns % 1000000000;
    if (sub < 0) sec--, sub += 1000000000;
    p->tv_sec = sec;
    p->tv_usec = (uint32_t)(sub / 1000);
    p->has_rts = (uint8_t)(w->o.rts != 0);
    if (w->o.rts) {
        /* nPrint reads microseconds and measures from the previous row it
         * wrote; the first row (and any after a row stamped in second 0) gets 0. */
        int64_t us = f->ts_ns >= 0 ? f->ts_ns / 1000 : -((-f->ts_ns + 999) / 1000);
        p->rts = w->have_last ? us - w->last_us : 0;
        w->have_last = us / 1000000 != 0;
        w->last_us = us;
        /* A clock going backwards gives a negative rts, as in nPrint. But
         * nPrint uses -1 as its "no rts" sentinel, so a row whose rts is
         * exactly -1 loses the column and comes out one value short (the
         * D-LinkHomeHub golden file has one). We write the same bytes; the
         * CSV reader knows this row shape. */
        if (p->rts == -1) p->has_rts = 0;
    }
    w->total_rows++;
    if (++w->n == w->batch) return flush_batch(w);
    return NS_OK;
}

int ns_nprint_writer_finish(ns_nprint_writer *w, uint64_t *rows, ns_skips *skips)
{
    int rc = flush_batch(w);
    if (rc == NS_OK && w->waiting) rc = write_text(w, w->cur ^ 1);
    w->waiting = 0;
    if (rows) *rows = w->total_rows;
    if (skips) *skips = w->skips;
    return rc;
}

void ns_nprint_writer_free(ns_nprint_writer *w)
{
    if (!w) return;
    free(w->name);
    free(w->rows);
    free(w->pay);
    free(w->fill_text);
    free(w->out[0]);
    free(w->out[1]);
    free(w);
}

/* ---- rows -> packets ---------------------------------------------------------- */

/* A layer's bits as bytes. Returns how many leading bytes are fully
 * present (0/1 bits); *absent tells whether every bit is -1. A byte with
 * some bits -1 and some not ends the present run. */
static size_t layer_bytes(const int8_t *bits, size_t nbytes, uint8_t *out, int *absent)
{
    size_t present = 0;
    int any = 0, gap = 0;
    for (size_t i = 0; i < nbytes; i++) {
        uint8_t v = 0;
        int ok = 1;
        for (int b = 0; b < 8; b++) {
            int8_t x = bits[i * 8 + b];
            if (x < 0) ok = 0;
            else any = 1;
            v = (uint8_t)(v << 1 | (x > 0));
        }
        out[i] = v;
        if (ok && !gap) present = i + 1;
        if (!ok) gap = 1;
    }
    *absent = !any;
    return present;
}

static const int8_t *layer_bits(const int8_t *row, unsigned layers, unsigned layer)
{
    int off = ns_nprint_layer_offset(layers, layer);
    return off < 0 ? NULL : row + off;
}

/* IPv6 upper-layer checksum (RFC 8200 8.1): pseudo-header of addresses,
 * 32-bit length and next header, then the segment. */
static uint16_t l4_checksum_ipv6(const uint8_t *ip6, uint8_t proto, uint8_t *l4, size_t len, size_t field)
{
    uint32_t sum = 0;
    if (proto != NS_PROTO_ICMP) {
        sum = ns_inet_sum(0, ip6 + 8, 32);
        sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + proto;
    }
    l4[field] = l4[field + 1] = 0;
    uint16_t c = (uint16_t)~ns_inet_fold(ns_inet_sum(sum, l4, len));
    return proto == NS_PROTO_UDP && c == 0 ? 0xffff : c;
}

/* The leading payload bytes whose bits are all present, at most max of
 * them, written to out; how many. */
static size_t payload_bytes_present(const int8_t *bits, size_t nbytes, size_t max, uint8_t *out)
{
    size_t i = 0;
    for (; i < nbytes && i < max; i++) {
        uint8_t v = 0;
        for (int b = 0; b < 8; b++) {
            int8_t x = bits[i * 8 + b];
            if (x < 0) return i;
            v = (uint8_t)(v << 1 | (x > 0));
        }
        out[i] = v;
    }
    return i;
}

int ns_nprint_row_to_packet(const int8_t *row, unsigned layers, int ethernet, uint8_t *buf, size_t *len)
{
    return ns_nprint_row_to_packet_ex(row, layers, NULL, 0, ethernet, 1, buf, len, NULL);
}

int ns_nprint_row_to_packet_ex(const int8_t *row, unsigned layers, const int8_t *payload, int payload_bytes,
                               int ethernet, int recompute, uint8_t *buf, size_t *len, int *whole)
{
    /* A row of the payload layer carries its own -p columns. */
    if ((layers & NS_NP_PAY) && !payload) {
        payload = row + ns_nprint_layer_offset(layers, NS_NP_PAY);
        payload_bytes = NS_NP_BITS_PAY / 8;
    }
    uint8_t hdr[60];
    int absent;
    size_t link = ethernet ? ETH_LEN : 0;
    uint8_t *ip = buf + link;
    size_t ip_hlen, total;
    int v6 = 0, fragment = 0;
    uint8_t proto;

    /* IP: IPv4 when its bits are there, else IPv6. With fill 0 (-F 0) an
     * IPv6 packet's ipv4 bits are there too, all zeros: a version that is
     * not 4 beside ipv6 bits saying 6 is such a row. */
    const int8_t *b4 = layer_bits(row, layers, NS_NP_IPV4), *b6 = layer_bits(row, layers, NS_NP_IPV6);
    size_t have = b4 ? layer_bytes(b4, 60, hdr, &absent) : 0;
    if (b4 && !absent && hdr[0] >> 4 != 4 && b6 && ns_nprint_bits_get(b6, 0, 4) == 6 &&
        ns_nprint_bits_present(b6, 0, 4) == 4)
        absent = 1;
    if (b4 && !absent) {
        if (have < 20) return ns_error(NS_EFORMAT, "ipv4 bits absent inside the fixed header (byte %zu)", have);
        if (hdr[0] >> 4 != 4) return ns_error(NS_EFORMAT, "ipv4 version is %d", hdr[0] >> 4);
        ip_hlen = (size_t)(hdr[0] & 15) * 4;
        if (ip_hlen < 20) return ns_error(NS_EFORMAT, "ipv4 header length %zu < 20", ip_hlen);
        if (have < ip_hlen) return ns_error(NS_EFORMAT, "ipv4 option bits absent inside the %zu-byte header", ip_hlen);
        total = (size_t)(hdr[2] << 8 | hdr[3]);
        proto = hdr[9];
        fragment = (hdr[6] & 0x3f) || hdr[7];   /* MF or an offset: the L4 checksum is not ours to make */
        memcpy(ip, hdr, ip_hlen);
    } else {
        have = b6 ? layer_bytes(b6, 40, hdr, &absent) : 0;
        if (!b6 || absent) return ns_error(NS_EFORMAT, "no IP header (ipv4 and ipv6 bits absent)");
        if (have < 40) return ns_error(NS_EFORMAT, "ipv6 bits absent inside the header (byte %zu)", have);
        if (hdr[0] >> 4 != 6) return ns_error(NS_EFORMAT, "ipv6 version is %d", hdr[0] >> 4);
        v6 = 1;
        ip_hlen = 40;
        total = 40 + (size_t)(hdr[4] << 8 | hdr[5]);
        proto = hdr[6];
        memcpy(ip, hdr, 40);
    }

    /* Transport: the header the IP protocol names, when the row has it. */
    unsigned l4layer = proto == NS_PROTO_TCP ? NS_NP_TCP : proto == NS_PROTO_UDP ? NS_NP_UDP
                       : proto == NS_PROTO_ICMP || (v6 && proto == NS_PROTO_ICMPV6) ? NS_NP_ICMP : 0;
    const int8_t *bl4 = l4layer ? layer_bits(row, layers, l4layer) : NULL;
    size_t l4_hlen = 0;
    if (bl4) {
        size_t max = l4layer == NS_NP_TCP ? 60 : 8;
        have = layer_bytes(bl4, max, hdr, &absent);
        if (absent)
            return ns_error(NS_EFORMAT, "the IP protocol is %s but the %s bits are absent",
                            ns_nprint_layer_name(l4layer), ns_nprint_layer_name(l4layer));
        l4_hlen = max;
        if (l4layer == NS_NP_TCP) {
            if (have < 20) return ns_error(NS_EFORMAT, "tcp bits absent inside the fixed header (byte %zu)", have);
            l4_hlen = (size_t)(hdr[12] >> 4) * 4;
            if (l4_hlen < 20) return ns_error(NS_EFORMAT, "tcp data offset %zu < 5", l4_hlen / 4);
        }
        if (have < l4_hlen)
            return ns_error(NS_EFORMAT, "%s bits absent inside the %zu-byte header", ns_nprint_layer_name(l4layer), l4_hlen);
    }
    if (total < ip_hlen + l4_hlen)
        return ns_error(NS_EFORMAT, "IP length %zu is shorter than the headers (%zu bytes)", total, ip_hlen + l4_hlen);

    /* Payload: the bytes the row has (-p, after the transport header, so
     * only where the row has that header), then zeros up to the IP length. */
    memset(ip + ip_hlen, 0, total - ip_hlen);
    memcpy(ip + ip_hlen, hdr, l4_hlen);
    uint8_t *l4 = ip + ip_hlen;
    size_t l4_len = total - ip_hlen, pay_len = l4_len - l4_hlen, pay_have = 0;
    if (bl4 && payload && payload_bytes > 0)
        pay_have = payload_bytes_present(payload, (size_t)payload_bytes, pay_len, l4 + l4_hlen);
    /* Every byte of the packet came from the row's bits, payload columns
     * included: it is the packet that was encoded, checksums and all. A row
     * without payload columns is never taken so (a generated header-only
     * row's checksum bits are not to be trusted). */
    int verbatim = bl4 && payload && payload_bytes > 0 && pay_have == pay_len;
    if (whole) *whole = verbatim;
    if (verbatim && !recompute) l4_hlen = 0;
    if (!v6 && !(verbatim && !recompute)) {
        uint16_t c = ns_ipv4_header_checksum(ip, ip_hlen);
        ip[10] = (uint8_t)(c >> 8);
        ip[11] = (uint8_t)c;
    }
    if (l4_hlen && !fragment) {
        size_t field = l4layer == NS_NP_TCP ? 16 : l4layer == NS_NP_UDP ? 6 : 2;
        uint16_t c = v6 ? l4_checksum_ipv6(ip, proto, l4, l4_len, field) : ns_l4_checksum_ipv4(ip, proto, l4, l4_len);
        l4[field] = (uint8_t)(c >> 8);
        l4[field + 1] = (uint8_t)c;
    }

    if (ethernet) {
        const int8_t *be = layer_bits(row, layers, NS_NP_ETH);
        if (be && layer_bytes(be, ETH_LEN, hdr, &absent) == ETH_LEN) {
            memcpy(buf, hdr, ETH_LEN);
        } else {
            static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
            memcpy(buf, macs, 12);
            buf[12] = v6 ? 0x86 : 0x08;
            buf[13] = v6 ? 0xdd : 0x00;
        }
    }
    *len = link + total;
    return NS_OK;
}
