/* tmodel_file.c: the trace model's bytes (tmodel.h, "File format"): encoding,
 * parsing and checking a file of any version.
 *
 * Record layout (NS_TMODEL_RECORD bytes per class, little-endian, the rest
 * zero), in this order:
 *   u32 captures, flows, gaps, gap_bin[96], gap_next[12][12]
 *   f64 period_s, period_jitter, period_share
 *   u32 client_new, client_prev, client_other, server_new, server_same, server_other
 *   u32 port_step[17], port_random; u16 port_lo, port_hi, port_server
 *   u32 ipid[2][3], ipid_runs_on[2][2]; f64 ts_hz[2]; u32 ts_runs_on[2][2]
 *   u8 ttl[2][4]; u32 ttl_count[2][4] (per side: ipid..ttl_count)
 *   u32 client_busiest, server_busiest, client_after_busy[3]
 *   version 2: u32 close[3]; u16 synack_win; u8 synack_ws; u32 rst_ts[2]
 *   version 3: u32 fin_side[2], fin_acked[2], rst_side[2], rst_fin[2], refused
 *   version 4: u16 hs_gap[2][96]; u8 ttl_tcp[2][4]; u32 ttl_tcp_count[2][4]; u32 synack_ts[2];
 *              per group entry (8): u16 group_port; u32 group_addr, group_flows, group_port_flows, group_zero;
 *              u8 group_ttl
 *   version 5: u32 turn_n[2]; u16 turn_q[2][32];
 *              per turn port entry (8): u16 turn_port; u32 turn_port_n[2]; u16 turn_port_q[2][32];
 *              then per turn port entry (8): u16 hs_port_gap[2][96]
 *   version 6: u32 method[12]
 *   version 7: u32 svc_multi, svc_one, svc_one_server;
 *              per service port entry (8): u16 svc_port; u32 svc_port_multi, svc_port_one, svc_port_one_server
 *   version 8: u32 gw_port_flows[2], gw_flows[2]
 *   version 9: per side (2) and transport (3): u16 len_val[32]; u32 len_count[32]; u32 len_all
 *   version 10: per transport (2: TCP, UDP): u16 port_val[32]; u32 port_count[32]
 *   version 11: u16 cport_val[32]; u32 cport_count[32]; u32 cport_high; u16 cport_high_lo, cport_high_hi
 *   version 12: per length bin (17): u32 flen_n; then per length bin (17): u32 flen_q[9];
 *              per UDP exchange (128): u16 pair_port, pair_len[2]; then per exchange (128): u32 pair_count;
 *              then per exchange (128): u8 pair_dir; u32 svc_one_main; u32 svc_port_one_main[8];
 *              u32 group_other_addr, group_other_flows, group_other_port_flows
 *              (and plan changes: tmodel.h)
 *   version 13: per side (2) and place (2): u32 pay_n; then per side and place: u16 pay_q[32];
 *              then per side and place: u32 pay_all; then per length bin (17): u32 tail_n; then per
 *              length bin (17): u32 tail_q[9] (and a plan change: client ports off the ports served or
 *              claimed, tmodel_plan.c cport_fit); then per side (2): u16 win_val[32]; then per side:
 *              u32 win_count[32]
 *              (records of NS_TMODEL_RECORD bytes; versions 5 to 11 NS_TMODEL_RECORD_V11, older ones
 *              NS_TMODEL_RECORD_V4) */
#include "netsynth/tmodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/packet.h"

#include "filehead.h"
#include "tmodel_int.h"

enum { HEADER = 32 };

static const ns_filehead head = {NS_TMODEL_MAGIC, "trace model", "netsynth train keeps one in the model file", HEADER,
                                 16, 28, 1, NS_TMODEL_VERSION, NULL};

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }
/* A record's bytes in a file of `version` (version 5 made room for the turn ports, 12 for the flow lengths). */
static size_t record_bytes(uint32_t version)
{
    return version >= 12 ? NS_TMODEL_RECORD : version >= 5 ? NS_TMODEL_RECORD_V11 : NS_TMODEL_RECORD_V4;
}

typedef struct cursor {
    uint8_t *p;
    const uint8_t *q;
} cursor;

