/* tmodel_int.h (private): what the trace model's files share. tmodel.c
 * learns a model from a dataset (and holds the small public entry points),
 * tmodel_file.c is its bytes on disk, tmodel_plan.c plans each capture's
 * hosts, ports and arrivals, and hands each flow's close to tmodel_close.c
 * and its handshake and turn gaps to tmodel_timing.c. Learning and planning
 * must read rows alike (a handshake where repair finds one, a TSval, a
 * group address), so those readers live here once. */
#ifndef NETSYNTH_TMODEL_INT_H
#define NETSYNTH_TMODEL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "netsynth/generate.h"
#include "netsynth/nprint.h"
#include "netsynth/repair.h"
#include "netsynth/tmodel.h"

enum { TURN_MIN = 16 }; /* gaps for a quantile map */

/* The value of TCP option `kind` of length `len` in a row's option bytes
 * (those present, walked kind by kind): its len - 2 bytes into val. */
int tm_row_option(const int8_t *row, uint8_t kind, uint8_t len, uint8_t *val);
/* The TSval of a row's timestamp option, if it has one. */
int tm_row_tsval(const int8_t *row, uint32_t *v);
int tm_row_flag(const int8_t *row, ns_nprint_field_id f);
/* The TCP flags of a row whose TCP flags are all there (as repair reads
 * them), else none: FL_* bits. */
enum { FL_FIN = 1, FL_RST = 2, FL_SYN = 4, FL_ACK = 8 };
unsigned tm_flags_as_repair_reads(const int8_t *row);
/* The first row whose gap is a turn or a same-side gap (tmodel_timing.c). */
uint32_t tm_turns_from(const int8_t *rows, const uint8_t *dir, uint32_t n, uint32_t *syns);

/* A destination every host of a link hears: IPv4 multicast or the limited broadcast. */
int tm_is_group_addr(uint32_t ip);
/* The log10 bin of a handshake gap (tmodel.h: NS_TM_HS_BINS from 1e-5 s; the ends take what lies beyond). */
int tm_hs_bin(int64_t ns);
/* qsort's order of uint64_t. */
int tm_cmp_u64(const void *x, const void *y);
/* The log2 bin (2^b, 2^(b+1)] of a flow of len >= 2 packets (tmodel.h: flen_n's and tail_n's b). */
int tm_length_bin(uint64_t len);
/* A quantile function of NS_TM_FLEN_Q knots q (flen_q's, tail_q's) at u in [0, 1], linear between them. */
double tm_knots_at(const uint32_t *q, double u);
/* Quantiles (tmodel.h, turn_q) of the sorted turn codes v[0 .. n) (the low 16 bits), linearly between ranks. */
void tm_quantiles_of(const uint64_t *v, size_t n, uint16_t *q);

/* Whether a dissector of Wireshark claims TCP or UDP port `port` (from 1024 on; tmodel_ports.c): the plan's
 * client ports keep off them from version 13 on. */
int tm_port_claimed(uint8_t proto, uint16_t port);

/* The classes a capture draws from, most specific first; the empty key last. */
typedef struct tm_chain {
    const ns_tmodel_class *c[3];
    int n;
} tm_chain;

void tm_chain_of(const ns_tmodel *tm, const char *key, tm_chain *ch);
/* The first class of the chain for which has(class, side s) holds; NULL when none does. */
const ns_tmodel_class *tm_pick(const tm_chain *ch, int (*has)(const ns_tmodel_class *, int), int s);

/* What the plan reads of a generated flow's rows (ns_tmodel_plan). */
typedef struct tm_flow_info {
    uint8_t proto;
    uint16_t sport;            /* as the plan writes it (ns_repair_class_port) */
    uint16_t rows_sport;       /* as the rows have it */
    uint32_t sent[2];
    /* Per side, what the model generated for its first packet (-1: none):
     * the host that sends it starts from there, so that a class's TTLs, IP ID
     * ranges and timestamp clocks (a device's uptime) stay the class's. */
    int32_t ttl[2], id[2];
    int has_ts[2];
    uint32_t ts[2];
    uint32_t id_steps[2]; /* the side's generated counter's advance over the flow (repair keeps its steps) */
    int64_t dur_ns;       /* first row to last, as generated */
    int64_t written_ns;   /* version 12, a copy's flows: first row to last of those written (every row; 0 for a
                           * refused connection, its SYN answered by an RST and nothing after) */
    uint8_t nd_type;      /* an IPv6 flow's first ICMPv6 type of neighbour discovery or MLD (133-136, 143); 0 none */
    float tail_scale;     /* version 13: ns_repair_plan.tail_scale (tm_plan_tails), planned before the starts */
} tm_flow_info;

/* The rows of generated flow k the plan reads: what the streaming writer knows when it plans, the
 * first window (ns_repair_opts.window). */
uint32_t tm_planned_rows(const ns_gen_flows *g, const ns_repair_opts *ro, size_t k);

/* The plan's parts after its hosts and ports (ns_tmodel_plan calls them in this order): each TCP
 * flow's close and SYN-ACK (tmodel_close.c), its handshake gaps, every flow's turn maps
 * (tmodel_timing.c), and each flow's prior of HTTP methods, IP lengths and TCP data sizes (tmodel_close.c). */
int tm_plan_closes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                   const tm_flow_info *info, const ns_repair_opts *ro, uint64_t seed, ns_repair_plan *plan);
int tm_plan_handshakes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                       const tm_flow_info *info, const ns_repair_opts *ro, uint64_t seed, ns_repair_plan *plan);
int tm_plan_turns(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                  const tm_flow_info *info, const ns_repair_opts *ro, ns_repair_plan *plan);
int tm_plan_tails(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                  const ns_repair_opts *ro, tm_flow_info *info);
void tm_plan_methods(const ns_tmodel *tm, const ns_tmodel_capture *caps, size_t n_caps, ns_repair_plan *plan);
void tm_plan_lens(const ns_tmodel *tm, const ns_tmodel_capture *caps, size_t n_caps, const tm_flow_info *info,
                  ns_repair_plan *plan);
int tm_plan_pay(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                const tm_flow_info *info, const ns_repair_opts *ro, ns_repair_plan *plan);

#endif
