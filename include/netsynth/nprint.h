/* nprint.h: packets <-> nPrint bit rows (nPrint 1.2.1 column order and names).
 *
 * A row holds one int8 per header bit: 1, 0, or -1 where the packet does not
 * have that header (or that option byte). Headers always appear in the order
 * eth, ipv4, ipv6, tcp, udp, icmp, whichever of them `layers` selects.
 * Widths: eth 112, ipv4 480, ipv6 320, tcp 480, udp 64, icmp 64 bits.
 *
 * After the headers a row may have the payload layer (NS_NP_PAY, in every
 * model row): the first 64 bytes of the transport payload as 512 bits in
 * nPrint's -p order (payload_bit_0 is the first byte's top bit), -1 past the
 * payload's end (and past the bytes a dataset keeps, `dataset --payload N`).
 * In a CSV it is written as -p 64 writes its columns.
 *
 * Three parts: the bit layout (fields, widths), the CSV writer that turns
 * frames into text byte-identical to `nprint` 1.2.1 (with its -R, -A and -p
 * columns), and the way back (CSV reader, row -> packet bytes, with the
 * payload bits when the CSV has them). A CSV's -p columns (any N) are read
 * apart from the header bits (ns_nprint_csv.payload), also when a model
 * row's payload layer wrote them. */
#ifndef NETSYNTH_NPRINT_H
#define NETSYNTH_NPRINT_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netsynth/capture.h"
#include "netsynth/packet.h"

enum {
    NS_NP_ETH = 1u << 0,
    NS_NP_IPV4 = 1u << 1,
    NS_NP_IPV6 = 1u << 2,
    NS_NP_TCP = 1u << 3,
    NS_NP_UDP = 1u << 4,
    NS_NP_ICMP = 1u << 5,
    NS_NP_PAY = 1u << 6,   /* leading transport payload bytes: a model layer, -p's columns in a CSV */
    NS_NP_ALL = 0x3f       /* every header layer (nPrint's -e -4 -6 -t -u -i); not NS_NP_PAY */
};

/* ---- the row layout: one table ----------------------------------------------
 *
 * Every column of a row is written down once, here: the layers in column
 * order with their widths and whether the model learns them, and every field
 * of every layer (nPrint's name, first bit within its layer, width). The
 * field table (ns_nprint_fields), the field ids (NS_NPF_*), the columns of a
 * model row (NS_NP_COL_*), the widths (NS_NP_BITS_*) and NS_NP_MODEL_WIDTH all
 * come from these two lists, and nothing outside nprint.c writes a column as
 * a number. A new layer (IPv6 or payload in the model) is its NS_NP_* bit
 * above (and NS_NP_ALL), one line of NS_NP_LAYER_TABLE and its fields in
 * NS_NP_FIELD_TABLE; nprint.c checks at compile time that the bits follow the
 * table and that a layer's fields tile its width. NS_NPI_* are the tables'
 * workings, not for use. */

/* X(ID, "name", bits, in the model row); NS_NP_<ID> is the layer's bit. */
#define NS_NP_LAYER_TABLE(X)  \
    X(ETH, "eth", 112, 0)     \
    X(IPV4, "ipv4", 480, 1)   \
    X(IPV6, "ipv6", 320, 1)   \
    X(TCP, "tcp", 480, 1)     \
    X(UDP, "udp", 64, 1)      \
    X(ICMP, "icmp", 64, 1)    \
    X(PAY, "payload", 512, 1)