static void w32(cursor *c, uint32_t v) { ns_store_le32(c->p, v), c->p += 4; }
static void w16(cursor *c, uint16_t v) { c->p[0] = (uint8_t)v, c->p[1] = (uint8_t)(v >> 8), c->p += 2; }
static void w8(cursor *c, uint8_t v) { *c->p++ = v; }
static void wf(cursor *c, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    ns_store_le64(c->p, u), c->p += 8;
}
static uint32_t r32(cursor *c) { uint32_t v = ns_load_le32(c->q); c->q += 4; return v; }
static uint16_t r16(cursor *c) { uint16_t v = (uint16_t)(c->q[0] | c->q[1] << 8); c->q += 2; return v; }
static uint8_t r8(cursor *c) { return *c->q++; }
static double rf(cursor *c)
{
    uint64_t u = ns_load_le64(c->q);
    double v;
    memcpy(&v, &u, 8);
    c->q += 8;
    return v;
}

/* Every field in record order, through the macros W (u32), H (u16), B (u8), D (f64). */
#define RECORD_FIELDS(W, H, B, D)                                                                                 \
    W(captures) W(flows) W(gaps);                                                                                 \
    for (int i_ = 0; i_ < NS_TM_GAP_BINS; i_++) W(gap_bin[i_]);                                                   \
    for (int i_ = 0; i_ < NS_TM_DECADES; i_++)                                                                    \
        for (int j_ = 0; j_ < NS_TM_DECADES; j_++) W(gap_next[i_][j_]);                                           \
    D(period_s) D(period_jitter) D(period_share);                                                                 \
    W(client_new) W(client_prev) W(client_other) W(server_new) W(server_same) W(server_other);                    \
    for (int i_ = 0; i_ <= NS_TM_PORT_STEPS; i_++) W(port_step[i_]);                                              \
    W(port_random) H(port_lo) H(port_hi) H(port_server);                                                          \
    for (int s_ = 0; s_ < 2; s_++) {                                                                              \
        for (int i_ = 0; i_ < NS_TM_IPID_KINDS; i_++) W(ipid[s_][i_]);                                            \
        W(ipid_runs_on[s_][0]) W(ipid_runs_on[s_][1]) D(ts_hz[s_]) W(ts_runs_on[s_][0]) W(ts_runs_on[s_][1]);     \
        for (int i_ = 0; i_ < NS_TM_TTLS; i_++) { B(ttl[s_][i_]) W(ttl_count[s_][i_]) }                          \
    }                                                                                                             \
    W(client_busiest) W(server_busiest);                                                                          \
    for (int i_ = 0; i_ < 3; i_++) W(client_after_busy[i_]);
/* The fields version 2 added after them. */
#define RECORD_FIELDS_V2(W, H, B)                                                                                 \
    for (int i_ = 0; i_ < NS_TM_CLOSES; i_++) { W(close[i_]) }                                                    \
    H(synack_win) B(synack_ws) W(rst_ts[0]) W(rst_ts[1])
/* And version 3's. */
#define RECORD_FIELDS_V3(W)                                                                                       \
    W(fin_side[0]) W(fin_side[1]) W(fin_acked[0]) W(fin_acked[1]) W(rst_side[0]) W(rst_side[1]) W(rst_fin[0])    \
    W(rst_fin[1]) W(refused)
/* And version 4's. */
#define RECORD_FIELDS_V4(W, H, B)                                                                                 \
    for (int s_ = 0; s_ < 2; s_++)                                                                                    \
        for (int i_ = 0; i_ < NS_TM_HS_BINS; i_++) { H(hs_gap[s_][i_]) }                                         \
    for (int s_ = 0; s_ < 2; s_++)                                                                                    \
        for (int i_ = 0; i_ < NS_TM_TTLS; i_++) { B(ttl_tcp[s_][i_]) W(ttl_tcp_count[s_][i_]) }                  \
    W(synack_ts[0]) W(synack_ts[1]);                                                                              \
    for (int i_ = 0; i_ < NS_TM_GROUPS; i_++) {                                                                   \
        H(group_port[i_]) W(group_addr[i_]) W(group_flows[i_]) W(group_port_flows[i_]) W(group_zero[i_])         \
        B(group_ttl[i_])                                                                                          \
    }

