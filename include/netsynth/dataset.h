/* dataset.h: the binary training file: labelled flows as ternary nPrint
 * matrices with per-packet inter-arrival times and directions.
 *
 * In memory a dataset is one struct of flat arrays: flow i's packets are
 * [flows[i].first, flows[i].first + flows[i].n_packets) in iat_ns, dir and
 * bits; its labels are labels[i * n_attrs + a], one token id per attribute
 * (or -1), and tokens are grouped by attribute: attribute a owns the ids
 * attr_first[a] .. attr_first[a + 1] - 1, sorted by value. A loaded file is
 * one read into one buffer that the arrays point into.
 *
 * Whole flows: a flow keeps every packet up to max_packets
 * (`dataset --packets`, by default and at most NS_FLOW_MAX_KEPT = 100,000),
 * and its totals say what the whole flow was, also past the kept packets:
 * packets and bytes (IP lengths) per direction, the TCP flags each
 * side sent and how it ended. The model reads a window of the first rows
 * (train --packets); the rest are there for what learns whole flows.
 *
 * File (little-endian; dataset.c has the byte layout): a 128-byte header
 * ("NSYNDATA", version, dimensions, counts, CRC-32 of the whole file with the
 * CRC field zeroed), then 8-byte aligned sections: attribute name offsets,
 * attr_first, token offsets, file offsets, the string pool, flows, totals
 * (when known), labels, iat_ns, dir, and the rows packed 2 bits per value,
 * each value's two's complement (00 = 0, 01 = 1, 11 = -1). Loading checks
 * all of it, down to every dimension a reader relies on: rows are
 * NS_NP_MODEL_WIDTH values, no flow longer than the file's max_packets
 * (at most NS_FLOW_MAX_KEPT; NS_FLOW_MAX_PACKETS in a file without totals),
 * and totals that agree with the kept packets. Version 3 rows have the IPv6
 * and payload layers (1920 values) and IPv6 flows; files of versions 1 and 2 (1088
 * values, IPv4 only) are refused with a message to rebuild them. */
#ifndef NETSYNTH_DATASET_H
#define NETSYNTH_DATASET_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/flow.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"

#define NS_DATASET_MAGIC "NSYNDATA"
#define NS_DATASET_VERSION 3   /* the only version read and written */

/* flags: IP address bits kept, not -1; bits 8..15: N of `dataset --payload N`,
 * the leading transport payload bytes each row keeps (its payload layer is -1
 * past them); 0 = headers only. */
enum { NS_DS_KEEP_ADDRESSES = 1u << 0, NS_DS_PAYLOAD_SHIFT = 8, NS_DS_PAYLOAD_MASK = 0xffu << NS_DS_PAYLOAD_SHIFT };
/* The most --payload allows: the model row's payload layer. */
#define NS_DS_MAX_PAYLOAD (NS_NP_BITS_PAY / 8)
/* The default: see BENCHMARK.md "Payload" for the measurement behind it. */
#define NS_DS_DEFAULT_PAYLOAD 32

typedef struct ns_ds_flow {
    uint64_t first;                     /* its first packet in the packet arrays */
    int64_t start_ns;                   /* timestamp of its first packet */
    uint32_t n_packets;                 /* rows kept, 1..max_packets */
    uint32_t seen;                      /* packets seen in the capture (saturates) */
    uint32_t file;                      /* index into files */
    uint32_t client_ip, server_ip;      /* host byte order; IPv6: ns_flow_ip6_digest of the address */
    uint16_t client_port, server_port;  /* 0 for ICMP */
    uint8_t proto;                      /* 1, 6 or 17 (1: ICMPv6 in an IPv6 flow) */
    uint8_t ipv6;                       /* 1: an IPv6 flow, 0: IPv4 */
    uint8_t pad_[6];
} ns_ds_flow;

/* How a flow ended, judged on all its packets (the first that applies):
 * RST: a TCP RST was sent (also after FINs: the connection was aborted);
 * FIN: a TCP FIN was sent; IDLE: its last packet came more than the idle
 * timeout before the capture's last flow packet (a packet of the same
 * 5-tuple after that starts a new flow); CAPTURE: the capture ended first. */