/* X(ID, "name", LAYER, first bit within the layer, bits), in column order. */
#define NS_NP_FIELD_TABLE(X)                                                                      \
    X(ETH_DHOST, "eth_dhost", ETH, 0, 48) X(ETH_SHOST, "eth_shost", ETH, 48, 48)                 \
    X(ETH_ETHERTYPE, "eth_ethertype", ETH, 96, 16)                                                \
    X(IPV4_VER, "ipv4_ver", IPV4, 0, 4) X(IPV4_HL, "ipv4_hl", IPV4, 4, 4)                        \
    X(IPV4_TOS, "ipv4_tos", IPV4, 8, 8) X(IPV4_TL, "ipv4_tl", IPV4, 16, 16)                      \
    X(IPV4_ID, "ipv4_id", IPV4, 32, 16) X(IPV4_RBIT, "ipv4_rbit", IPV4, 48, 1)                   \
    X(IPV4_DFBIT, "ipv4_dfbit", IPV4, 49, 1) X(IPV4_MFBIT, "ipv4_mfbit", IPV4, 50, 1)            \
    X(IPV4_FOFF, "ipv4_foff", IPV4, 51, 13) X(IPV4_TTL, "ipv4_ttl", IPV4, 64, 8)                 \
    X(IPV4_PROTO, "ipv4_proto", IPV4, 72, 8) X(IPV4_CKSUM, "ipv4_cksum", IPV4, 80, 16)           \
    X(IPV4_SRC, "ipv4_src", IPV4, 96, 32) X(IPV4_DST, "ipv4_dst", IPV4, 128, 32)                 \
    X(IPV4_OPT, "ipv4_opt", IPV4, 160, 320)                                                       \
    X(IPV6_VER, "ipv6_ver", IPV6, 0, 4) X(IPV6_TC, "ipv6_tc", IPV6, 4, 8)                        \
    X(IPV6_FL, "ipv6_fl", IPV6, 12, 20) X(IPV6_LEN, "ipv6_len", IPV6, 32, 16)                    \
    X(IPV6_NH, "ipv6_nh", IPV6, 48, 8) X(IPV6_HL, "ipv6_hl", IPV6, 56, 8)                        \
    X(IPV6_SRC, "ipv6_src", IPV6, 64, 128) X(IPV6_DST, "ipv6_dst", IPV6, 192, 128)               \
    X(TCP_SPRT, "tcp_sprt", TCP, 0, 16) X(TCP_DPRT, "tcp_dprt", TCP, 16, 16)                     \
    X(TCP_SEQ, "tcp_seq", TCP, 32, 32) X(TCP_ACKN, "tcp_ackn", TCP, 64, 32)                      \
    X(TCP_DOFF, "tcp_doff", TCP, 96, 4) X(TCP_RES, "tcp_res", TCP, 100, 3)                       \
    X(TCP_NS, "tcp_ns", TCP, 103, 1) X(TCP_CWR, "tcp_cwr", TCP, 104, 1)                          \
    X(TCP_ECE, "tcp_ece", TCP, 105, 1) X(TCP_URG, "tcp_urg", TCP, 106, 1)                        \
    X(TCP_ACKF, "tcp_ackf", TCP, 107, 1) X(TCP_PSH, "tcp_psh", TCP, 108, 1)                      \
    X(TCP_RST, "tcp_rst", TCP, 109, 1) X(TCP_SYN, "tcp_syn", TCP, 110, 1)                        \
    X(TCP_FIN, "tcp_fin", TCP, 111, 1) X(TCP_WSIZE, "tcp_wsize", TCP, 112, 16)                   \
    X(TCP_CKSUM, "tcp_cksum", TCP, 128, 16) X(TCP_URP, "tcp_urp", TCP, 144, 16)                  \
    X(TCP_OPT, "tcp_opt", TCP, 160, 320)                                                          \
    X(UDP_SPORT, "udp_sport", UDP, 0, 16) X(UDP_DPORT, "udp_dport", UDP, 16, 16)                 \
    X(UDP_LEN, "udp_len", UDP, 32, 16) X(UDP_CKSUM, "udp_cksum", UDP, 48, 16)                    \
    X(ICMP_TYPE, "icmp_type", ICMP, 0, 8) X(ICMP_CODE, "icmp_code", ICMP, 8, 8)                  \
    X(ICMP_CKSUM, "icmp_cksum", ICMP, 16, 16) X(ICMP_ROH, "icmp_roh", ICMP, 32, 32)              \
    X(PAY_BIT, "payload_bit", PAY, 0, 512)

/* Field ids: indexes into ns_nprint_fields(), in column order. */
typedef enum ns_nprint_field_id {
#define NS_NPI_ID(id, name, layer, bit, bits) NS_NPF_##id,
    NS_NP_FIELD_TABLE(NS_NPI_ID)
#undef NS_NPI_ID
    NS_NPF_COUNT
} ns_nprint_field_id;