/* And version 5's. */
#define RECORD_FIELDS_V5(W, H)                                                                                    \
    W(turn_n[0]) W(turn_n[1]);                                                                                    \
    for (int s_ = 0; s_ < 2; s_++)                                                                                    \
        for (int i_ = 0; i_ < NS_REPAIR_TURN_Q; i_++) { H(turn_q[s_][i_]) }                                     \
    for (int p_ = 0; p_ < NS_TM_TURN_PORTS; p_++) {                                                              \
        H(turn_port[p_]) W(turn_port_n[p_][0]) W(turn_port_n[p_][1]);                                            \
    for (int s_ = 0; s_ < 2; s_++)                                                                                    \
            for (int i_ = 0; i_ < NS_REPAIR_TURN_Q; i_++) { H(turn_port_q[p_][s_][i_]) }                         \
    }                                                                                                             \
    for (int p_ = 0; p_ < NS_TM_TURN_PORTS; p_++)                                                                \
    for (int s_ = 0; s_ < 2; s_++)                                                                                    \
            for (int i_ = 0; i_ < NS_TM_HS_BINS; i_++) { H(hs_port_gap[p_][s_][i_]) }

/* And version 6's. */
#define RECORD_FIELDS_V6(W)                                                                                       \
    for (int i_ = 0; i_ < NS_REPAIR_METHODS; i_++) { W(method[i_]) }

/* And version 7's. */
#define RECORD_FIELDS_V7(W, H)                                                                                    \
    W(svc_multi) W(svc_one) W(svc_one_server);                                                                   \
    for (int p_ = 0; p_ < NS_TM_SVC_PORTS; p_++) {                                                                \
        H(svc_port[p_]) W(svc_port_multi[p_]) W(svc_port_one[p_]) W(svc_port_one_server[p_])                     \
    }

/* And version 8's. */
#define RECORD_FIELDS_V8(W) W(gw_port_flows[0]) W(gw_port_flows[1]) W(gw_flows[0]) W(gw_flows[1])

/* And version 9's. */
#define RECORD_FIELDS_V9(W, H)                                                                                    \
    for (int s_ = 0; s_ < 2; s_++)                                                                                    \
        for (int t_ = 0; t_ < NS_TM_LEN_KINDS; t_++) {                                                            \
            for (int i_ = 0; i_ < NS_TM_LENS; i_++) { H(len_val[s_][t_][i_]) }                                    \
            for (int i_ = 0; i_ < NS_TM_LENS; i_++) { W(len_count[s_][t_][i_]) }                                  \
            W(len_all[s_][t_])                                                                                    \
        }

/* And version 11's. */
#define RECORD_FIELDS_V11(W, H)                                                                                   \
    for (int i_ = 0; i_ < NS_TM_CPORTS; i_++) { H(cport_val[i_]) }                                                \
    for (int i_ = 0; i_ < NS_TM_CPORTS; i_++) { W(cport_count[i_]) }                                              \
    W(cport_high) H(cport_high_lo) H(cport_high_hi)

/* And version 10's. */
#define RECORD_FIELDS_V10(W, H)                                                                                   \
    for (int t_ = 0; t_ < 2; t_++) {                                                                              \
        for (int i_ = 0; i_ < NS_TM_PORTS; i_++) { H(port_val[t_][i_]) }                                          \
        for (int i_ = 0; i_ < NS_TM_PORTS; i_++) { W(port_count[t_][i_]) }                                        \
    }

/* And version 12's. */
#define RECORD_FIELDS_V12(W, H, B)                                                                                   \
    for (int b_ = 0; b_ < NS_TM_FLEN_BINS; b_++) { W(flen_n[b_]) }                                                \
    for (int b_ = 0; b_ < NS_TM_FLEN_BINS; b_++)                                                                  \
        for (int i_ = 0; i_ < NS_TM_FLEN_Q; i_++) { W(flen_q[b_][i_]) }                                           \
    for (int i_ = 0; i_ < NS_TM_PAIRS; i_++) { H(pair_port[i_]) H(pair_len[i_][0]) H(pair_len[i_][1]) }           \
    for (int i_ = 0; i_ < NS_TM_PAIRS; i_++) { W(pair_count[i_]) }                                                \
    for (int i_ = 0; i_ < NS_TM_PAIRS; i_++) { B(pair_dir[i_]) }                                                  \
    W(svc_one_main)                                                                                               \
    for (int p_ = 0; p_ < NS_TM_SVC_PORTS; p_++) { W(svc_port_one_main[p_]) }                                     \
    W(group_other_addr) W(group_other_flows) W(group_other_port_flows)

