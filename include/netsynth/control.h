/* control.h: control maps, the per-packet shape a control branch
 * (controlnet.h) holds generation to.
 *
 * A control map is a flow's rows reduced to what a user may want to fix:
 * per packet its transport (tcp, udp, icmp), its direction, a bucket of its
 * IP total length and its TCP flags. Maps come from a dataset's flows, from
 * every bidirectional flow of a capture (flow.h), or from a hand-written CSV
 * template:
 *
 *     flow,proto,dir,size,flags      # header: flow is optional, any order
 *     a,tcp,0,60,S                   # proto tcp|udp|icmp; dir 0 (client ->
 *     a,tcp,1,60,SA                  #   server) or 1, or c2s / s2c; size the
 *     a,tcp,0,52,A                   #   IP total length in bytes; flags from
 *     b,udp,0,76,                    #   CEUAPRSF (empty or - for none, the
 *     b,udp,1,120,-                  #   only choice off TCP)
 *
 * Rows with the same flow value in a run are one map (no flow column: the
 * whole file is one map); blank lines and lines starting with # are skipped.
 * The network sees a map as NS_CONTROL_FEATURES numbers per row
 * (ns_control_features). */
#ifndef NETSYNTH_CONTROL_H
#define NETSYNTH_CONTROL_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/dataset.h"

/* Size buckets by IP total length: < 48, < 64, < 96, < 128, < 256, < 512,
 * < 1024, and the rest: about log-spaced, with the bare TCP ACK (40), the
 * SYN or timestamped ACK (52-60) and small UDP apart. */
enum { NS_CONTROL_SIZE_BUCKETS = 8 };
/* present, tcp, udp, icmp, direction, 8 size buckets, 8 TCP flags */
enum { NS_CONTROL_FEATURES = 1 + 3 + 1 + NS_CONTROL_SIZE_BUCKETS + 8 };

typedef struct ns_control_row {
    uint8_t proto;   /* 6, 17, 1, or 0 (none of them) */
    uint8_t dir;     /* 0 client -> server, 1 server -> client */
    uint8_t size;    /* bucket, 0 .. NS_CONTROL_SIZE_BUCKETS - 1 */
    uint8_t flags;   /* the TCP flag byte: CWR ECE URG ACK PSH RST SYN FIN, 0 off TCP */
} ns_control_row;

typedef struct ns_control_maps {
    size_t n_maps, n_rows;
    uint32_t *len;            /* [n_maps] */
    size_t *first;            /* [n_maps] first row */
    ns_control_row *rows;     /* [n_rows] */
    size_t cap_maps_, cap_rows_;
} ns_control_maps;

/* The bucket of an IP total length. */
int ns_control_size_bucket(unsigned ip_len);
/* One nPrint row of NS_NP_MODEL_LAYERS and its direction -> its control row. */
void ns_control_row_of(const int8_t *row, uint8_t dir, ns_control_row *out);
/* Append one map of n rows, 1 <= n <= NS_CONTROL_MAX_ROWS (a flow's most). */
enum { NS_CONTROL_MAX_ROWS = 1024 };
int ns_control_maps_add(ns_control_maps *m, const ns_control_row *rows, size_t n);
/* Flows first .. first + count - 1 of a dataset, each cut to max_packets rows. */
int ns_control_maps_from_dataset(ns_control_maps *m, const ns_dataset *ds, uint64_t first, uint64_t count,
                                 int max_packets);
/* Every bidirectional flow of a capture, in the order of its first packet. */
int ns_control_maps_from_pcap(ns_control_maps *m, const char *path, int max_packets);
/* A CSV template from memory; `name` names it in messages. A map longer
 * than max_packets (> 0) is an error. Every error is NS_EFORMAT naming the
 * file and the line. */
int ns_control_maps_parse_csv(ns_control_maps *m, const char *text, size_t len, const char *name, int max_packets);
/* Any of the three by content: a dataset file, a pcap/pcapng, else a CSV
 * template. */
int ns_control_maps_load(ns_control_maps *m, const char *path, int max_packets);
void ns_control_maps_free(ns_control_maps *m);

/* What the network reads: feat[T, NS_CONTROL_FEATURES] for rows[0..n),
 * rows n .. T-1 all zero (no packet). */
void ns_control_features(const ns_control_row *rows, int n, int T, float *feat);

/* "S", "SA", "PA", ... for a flag byte (buf of 9), "-" for none. */
void ns_control_flags_text(uint8_t flags, char *buf);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