typedef enum ns_ds_end {
    NS_DS_END_FIN = 1,
    NS_DS_END_RST = 2,
    NS_DS_END_IDLE = 3,
    NS_DS_END_CAPTURE = 4,
} ns_ds_end;

typedef struct ns_ds_totals {
    uint64_t packets[2];   /* per direction (0 client->server); sum >= n_packets */
    uint64_t bytes[2];     /* IP lengths (IPv4 total, IPv6 40 + payload), per direction */
    uint8_t end;           /* ns_ds_end */
    uint8_t tcp_flags[2];  /* every TCP flag byte per direction ORed (0: not TCP) */
    uint8_t pad_[5];
} ns_ds_totals;

typedef struct ns_dataset {
    uint32_t version;        /* of the file it was read from (NS_DATASET_VERSION) */
    uint32_t width;          /* values per row: NS_NP_MODEL_WIDTH */
    uint32_t row_bytes;      /* (width + 3) / 4 */
    uint32_t max_packets;    /* the --packets cap it was built with: no flow keeps more */
    uint32_t flags;          /* NS_DS_* */
    int64_t idle_timeout_ns; /* the flow idle timeout it was built with, 0 none */
    uint64_t n_flows, n_packets;
    uint32_t n_attrs, n_tokens, n_files;

    const char **attr_names; /* [n_attrs], e.g. "device", "service" */
    const uint32_t *attr_first; /* [n_attrs + 1] */
    const char **tokens;     /* [n_tokens], e.g. "device=HueBridge" */
    const char **files;      /* [n_files] capture paths as the label table gives them */

    const ns_ds_flow *flows; /* [n_flows] */
    const ns_ds_totals *totals; /* [n_flows]; NULL: not known (a file without totals) */
    const int32_t *labels;   /* [n_flows * n_attrs] token id or -1 */
    const int64_t *iat_ns;   /* [n_packets] since the flow's previous packet */
    const uint8_t *dir;      /* [n_packets] 0 client->server, 1 server->client */
    const uint8_t *bits;     /* [n_packets * row_bytes] packed rows */

    void *mem_;              /* private: what ns_dataset_free releases */
} ns_dataset;

/* N of `dataset --payload N` (from flags): payload bytes its rows keep. */
int ns_dataset_payload(const ns_dataset *ds);

/* Read and validate a dataset file. */
int ns_dataset_load(ns_dataset *ds, const char *path);
/* The same from memory: takes over buf (malloc'd, freed also on failure). */
int ns_dataset_parse(ns_dataset *ds, uint8_t *buf, size_t len, const char *name);
void ns_dataset_free(ns_dataset *ds);
/* Write ds (any arrays, e.g. filled by hand) to path through ns_outfile:
 * version 3, with its totals, or without when totals is NULL (then
 * max_packets is at most NS_FLOW_MAX_PACKETS). */
int ns_dataset_write(const ns_dataset *ds, const char *path);

/* Write the flows i of ds with keep[i] != 0 (vocabulary and files kept
 * whole, so token ids stay comparable) to path through ns_outfile. */
int ns_dataset_write_subset(const ns_dataset *ds, const uint8_t *keep, const char *path);