/* And version 13's. */
#define RECORD_FIELDS_V13(W, H)                                                                                   \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int p_ = 0; p_ < 2; p_++) { W(pay_n[s_][p_]) }                                                       \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int p_ = 0; p_ < 2; p_++)                                                                            \
            for (int i_ = 0; i_ < NS_TM_PAY_Q; i_++) { H(pay_q[s_][p_][i_]) }                                     \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int p_ = 0; p_ < 2; p_++) { W(pay_all[s_][p_]) }                                                     \
    for (int b_ = 0; b_ < NS_TM_FLEN_BINS; b_++) { W(tail_n[b_]) }                                                \
    for (int b_ = 0; b_ < NS_TM_FLEN_BINS; b_++)                                                                  \
        for (int i_ = 0; i_ < NS_TM_FLEN_Q; i_++) { W(tail_q[b_][i_]) }                                           \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int i_ = 0; i_ < NS_TM_WINS; i_++) { H(win_val[s_][i_]) }                                            \
    for (int s_ = 0; s_ < 2; s_++)                                                                                \
        for (int i_ = 0; i_ < NS_TM_WINS; i_++) { W(win_count[s_][i_]) }

static void put_record(cursor *cu, const ns_tmodel_class *c)
{
#define PW(f) w32(cu, c->f);
#define PH(f) w16(cu, c->f);
#define PB(f) w8(cu, c->f);
#define PD(f) wf(cu, c->f);
    RECORD_FIELDS(PW, PH, PB, PD)
    RECORD_FIELDS_V2(PW, PH, PB)
    RECORD_FIELDS_V3(PW)
    RECORD_FIELDS_V4(PW, PH, PB)
    RECORD_FIELDS_V5(PW, PH)
    RECORD_FIELDS_V6(PW)
    RECORD_FIELDS_V7(PW, PH)
    RECORD_FIELDS_V8(PW)
    RECORD_FIELDS_V9(PW, PH)
    RECORD_FIELDS_V10(PW, PH)
    RECORD_FIELDS_V11(PW, PH)
    RECORD_FIELDS_V12(PW, PH, PB)
    RECORD_FIELDS_V13(PW, PH)
#undef PW
#undef PH
#undef PB
#undef PD
}

/* A record of `version`: a version 1 one has no closes, a version 2 one no close sides and shapes (they
 * stay 0, and its bytes there must be zeros). */
static void get_record(cursor *cu, ns_tmodel_class *c, uint32_t version)
{
#define GW(f) c->f = r32(cu);
#define GH(f) c->f = r16(cu);
#define GB(f) c->f = r8(cu);
#define GD(f) c->f = rf(cu);
    RECORD_FIELDS(GW, GH, GB, GD)
    if (version >= 2) {
        RECORD_FIELDS_V2(GW, GH, GB)
    }
    if (version >= 3) {
        RECORD_FIELDS_V3(GW)
    }
    if (version >= 4) {
        RECORD_FIELDS_V4(GW, GH, GB)
    }
    if (version >= 5) {
        RECORD_FIELDS_V5(GW, GH)
    }
    if (version >= 6) {
        RECORD_FIELDS_V6(GW)
    }
    if (version >= 7) {
        RECORD_FIELDS_V7(GW, GH)
    }
    if (version >= 8) {
        RECORD_FIELDS_V8(GW)
    }
    if (version >= 9) {
        RECORD_FIELDS_V9(GW, GH)
    }
    if (version >= 10) {
        RECORD_FIELDS_V10(GW, GH)
    }
    if (version >= 11) {
        RECORD_FIELDS_V11(GW, GH)
    }
    if (version >= 12) {
        RECORD_FIELDS_V12(GW, GH, GB)
    }
    if (version >= 13) {
        RECORD_FIELDS_V13(GW, GH)
    }
#undef GW
#undef GH
#undef GB
#undef GD
}

