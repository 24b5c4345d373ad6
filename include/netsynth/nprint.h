/* nprint.h: packets <-> nPrint bit rows (nPrint 1.2.1 column order and names).
 *
 * A row holds one int8 per header bit: 1, 0, or -1 where the packet does not
 * have that header (or that option byte). Headers always appear in the order
 * eth, ipv4, ipv6, tcp, udp, icmp, whichever of them `layers` selects.
 * Widths: eth 112, ipv4 480, ipv6 320, tcp 480, udp 64, icmp 64 bits.
 *
 * Three parts: the bit layout (fields, widths), the CSV writer that turns
 * frames into text byte-identical to `nprint` 1.2.1, and the way back (CSV
 * reader, row -> packet bytes). */
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
    NS_NP_ALL = 0x3f
};
/* What the model learns: IPv4, TCP, UDP, ICMP = 1088 bits. */
#define NS_NP_MODEL_LAYERS (NS_NP_IPV4 | NS_NP_TCP | NS_NP_UDP | NS_NP_ICMP)
#define NS_NP_MODEL_WIDTH 1088
/* The widest row (every layer): 1520 bits. */
#define NS_NP_MAX_WIDTH 1520

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
/* Every field of every layer, in column order. */
const ns_nprint_field *ns_nprint_fields(size_t *count);

/* Encode a decoded packet's headers into row[ns_nprint_width(layers)]:
 * Ethernet from p->eth, IPv4 (with options) or IPv6 from p->ip, and TCP
 * (with options) / UDP / ICMP from p->l4; everything absent is -1. */
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
} ns_nprint_opts;

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

/* ---- CSV -> rows ------------------------------------------------------------ */

/* A whole nPrint CSV: ours or nPrint's, any index column, with or without
 * rts (and nPrint's -A columns tv_sec,tv_usec), any subset of layers. */
typedef struct ns_nprint_csv {
    char index_name[64];   /* header of the first column */
    unsigned layers;       /* detected from the header names */
    int width;             /* bits per row */
    int has_rts, has_abs;  /* rts column; tv_sec and tv_usec columns */
    size_t rows;
    int8_t *bits;          /* rows * width values, each -1, 0 or 1 */
    int64_t *rts;          /* rows values when has_rts, else NULL */
    int64_t *abs_us;       /* rows values (microseconds) when has_abs, else NULL */
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

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