/* Unpack packet k's row into row[width] (values 1, 0, -1). */
void ns_dataset_row(const ns_dataset *ds, uint64_t k, int8_t *row);
/* Unpack flow i into m[n_packets * width]. */
void ns_dataset_flow_matrix(const ns_dataset *ds, uint64_t i, int8_t *m);
/* Pack row[width] (values -1, 0, 1 only) into out[row_bytes]. */
void ns_dataset_pack_row(const int8_t *row, uint32_t width, uint8_t *out);
/* The id of token text ("device=HueBridge"), or -1. */
int32_t ns_dataset_token(const ns_dataset *ds, const char *text);
/* The index of attribute `name`, or -1. */
int ns_dataset_attr(const ns_dataset *ds, const char *name);
/* The attribute a token id (0..n_tokens-1) belongs to. */
int ns_dataset_token_attr(const ns_dataset *ds, int32_t id);
/* The distinct label combinations of ds's flows, in the order first seen,
 * and how many flows have each: *ids = [*n * n_attrs] token ids (-1: none)
 * and *count = [*n], malloc'd (the caller frees both). attr and tok (NULL:
 * as they are) translate them into another vocabulary, a model's
 * (ns_modelfile_map_vocab): the dataset's attribute a goes to attr[a] of a
 * combination of n_attrs, its token t is tok[t] (-1: none). */
int ns_dataset_combos(const ns_dataset *ds, const int32_t *attr, const int32_t *tok, uint32_t n_attrs, int32_t **ids,
                      uint32_t **count, uint32_t *n);

/* Building from labelled captures (`netsynth dataset`). */
typedef struct ns_dataset_opts {
    const char *labels_path;   /* table with a `path` column; paths relative to its dir */
    const char *label_cols;    /* comma-separated columns, e.g. "device,device_type" */
    const char *split;         /* keep rows whose `split` column equals this; NULL all */
    const char *flows_path;    /* optional per-flow table (flow-services.tsv) */
    const char *flow_label;    /* its column that becomes attribute "service" */
    int full_service;          /* keep "TLS.AmazonAWS" whole rather than "TLS" */
    int max_packets;           /* packets kept per flow: 1..NS_FLOW_MAX_KEPT */
    int64_t idle_timeout_ns;   /* 0 none */
    int keep_addresses;
    int payload_bytes;         /* leading transport payload bytes kept: 0..NS_DS_MAX_PAYLOAD */
    /* A capture named by two rows (same file after resolving the paths:
     * "./a.pcap", "x/../a.pcap", a symlink) would give the same flows under
     * both rows' labels: an error naming both rows, unless this is set. */
    int allow_duplicate_captures;
    /* Called for each capture that ends in a cut-short or garbled record
     * (from the calling thread, in table order) with a message naming the
     * file and the packets and bytes lost; the build goes on (a warning, as
     * tcpdump does). NULL: only counted in ns_dataset_stats. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
    /* Called as each capture has been read (one call at a time, from any of
     * the reading threads): `done` of `total` captures. NULL: none. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Reading shared by n_ranks processes (the CLI's MPI; 0 or 1: alone):
     * this one reads the captures f with f % n_ranks == rank (`progress`
     * counts those), then `gather` (called on every rank, collectively) takes
     * each rank's buf[len] to rank 0, concatenated in rank order (*all,
     * *all_len malloc'd there; NULL, 0 elsewhere). Rank 0 writes the file of
     * one process, byte for byte, and fills the stats; the others write
     * nothing and return NS_OK. The ranks run the same build. */
    int rank, n_ranks;
    int (*gather)(void *ctx, const void *buf, size_t len, void **all, size_t *all_len);
    void *gather_ctx;
} ns_dataset_opts;

typedef struct ns_dataset_stats {
    uint64_t files, flows, rows, packets_read, packets_in_flows;
    uint64_t flows_without_service;  /* when a flow table was given */
    uint64_t truncated_records;      /* captures that end in a cut-short record */
    ns_skips skips;                  /* packets left out, and why */
} ns_dataset_stats;

/* Set opts to the defaults (whole flows: NS_FLOW_MAX_KEPT packets, NS_FLOW_DEFAULT_IDLE_NS,
 * NS_DS_DEFAULT_PAYLOAD payload bytes). */
void ns_dataset_opts_init(ns_dataset_opts *o);
/* Read the captures the table selects into a dataset file at out_path. When
 * they hold no flow at all (every packet skipped, empty captures) nothing is
 * written: NS_EFORMAT naming the table and what was skipped. */
int ns_dataset_build(const ns_dataset_opts *o, const char *out_path, ns_dataset_stats *st);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