int ns_tmodel_encode(const ns_tmodel *tm, uint8_t **out, size_t *out_size)
{
    size_t keys = 0;
    for (uint32_t c = 0; c < tm->n_classes; c++) keys += strlen(tm->classes[c].key) + 1;
    size_t rec = record_bytes(NS_TMODEL_VERSION), off = align8(HEADER + keys), size = off + (size_t)tm->n_classes * rec;
    uint8_t *buf = calloc(1, size + rec); /* a record's slack: a record that outgrew its size is refused, not written */
    if (!buf) return ns_error(NS_ENOMEM, "out of memory for the trace model (%zu bytes)", size);
    ns_store_le32(buf + 12, tm->n_classes);
    ns_store_le32(buf + 24, (uint32_t)keys);
    char *k = (char *)buf + HEADER;
    for (uint32_t c = 0; c < tm->n_classes; c++) k = stpcpy(k, tm->classes[c].key) + 1;
    for (uint32_t c = 0; c < tm->n_classes; c++) {
        cursor cu = {.p = buf + off + (size_t)c * rec};
        put_record(&cu, &tm->classes[c]);
        size_t used = (size_t)(cu.p - (buf + off + (size_t)c * rec));
        if (used > rec) {
            free(buf);
            return ns_error(NS_ERANGE, "trace model: a class's fields take %zu bytes, more than a record's %zu", used, rec);
        }
    }
    ns_filehead_seal(&head, buf, size, NS_TMODEL_VERSION);
    *out = buf, *out_size = size;
    return NS_OK;
}

static int fin(double v, double lo, double hi) { return isfinite(v) && v >= lo && v <= hi; }