/* What the model learns: the layers marked so (IPv4, IPv6, TCP, UDP, ICMP, payload). */
#define NS_NPI_IN_MODEL(id, name, bits, model) | ((model) ? (unsigned)NS_NP_##id : 0u)
#define NS_NP_MODEL_LAYERS (0u NS_NP_LAYER_TABLE(NS_NPI_IN_MODEL))

/* Columns of a model row: where a layer starts (-1 when the model does not
 * learn it), then its width. NS_NPI_AT_<ID> runs along the layers: each is one
 * past the end of the model layer before it. */
enum {
    NS_NPI_AT_START = -1,
#define NS_NPI_AT(id, name, bits, model) NS_NPI_AT_##id, NS_NPI_END_##id = NS_NPI_AT_##id + ((model) ? (bits) : 0) - 1,
    NS_NP_LAYER_TABLE(NS_NPI_AT)
#undef NS_NPI_AT
    NS_NPI_MODEL_END,
#define NS_NPI_COL(id, name, bits, model) NS_NP_COL_##id = (model) ? NS_NPI_AT_##id : -1, NS_NP_BITS_##id = (bits),
    NS_NP_LAYER_TABLE(NS_NPI_COL)
#undef NS_NPI_COL
};
/* A model row: 1920 values (1408 header bits, 512 payload bits). */
#define NS_NP_MODEL_WIDTH ((int)NS_NPI_MODEL_END)
/* The widest header row (NS_NP_ALL, every header layer): 1520 bits. */
#define NS_NPI_ALL_BITS(id, name, bits, model) + ((NS_NP_##id & NS_NP_ALL) ? (bits) : 0)
#define NS_NP_MAX_WIDTH (0 NS_NP_LAYER_TABLE(NS_NPI_ALL_BITS))

/* Columns of a field in a model row (-1 when the model does not learn its
 * layer) and its width: NS_NP_COL_TCP_DPRT, NS_NP_BITS_TCP_DPRT. */
enum {
#define NS_NPI_FCOL(id, name, layer, bit, bits) \
    NS_NP_COL_##id = NS_NP_COL_##layer < 0 ? -1 : NS_NP_COL_##layer + (bit), NS_NP_BITS_##id = (bits),
    NS_NP_FIELD_TABLE(NS_NPI_FCOL)
#undef NS_NPI_FCOL
};
/* TCP's flag byte, CWR to FIN, read as one number (from NS_NP_COL_TCP_CWR). */
enum { NS_NP_BITS_TCP_FLAGS = NS_NP_COL_TCP_FIN + NS_NP_BITS_TCP_FIN - NS_NP_COL_TCP_CWR };

/* Bits in a row for these layers. */
int ns_nprint_width(unsigned layers);
/* Column where `layer` (one NS_NP_* bit) starts in a row of `layers`, or -1. */
int ns_nprint_layer_offset(unsigned layers, unsigned layer);
/* "eth", "ipv4", ... for one NS_NP_* bit. */
const char *ns_nprint_layer_name(unsigned layer);

/* One named header field, e.g. {"tcp_dprt", NS_NP_TCP, 16, 16}. */
typedef struct ns_nprint_field {
    const char *name;      /* nPrint's prefix, e.g. "ipv4_ttl" */
    unsigned layer;        /* NS_NP_* */
    int bit;               /* first bit within its layer */
    int width;             /* bits */
} ns_nprint_field;
/* Every field of every layer, in column order (NS_NP_FIELD_TABLE; index = field id). */
const ns_nprint_field *ns_nprint_fields(size_t *count);

/* The field called `name` ("tcp_dprt"), or -1. */
int ns_nprint_field_find(const char *name);
/* A field's column in a row of `layers`, or -1 when the row lacks its layer. */
int ns_nprint_field_col(unsigned layers, ns_nprint_field_id f);

/* Values in a model row (NS_NP_MODEL_LAYERS), most significant bit first.
 * Reading, absent bits (-1) count as 0: a generated row is read as repair
 * and the control maps have always read it. Values are at most 64 bits: of
 * a wider field (options, IPv6 addresses) get/put see the last 64. A field
 * of a layer the model does not learn reads as 0 and is not written. */