/* What a class's counts must say of each other; NULL when they agree. */
static const char *class_problem(const ns_tmodel_class *c)
{
    uint64_t s = 0;
    if (c->flows < c->captures) return "fewer flows than captures";
    if (c->gaps != c->flows - c->captures) return "gap count is not flows - captures";
    for (int i = 0; i < NS_TM_GAP_BINS; i++) s += c->gap_bin[i];
    if (s > c->gaps) return "more binned gaps than gaps";
    for (int j = 0; j < NS_TM_DECADES; j++) { /* transitions into a decade are gaps in it */
        uint64_t into = 0, in = 0;
        for (int i = 0; i < NS_TM_DECADES; i++) into += c->gap_next[i][j];
        for (int i = 0; i < NS_TM_GAP_PER_DECADE; i++) in += c->gap_bin[j * NS_TM_GAP_PER_DECADE + i];
        if (into > in) return "more gap transitions than gaps";
    }
    if (!fin(c->period_s, 0, 1e7) || !fin(c->period_jitter, 0, 10) || !fin(c->period_share, 0, 1) ||
        (c->period_s == 0 && c->period_share != 0))
        return "bad period";
    /* Each gap is binned or periodic. */
    if (fabs((double)s + c->period_share * c->gaps - c->gaps) > 0.5) return "binned and periodic gaps do not add up";
    if ((uint64_t)c->client_new + c->client_prev + c->client_other != c->gaps ||
        (uint64_t)c->server_new + c->server_same + c->server_other != c->gaps)
        return "host counts do not add up to the flows";
    if (c->client_busiest > c->client_other || c->server_busiest > c->server_other ||
        c->client_after_busy[0] > c->client_new || c->client_after_busy[1] > c->client_prev ||
        c->client_after_busy[2] > c->client_other)
        return "more busiest hosts than other hosts";
    if (c->svc_one > c->svc_multi || c->svc_one_server > c->svc_multi || c->svc_multi > c->flows / 2)
        return "more one-client services than services";
    s = 0;
    for (int i = 0; i < NS_TM_SVC_PORTS; i++) {
        if (c->svc_port_one[i] > c->svc_port_multi[i] || c->svc_port_one_server[i] > c->svc_port_multi[i] ||
            (!c->svc_port[i] && c->svc_port_multi[i]))
            return "bad service port entry";
        if (c->svc_port_one_main[i] > c->svc_port_one[i]) return "bad service port entry";
        s += c->svc_port_multi[i];
    }
    if (c->svc_one_main > c->svc_one) return "more one-client services of the busiest client than one-client services";
    if (c->group_other_flows > c->group_other_port_flows || c->group_other_port_flows > c->flows ||
        (c->group_other_flows && !tm_is_group_addr(c->group_other_addr)) || (!c->group_other_flows && c->group_other_addr))
        return "bad other-port group counts";
    if (s > c->svc_multi) return "more services by port than services";
    for (int i = 0; i < 2; i++)
        if (c->gw_flows[i] > c->gw_port_flows[i] || c->gw_port_flows[i] > c->flows)
            return "more gateway flows than flows to its port";
    s = c->port_random;
    for (int i = 0; i <= NS_TM_PORT_STEPS; i++) s += c->port_step[i];
    if (s > c->flows) return "more port steps than flows";
    if (c->port_lo > c->port_hi || (!c->port_lo && c->port_hi)) return "bad port range";
    if ((uint64_t)c->close[0] + c->close[1] + c->close[2] > c->flows) return "more closes than flows";
    s = 0;
    for (int i = 0; i < NS_REPAIR_METHODS; i++) s += c->method[i];
    if (s > c->flows) return "more first requests than flows";
    if (c->synack_ws > 15) return "SYN-ACK window scale over 14";
    if ((uint64_t)c->fin_side[0] + c->fin_side[1] > c->close[NS_TM_CLOSE_FIN] ||
        (uint64_t)c->fin_acked[0] + c->fin_acked[1] > (uint64_t)c->fin_side[0] + c->fin_side[1] ||
        (uint64_t)c->rst_side[0] + c->rst_side[1] > c->close[NS_TM_CLOSE_RST] ||
        (uint64_t)c->rst_fin[0] + c->rst_fin[1] != (uint64_t)c->rst_side[0] + c->rst_side[1] ||
        c->refused > c->rst_side[1])
        return "close sides and shapes do not add up to the closes";
    uint64_t hs[2] = {0, 0};
    for (int i = 0; i < NS_TM_HS_BINS; i++) hs[0] += c->hs_gap[0][i], hs[1] += c->hs_gap[1][i];
    if (hs[0] > c->flows || hs[1] > c->flows) return "more handshake gaps than flows";
    for (int h = 0; h < 2; h++) {
        s = 0;
        for (int i = 0; i < NS_TM_IPID_KINDS; i++) s += c->ipid[h][i];
        if (s > c->flows || (uint64_t)c->ipid_runs_on[h][0] + c->ipid_runs_on[h][1] > c->flows ||
            (uint64_t)c->ts_runs_on[h][0] + c->ts_runs_on[h][1] > c->flows)
            return "more host observations than flows";
        if (!fin(c->ts_hz[h], 0, 1e7)) return "bad timestamp clock";
        s = 0;
        for (int i = 0; i < NS_TM_TTLS; i++) {
            s += c->ttl_count[h][i];
            if ((i && c->ttl_count[h][i] > c->ttl_count[h][i - 1]) || (!c->ttl_count[h][i] && c->ttl[h][i]))
                return "TTLs out of order";
            if ((i && c->ttl_tcp_count[h][i] > c->ttl_tcp_count[h][i - 1]) ||
                (!c->ttl_tcp_count[h][i] && c->ttl_tcp[h][i]) || c->ttl_tcp_count[h][i] > c->ttl_count[h][0])
                return "TCP TTLs out of order";
        }
    }
    if ((uint64_t)c->synack_ts[0] + c->synack_ts[1] > c->flows) return "more SYN-ACKs than flows";
    for (int h = 0; h < 2; h++)
        for (int t = 0; t < NS_TM_LEN_KINDS; t++) {
            /* repair moves lengths to these: a 0 inside or one shorter than any IP header would write nonsense */
            const uint32_t *n = c->len_count[h][t];
            const uint16_t *v = c->len_val[h][t];
            s = 0;
            for (int i = 0; i < NS_TM_LENS; i++) {
                s += n[i];
                if ((i && n[i] > n[i - 1]) || !n[i] != !v[i] || (v[i] && v[i] < 20)) return "IP lengths out of order";
            }
            if (s > c->len_all[h][t]) return "more IP lengths kept than packets";
        }
    for (int t = 0; t < 2; t++) {
        /* the plan moves ports to these: port 0 would write a flow no stack sends */
        const uint32_t *n = c->port_count[t];
        s = 0;
        for (int i = 0; i < NS_TM_PORTS; i++) {
            s += n[i];
            if ((i && n[i] > n[i - 1]) || !n[i] != !c->port_val[t][i]) return "server ports out of order";
        }
        if (s > c->flows) return "more server ports kept than flows";
    }
    /* the plan draws a client's ports from these: none a privileged or a high one, counts that add up */
    s = c->cport_high;
    for (int i = 0; i < NS_TM_CPORTS; i++) {
        const uint32_t *n = c->cport_count;
        s += n[i];
        if ((i && n[i] > n[i - 1]) || !n[i] != !c->cport_val[i] ||
            (n[i] && (c->cport_val[i] < 1024 || c->cport_val[i] >= NS_TM_CPORT_HIGH)))
            return "client ports out of order or out of their range";
    }
    if (s > c->flows) return "more client ports kept than flows";
    if (c->cport_high ? c->cport_high_lo < NS_TM_CPORT_HIGH || c->cport_high_lo > c->cport_high_hi
                      : c->cport_high_lo || c->cport_high_hi)
        return "client ports' high range out of order";
    /* generation draws lengths from these: each within its bin, in order, none in a bin without flows */
    s = 0;
    for (int b = 0; b < NS_TM_FLEN_BINS; b++) {
        const uint32_t *q = c->flen_q[b];
        s += c->flen_n[b];
        for (int i = 0; i < NS_TM_FLEN_Q; i++)
            if (c->flen_n[b] ? q[i] <= 1u << b || (uint64_t)q[i] > 2ull << b || (i && q[i] < q[i - 1]) : q[i] != 0)
                return "flow length quantiles out of their bin or out of order";
    }
    if (s > c->flows) return "more flow lengths than flows";
    /* the plan gives generated flows these spans in order: none in a bin without flows */
    s = 0;
    for (int b = 0; b < NS_TM_FLEN_BINS; b++) {
        s += c->tail_n[b];
        if (c->tail_n[b] > c->flen_n[b]) return "more flow spans than flow lengths in a bin";
        for (int i = 0; i < NS_TM_FLEN_Q; i++)
            if (c->tail_n[b] ? i && c->tail_q[b][i] < c->tail_q[b][i - 1] : c->tail_q[b][i] != 0)
                return "flow span quantiles out of order";
    }
    /* repair writes these lengths: each holds its IP and UDP headers */
    s = 0;
    for (int i = 0; i < NS_TM_PAIRS; i++) {
        const uint32_t *n = c->pair_count;
        s += n[i];
        if ((i && n[i] > n[i - 1]) || c->pair_dir[i] > 3 ||
            (n[i] ? c->pair_len[i][0] < 28 || c->pair_len[i][1] < 28
                  : c->pair_port[i] || c->pair_len[i][0] || c->pair_len[i][1] || c->pair_dir[i]))
            return "UDP exchanges out of order or shorter than their headers";
    }
    if (s > c->flows) return "more UDP exchanges than flows";
    /* repair gives segments these sizes: in order, none past an IP packet's */
    for (int h = 0; h < 2; h++)
        for (int p = 0; p < 2; p++)
            for (int i = 0; i < NS_TM_PAY_Q; i++) {
                const uint16_t *q = c->pay_q[h][p];
                if ((c->pay_n[h][p] ? q[i] > 65495 || (i && q[i] < q[i - 1]) : q[i] != 0) || c->pay_n[h][p] > c->pay_all[h][p])
                    return "TCP data size quantiles out of order or out of their range";
            }
    /* repair writes these windows: commonest first, none 0 (a stalled peer), none after the list ends */
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < NS_TM_WINS; i++) {
            const uint32_t *n = c->win_count[d];
            if ((i && n[i] > n[i - 1]) || (n[i] ? !c->win_val[d][i] : c->win_val[d][i] != 0))
                return "TCP windows out of order or 0";
        }
    for (int i = 0; i < NS_TM_GROUPS; i++) {
        /* repair writes these addresses: a unicast one here would send flows to a host of the corpus */
        if (c->group_addr[i] ? !tm_is_group_addr(c->group_addr[i]) || !c->group_flows[i]
                             : c->group_port[i] || c->group_flows[i] || c->group_port_flows[i] || c->group_zero[i] ||
                                   c->group_ttl[i])
            return "a group entry without a group address";
        if (c->group_zero[i] > c->group_flows[i] || c->group_flows[i] > c->group_port_flows[i] ||
            c->group_port_flows[i] > c->flows)
            return "group counts do not add up to the flows";
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NS_REPAIR_TURN_Q; i++)
            if (c->turn_n[k] ? i && c->turn_q[k][i] < c->turn_q[k][i - 1] : c->turn_q[k][i] != 0)
                return "turn quantiles out of order";
    for (int p = 0; p < NS_TM_TURN_PORTS; p++) {
        uint64_t n = (uint64_t)c->turn_port_n[p][0] + c->turn_port_n[p][1];
        if (!n && c->turn_port[p]) return "a turn port entry without gaps";
        if (n > (uint64_t)c->turn_n[0] + c->turn_n[1] || c->turn_port_n[p][0] > c->turn_n[0] ||
            c->turn_port_n[p][1] > c->turn_n[1])
            return "more turn gaps of a port than of its class";
        for (int e = 0; n && e < p; e++)
            if (c->turn_port[e] == c->turn_port[p] || !((uint64_t)c->turn_port_n[e][0] + c->turn_port_n[e][1]))
                return "turn port entries repeat a port or follow an empty one";
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < NS_REPAIR_TURN_Q; i++)
                if (c->turn_port_n[p][k] ? i && c->turn_port_q[p][k][i] < c->turn_port_q[p][k][i - 1]
                                         : c->turn_port_q[p][k][i] != 0)
                    return "turn port quantiles out of order";
        uint64_t h[2] = {0, 0};
        for (int i = 0; i < NS_TM_HS_BINS; i++) h[0] += c->hs_port_gap[p][0][i], h[1] += c->hs_port_gap[p][1][i];
        if ((!n && h[0] + h[1]) || h[0] > c->flows || h[1] > c->flows)
            return "handshake gaps of a turn port do not add up";
    }
    return NULL;
}