uint64_t ns_nprint_get(const int8_t *row, ns_nprint_field_id f);
void ns_nprint_put(int8_t *row, ns_nprint_field_id f, uint64_t value);
/* Whether every bit of the field is present (0 or 1). */
int ns_nprint_has(const int8_t *row, ns_nprint_field_id f);
/* Mark the field absent (-1), as a row without it has it. */
void ns_nprint_clear(int8_t *row, ns_nprint_field_id f);
/* The same for `width` (1..64) bits from column col, e.g. one option byte. */
uint64_t ns_nprint_bits_get(const int8_t *row, int col, int width);
void ns_nprint_bits_put(int8_t *row, int col, int width, uint64_t value);
/* How many of the `width` bits from col are present. */
int ns_nprint_bits_present(const int8_t *row, int col, int width);

/* Encode a decoded packet's headers into row[ns_nprint_width(layers)]:
 * Ethernet from p->eth, IPv4 (with options) or IPv6 from p->ip, and TCP
 * (with options) / UDP / ICMP from p->l4; everything absent is -1.
 * ICMPv6 fills the icmp columns (type, code, checksum, rest of header: the
 * same 8-byte layout), its ipv6_nh saying 58. The row has no columns for
 * IPv6 extension headers: a packet with some (an MLD report's hop-by-hop
 * options) is encoded as if sent without them, ipv6_nh the upper-layer
 * protocol and ipv6_len less their bytes, so that the row is a packet
 * that row_to_packet can rebuild. */
void ns_nprint_encode(const ns_packet *p, unsigned layers, int8_t *row);

/* ---- frames -> CSV text, as `nprint -P file ...` writes it ---------------- */

/* The first column (nPrint's -O). */
typedef enum ns_nprint_index {
    NS_NP_INDEX_SRC_IP = 0,    /* "src_ip" */
    NS_NP_INDEX_DST_IP = 1,    /* "dst_ip" */
    NS_NP_INDEX_SRC_PORT = 2,  /* "src_port" */
    NS_NP_INDEX_DST_PORT = 3,  /* "dst_port" */
    NS_NP_INDEX_FLOW = 4       /* "flow": src_dst_sport_dport_PROTO */
} ns_nprint_index;
const char *ns_nprint_index_name(ns_nprint_index ix);

typedef struct ns_nprint_opts {
    unsigned layers;       /* NS_NP_* (nPrint's -e -4 -6 -t -u -i) */
    int fill;              /* value for absent bits (-F), -128..127 */
    ns_nprint_index index; /* -O */
    int rts;               /* -R: microseconds since the previous row */
    int threads;           /* rows are formatted in parallel; 0 = OpenMP's default */
    int payload;           /* -p: the first N bytes of the transport payload as 8 N
                              payload_bit_<i> columns after the headers; 0 = none */
    int abs_time;          /* -A: tv_sec,tv_usec columns after the index (and rts) */
} ns_nprint_opts;
/* The most -p allows: no IP packet carries more payload. */
#define NS_NP_MAX_PAYLOAD 65535

/* Writes the header line at open, then one line per frame nPrint would
 * emit; frames it would not are counted in ns_skips instead. */
typedef struct ns_nprint_writer ns_nprint_writer;
int ns_nprint_writer_open(ns_nprint_writer **out, FILE *fp, const char *name, const ns_nprint_opts *o);
/* Offer one frame of link type `dlt` (a DLT_* value); it is copied. */
int ns_nprint_writer_frame(ns_nprint_writer *w, int dlt, const ns_frame *f);
/* Write out what is buffered; *rows / *skips (either may be NULL) get the totals. */
int ns_nprint_writer_finish(ns_nprint_writer *w, uint64_t *rows, ns_skips *skips);
void ns_nprint_writer_free(ns_nprint_writer *w);

/* CSV from int8 rows, in nPrint's format: the header line, then rows
 * "index,[rts,]bit,bit,...\n" (rts < 0: no rts column, so every row of a
 * file with rts needs rts >= 0). */