static int parse(ns_tmodel *tm, const uint8_t *buf, size_t size, const char *name)
{
    uint32_t version;
    int rc = ns_filehead_check(&head, buf, size, name, &version);
    if (rc) return rc;
    uint32_t n = ns_load_le32(buf + 12), keys = ns_load_le32(buf + 24);
    if (!n || n > (1u << 20) || keys > size - HEADER ||
        (size - align8(HEADER + (size_t)keys)) != (uint64_t)n * record_bytes(version) ||
        size < align8(HEADER + (size_t)keys))
        return ns_error(NS_ECORRUPT, "%s: trace model sizes do not match its %u classes", name, n);
    if (!(tm->classes = calloc(n, sizeof *tm->classes))) return ns_error(NS_ENOMEM, "out of memory");
    tm->n_classes = n, tm->version = version;
    const char *k = (const char *)buf + HEADER, *end = k + keys;
    for (uint32_t c = 0; c < n; c++) {
        const char *z = memchr(k, 0, (size_t)(end - k));
        if (!z) return ns_error(NS_ECORRUPT, "%s: trace model class names are cut short", name);
        if (!(tm->classes[c].key = malloc((size_t)(z - k) + 1))) return ns_error(NS_ENOMEM, "out of memory");
        memcpy(tm->classes[c].key, k, (size_t)(z - k) + 1);
        for (uint32_t d = 0; d < c; d++)
            if (!strcmp(tm->classes[d].key, tm->classes[c].key))
                return ns_error(NS_ECORRUPT, "%s: trace model class '%s' is there twice", name, tm->classes[c].key);
        k = z + 1;
    }
    for (const uint8_t *p = (const uint8_t *)k; p < buf + align8(HEADER + (size_t)keys); p++)
        if (*p) return ns_error(NS_ECORRUPT, "%s: trace model has bytes after its class names", name);
    if (!ns_tmodel_find(tm, "")) return ns_error(NS_ECORRUPT, "%s: trace model lacks its class of every flow", name);
    for (uint32_t c = 0; c < n; c++) {
        const uint8_t *rec = buf + align8(HEADER + (size_t)keys) + (size_t)c * record_bytes(version);
        cursor cu = {.q = rec};
        get_record(&cu, &tm->classes[c], version);
        for (const uint8_t *p = cu.q; p < rec + record_bytes(version); p++)
            if (*p) return ns_error(NS_ECORRUPT, "%s: trace model class '%s': unknown fields set", name, tm->classes[c].key);
        const char *why = class_problem(&tm->classes[c]);
        if (why) return ns_error(NS_ECORRUPT, "%s: trace model class '%s': %s", name, tm->classes[c].key, why);
    }
    return NS_OK;
}

int ns_tmodel_parse(ns_tmodel *tm, const uint8_t *buf, size_t size, const char *name)
{
    memset(tm, 0, sizeof *tm);
    int rc = parse(tm, buf, size, name);
    if (rc) ns_tmodel_free(tm);
    return rc;
}