int ns_nprint_csv_write_header(FILE *fp, const char *index_name, int rts, unsigned layers);
int ns_nprint_csv_write_row(FILE *fp, const char *index, int64_t rts, const int8_t *row, unsigned layers);
/* The same with nPrint's -A and -p columns: tv_sec,tv_usec after rts when
 * abs_time (abs_us is then the row's time in microseconds, >= 0), and
 * 8 * payload_bytes payload_bit_<i> columns after the headers (payload holds
 * that many values, -1, 0 or 1; NULL when payload_bytes is 0). */
int ns_nprint_csv_write_header_ex(FILE *fp, const char *index_name, int rts, int abs_time, unsigned layers,
                                  int payload_bytes);
int ns_nprint_csv_write_row_ex(FILE *fp, const char *index, int64_t rts, int64_t abs_us, const int8_t *row,
                               unsigned layers, const int8_t *payload, int payload_bytes);

/* ---- CSV -> rows ------------------------------------------------------------ */

/* A whole nPrint CSV: ours or nPrint's, any index column, with or without
 * rts (and nPrint's -A columns tv_sec,tv_usec), any subset of layers, with
 * or without -p's payload_bit_<i> columns (kept apart from the header bits,
 * so that `bits` and `width` are the same with or without them). */
typedef struct ns_nprint_csv {
    char index_name[64];   /* header of the first column */
    unsigned layers;       /* detected from the header names */
    int width;             /* bits per row */
    int has_rts, has_abs;  /* rts column; tv_sec and tv_usec columns */
    size_t rows;
    int8_t *bits;          /* rows * width values, each -1, 0 or 1 */
    int64_t *rts;          /* rows values when has_rts, else NULL */
    int64_t *abs_us;       /* rows values (microseconds) when has_abs, else NULL */
    int payload_bytes;     /* N of -p N: 8 N payload bit columns; 0 = none */
    int8_t *payload;       /* rows * 8 * payload_bytes values, each -1, 0 or 1 */
    char *index_text;      /* rows NUL-terminated index values, back to back */
    size_t *index_off;     /* rows offsets into index_text */
} ns_nprint_csv;

/* Any problem is NS_EFORMAT naming the file, the line and what is wrong.
 * Row i is on line i + 2. */
int ns_nprint_csv_read(const char *path, ns_nprint_csv *out);
int ns_nprint_csv_read_stream(FILE *fp, const char *name, ns_nprint_csv *out);
void ns_nprint_csv_free(ns_nprint_csv *c);

/* ---- rows -> packets ---------------------------------------------------------- */

/* Rebuild one packet from a row of `layers`. The IP header comes from the
 * bits (IPv4 when its bits are present, else IPv6); the L4 header from
 * whichever of tcp/udp/icmp is present; the payload is zero-filled up to the
 * IP length; every checksum is recomputed (the L4 one not for fragments).
 * With `ethernet`, a 14-byte Ethernet header leads: from the eth bits when
 * present, else 02:00:00:00:00:01 -> 02:00:00:00:00:02 with the IP
 * ethertype. buf must hold NS_NP_MAX_PACKET bytes. NS_EFORMAT when the row
 * is not a packet (no IP header, absent bits inside a header, lengths that
 * do not add up). */
#define NS_NP_MAX_PACKET (14 + 40 + 65535)
int ns_nprint_row_to_packet(const int8_t *row, unsigned layers, int ethernet, uint8_t *buf, size_t *len);

/* The same with a row's payload bits (8 * payload_bytes values, as -p
 * writes them after the headers). The transport payload starts with the
 * leading bytes whose bits are all present (0 or 1), as many as fit in the
 * IP length; what lies past them is zero-filled as above. A row whose bits
 * hold the whole packet (every payload byte the IP length asks for) is the
 * packet as it was captured: its checksums are kept as the bits say (right
 * or wrong, as a capture of checksum offload has them) unless `recompute`.
 * Any other row has every checksum recomputed, as ns_nprint_row_to_packet
 * does; *whole (may be NULL) tells which it was. A row without payload
 * columns (payload NULL or payload_bytes 0) is never whole. */
int ns_nprint_row_to_packet_ex(const int8_t *row, unsigned layers, const int8_t *payload, int payload_bytes,
                               int ethernet, int recompute, uint8_t *buf, size_t *len, int *whole);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
