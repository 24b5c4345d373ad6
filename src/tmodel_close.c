/* tmodel_close.c: the plan's closes (tmodel.h, "Generation"): how each TCP
 * flow ends, in its class's shares of FINs, RSTs and refusals, with its
 * SYN-ACK's window, scale and timestamp; each flow's prior of HTTP
 * methods, and its class's IP lengths and TCP data sizes. */
#include "netsynth/tmodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/generate.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/rng.h"

#include "tmodel_int.h"

static int has_close(const ns_tmodel_class *c, int s) { return (uint64_t)c->close[0] + c->close[1] + c->close[2] > 0; }
static int has_synack_win(const ns_tmodel_class *c, int s) { return c->synack_win > 0; }
static int has_methods(const ns_tmodel_class *c, int s)
{
    for (int i = 0; i < NS_REPAIR_METHODS; i++)
        if (c->method[i]) return 1;
    return 0;
}

/* Each flow's prior of HTTP methods (plan[k].methods): its class's first requests', scaled to 16 bits. */
void tm_plan_methods(const ns_tmodel *tm, const ns_tmodel_capture *caps, size_t n_caps, ns_repair_plan *plan)
{
    for (size_t i = 0; i < n_caps; i++) {
        tm_chain ch;
        tm_chain_of(tm, caps[i].key, &ch);
        const ns_tmodel_class *c = tm_pick(&ch, has_methods, 0);
        if (!c) continue;
        uint32_t most = 0;
        for (int m = 0; m < NS_REPAIR_METHODS; m++) most = c->method[m] > most ? c->method[m] : most;
        uint16_t w[NS_REPAIR_METHODS];
        for (int m = 0; m < NS_REPAIR_METHODS; m++)
            w[m] = (uint16_t)(most <= 65535 ? c->method[m] : (uint64_t)c->method[m] * 65535 / most);
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) memcpy(plan[k].methods, w, sizeof w);
    }
}

static int has_pairs(const ns_tmodel_class *c, int s) { return c->pair_count[0] > 0; }
static int has_wins(const ns_tmodel_class *c, int s) { return c->win_val[s][0] > 0; }
static int has_lens(const ns_tmodel_class *c, int s)
{
    for (int t = 0; t < NS_TM_LEN_KINDS; t++)
        if (c->len_val[s][t][0]) return 1;
    return 0;
}

/* Each flow's IP lengths per side and transport (plan[k].lens): its class's commonest (none before version 9);
 * a UDP flow's exchanges on its server port (plan[k].pairs; none before version 12); a TCP flow's windows per
 * side (plan[k].wins; none before version 13). */
void tm_plan_lens(const ns_tmodel *tm, const ns_tmodel_capture *caps, size_t n_caps, const tm_flow_info *info,
                  ns_repair_plan *plan)
{
    for (size_t i = 0; i < n_caps; i++) {
        tm_chain ch;
        tm_chain_of(tm, caps[i].key, &ch);
        for (int s = 0; s < 2; s++) {
            const ns_tmodel_class *c = tm_pick(&ch, has_lens, s);
            if (!c) continue;
            for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++)
                memcpy(plan[k].lens[s], c->len_val[s], sizeof plan[k].lens[s]);
            c = tm_pick(&ch, has_wins, s);
            for (size_t k = caps[i].first; c && k < caps[i].first + caps[i].n; k++)
                if (info[k].proto == NS_PROTO_TCP) memcpy(plan[k].wins[s], c->win_val[s], sizeof plan[k].wins[s]);
        }
        /* a UDP flow's exchanges: its class's on the port it is written with (version 12) */
        const ns_tmodel_class *c = tm_pick(&ch, has_pairs, 0);
        for (size_t k = caps[i].first; c && k < caps[i].first + caps[i].n; k++) {
            if (info[k].proto != NS_PROTO_UDP) continue;
            for (int j = 0, m = 0; j < NS_TM_PAIRS && c->pair_count[j] && m < NS_REPAIR_PAIRS; j++)
                if (c->pair_port[j] == info[k].sport) {
                    plan[k].pairs[m][0] = c->pair_len[j][0], plan[k].pairs[m][1] = c->pair_len[j][1];
                    plan[k].pair_dir[m++] = c->pair_dir[j];
                }
        }
    }
}

enum { PAY_MIN = 16 }; /* data segments for a map of sizes, the class's and the plan's */
/* sp: side << 1 | place (tmodel.h, pay_n) */
static int has_pay(const ns_tmodel_class *c, int sp) { return c->pay_n[sp >> 1][sp & 1] >= PAY_MIN; }

/* Each TCP flow's map of data sizes per side and place (plan[k].pay_map; version 13): the quantiles of the
 * sizes the plan's rows of a class generated there (as repair reads them: ns_repair_row_payload, of a flow's
 * first window) onto the class's. A class's segments are its stack's and its messages' sizes, the rows' the
 * model's, which pools every class's (BENCHMARK.md, "Bytes per class (session 14)"). */
int tm_plan_pay(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                const tm_flow_info *info, const ns_repair_opts *ro, ns_repair_plan *plan)
{
    enum { Q = NS_TM_PAY_Q };
    if (tm->version < 13) return NS_OK;
    size_t rows = 0, n = 0;
    for (size_t i = 0; i < n_caps; i++)
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            uint32_t len = tm_planned_rows(g, ro, k);
            rows += info[k].proto == NS_PROTO_TCP ? (len < NS_TM_PAY_ROWS ? len : NS_TM_PAY_ROWS) : 0;
        }
    int32_t *cls = malloc((4 * n_caps + 1) * sizeof *cls);
    uint64_t *v = malloc((rows + 1) * sizeof *v); /* (class, side, place) << 16 | size, sorted */
    uint16_t *knots = calloc((size_t)tm->n_classes * 4 * Q + 1, sizeof *knots);
    uint64_t *seg = calloc((size_t)tm->n_classes * 4 * 3 + 1, sizeof *seg); /* segments, with data, after the peer's data */
    if (!cls || !v || !knots || !seg) {
        free(cls), free(v), free(knots), free(seg);
        return ns_error(NS_ENOMEM, "out of memory planning the data sizes of %zu captures", n_caps);
    }
    for (size_t i = 0; i < n_caps; i++) {
        tm_chain ch;
        tm_chain_of(tm, caps[i].key, &ch);
        for (int sp = 0; sp < 4; sp++) {
            const ns_tmodel_class *c = tm_pick(&ch, has_pay, sp);
            /* never the empty key's but for a capture of that key: it pools every class's sizes */
            cls[4 * i + (size_t)sp] = c && (*c->key || !*caps[i].key) ? (int32_t)(c - tm->classes) : -1;
        }
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            if (info[k].proto != NS_PROTO_TCP) continue;
            uint32_t len = tm_planned_rows(g, ro, k);
            int prev = -1; /* the size of the row before, -1 none */
            for (uint32_t j = 0; j < len && j < NS_TM_PAY_ROWS; j++) {
                int learned, size = ns_repair_row_payload(g->rows + (g->first[k] + j) * NS_NP_MODEL_WIDTH, &learned);
                int sp = (g->dir[g->first[k] + j] ? 2 : 0) + (j >= NS_TM_TURN_ROWS);
                int32_t c = cls[4 * i + (size_t)sp];
                int after = j && prev > 0 && g->dir[g->first[k] + j - 1] != g->dir[g->first[k] + j];
                prev = size;
                if (size < 0 || learned || c < 0) continue;
                uint64_t *sg = seg + ((size_t)c * 4 + (size_t)sp) * 3;
                sg[0]++, sg[1] += size > 0, sg[2] += size > 0 && after;
                if (size > 0) v[n++] = ((uint64_t)c * 4 + (uint64_t)sp) << 16 | (uint64_t)size;
            }
        }
    }
    qsort(v, n, sizeof *v, tm_cmp_u64);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a; b < n && v[b] >> 16 == v[a] >> 16; b++) {}
        if (b - a < PAY_MIN) continue; /* too few to say where a size lies among them */
        uint16_t *kn = knots + (size_t)(v[a] >> 16) * Q;
        for (int q = 0; q < Q; q++) kn[q] = (uint16_t)v[a + (size_t)(((double)q + 0.5) * (double)(b - a) / Q)];
    }
    for (size_t i = 0; i < n_caps; i++)
        for (int sp = 0; sp < 4; sp++) {
            int32_t c = cls[4 * i + (size_t)sp];
            const uint16_t *kn = c >= 0 ? knots + ((size_t)c * 4 + (size_t)sp) * Q : NULL;
            if (!kn || !kn[Q - 1]) continue;
            /* Where the rows carry data more often than the class's segments there (D-LinkDoorSensor's client:
             * 56% of its first 16 rows' segments, 36% real), a data segment right after the peer's data goes
             * bare in the share that takes the excess away: an ACK of that data, as a real one would be (not an
             * ACK of nothing new, which repair would turn into the peer's data or drop). */
            const ns_tmodel_class *tc = &tm->classes[c];
            const uint64_t *sg = seg + ((size_t)c * 4 + (size_t)sp) * 3;
            double real = (double)tc->pay_n[sp >> 1][sp & 1] / tc->pay_all[sp >> 1][sp & 1];
            double own = (double)sg[1] / (double)sg[0], go = sg[2] ? (1 - real / own) * (double)sg[1] / (double)sg[2] : 0;
            uint16_t bare = go > 0 ? (uint16_t)(go >= 1 ? 65535 : go * 65535) : 0;
            for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
                if (info[k].proto != NS_PROTO_TCP) continue;
                plan[k].pay_bare[sp >> 1][sp & 1] = bare;
                memcpy(plan[k].pay_map[sp >> 1][sp & 1][0], kn, sizeof plan[k].pay_map[0][0][0]);
                memcpy(plan[k].pay_map[sp >> 1][sp & 1][1], tm->classes[c].pay_q[sp >> 1][sp & 1],
                       sizeof plan[k].pay_map[0][0][1]);
            }
        }
    free(cls), free(v), free(knots), free(seg);
    return NS_OK;
}

static int has_synack_ws(const ns_tmodel_class *c, int s) { return c->synack_ws > 0; }
static int has_rst_ts(const ns_tmodel_class *c, int s) { return (uint64_t)c->rst_ts[0] + c->rst_ts[1] > 0; }
static int has_synack_ts(const ns_tmodel_class *c, int s) { return (uint64_t)c->synack_ts[0] + c->synack_ts[1] > 0; }

/* What a flow's rows show of its close (as repair reads them, roughly: rows whose TCP flags are there). */
enum { EV_FIN = 1, EV_RST = 2, EV_RST_END = 4, EV_STUCK = 8 };
enum { EV_TAIL = 3 };   /* an RST in the last rows: repair's RST_TAIL and the RST itself */

unsigned tm_flags_as_repair_reads(const int8_t *row)
{
    if (!ns_nprint_has(row, NS_NPF_TCP_SPRT) ||
        ns_nprint_bits_present(row, NS_NP_COL_TCP_CWR, NS_NP_BITS_TCP_FLAGS) != NS_NP_BITS_TCP_FLAGS)
        return 0;
    return (ns_nprint_get(row, NS_NPF_TCP_FIN) ? FL_FIN : 0) | (ns_nprint_get(row, NS_NPF_TCP_RST) ? FL_RST : 0) |
           (ns_nprint_get(row, NS_NPF_TCP_SYN) ? FL_SYN : 0) | (ns_nprint_get(row, NS_NPF_TCP_ACKF) ? FL_ACK : 0);
}

static unsigned close_evidence(const int8_t *rows, const uint8_t *dir, uint32_t n)
{
    unsigned ev = 0;
    uint32_t syns = 0;
    int handshake = 0, leading = 1;
    for (uint32_t i = 0; i < n; i++) {
        unsigned f = tm_flags_as_repair_reads(rows + (size_t)i * NS_NP_MODEL_WIDTH);
        int fin = !!(f & FL_FIN), rst = !!(f & FL_RST), syn = !!(f & FL_SYN), ack = !!(f & FL_ACK);
        if (fin) ev |= EV_FIN;
        if (rst) ev |= EV_RST | (i + EV_TAIL >= n ? EV_RST_END : 0);
        handshake |= syn;
        /* The client's first SYNs (and its retransmissions): repair makes the rows after them SYN-ACK, ACK. */
        if (leading && syn && !ack && !dir[i]) syns++;
        else leading = 0;
    }
    if (handshake && (syns ? syns : 1) + 2 > n) ev |= EV_STUCK; /* repair closes no flow whose handshake never completed */
    return ev;
}

typedef struct close_cand {
    uint64_t rank;   /* evidence first, then a random draw */
    size_t k;
    unsigned ev;     /* EV_* */
    uint32_t len;    /* rows (those the plan reads) */
} close_cand;

static int by_rank(const void *x, const void *y)
{
    uint64_t a = ((const close_cand *)x)->rank, b = ((const close_cand *)y)->rank;
    return a > b ? -1 : a < b;
}

/* What a flow's SYN-ACK row says of a timestamp: 2 none in a set of its own
 * (its MSS and more: repair keeps such a set), 1 one, 0 nothing (no SYN-ACK
 * row, or a set repair fills from the SYN's). */
static int synack_evidence(const int8_t *rows, const uint8_t *dir, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const int8_t *row = rows + (size_t)i * NS_NP_MODEL_WIDTH;
        if (!dir[i] || !tm_row_flag(row, NS_NPF_TCP_SYN) || !tm_row_flag(row, NS_NPF_TCP_ACKF)) continue;
        uint8_t v[8];
        int ts = tm_row_option(row, 8, 10, v), full = tm_row_option(row, 2, 4, v) &&
                                                      (ts || tm_row_option(row, 3, 3, v) || tm_row_option(row, 4, 2, v));
        return full ? (ts ? 1 : 2) : 0;
    }
    return 0;
}

/* Each TCP flow's SYN-ACK timestamp (plan[k].synack_ts) in a capture: the
 * class's share of SYN-ACKs without one, given first to the flows whose
 * rows say none, then to those that say nothing, then to the rest, drawn
 * at random among equals (the rows carry the server: one cloud answers
 * without, another with). */
static void plan_synack_ts(const ns_tmodel_class *st, const ns_gen_flows *g, const ns_tmodel_capture *cap,
                           const tm_flow_info *info, const ns_repair_opts *ro, ns_rng *r, ns_repair_plan *plan)
{
    size_t n[3] = {0, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        double want = (double)(n[0] + n[1] + n[2]) * st->synack_ts[1] / ((double)st->synack_ts[0] + st->synack_ts[1]);
        double p[3]; /* by synack_evidence, the chance of none: rows saying none first, then nothing, then one */
        p[2] = want >= n[2] ? 1 : want / (double)n[2];
        want -= (double)n[2];
        p[0] = want <= 0 ? 0 : want >= n[0] ? 1 : want / (double)n[0];
        want -= (double)n[0];
        p[1] = want <= 0 ? 0 : want >= n[1] ? 1 : want / (double)n[1];
        for (size_t k = cap->first; k < cap->first + cap->n; k++) {
            if (info[k].proto != NS_PROTO_TCP) continue;
            uint32_t len = tm_planned_rows(g, ro, k);
            int ev = synack_evidence(g->rows + g->first[k] * NS_NP_MODEL_WIDTH, g->dir + g->first[k], len);
            if (!pass) n[ev]++;
            else plan[k].synack_ts = ns_rng_double(r) < p[ev] ? 2 : 1;
        }
    }
}

/* Each TCP flow's close (plan[k].close): per class, RSTs and FINs in its
 * shares (tmodel.h, "Generation"). Owed closes carry over to the class's
 * next capture, so that a class's flows close in its shares even when
 * each capture has few. Also its SYN-ACK's defaults (synack_win, _ws). */
int tm_plan_closes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                   const tm_flow_info *info, const ns_repair_opts *ro, uint64_t seed, ns_repair_plan *plan)
{
    size_t most = 0;
    for (size_t i = 0; i < n_caps; i++)
        if (caps[i].n > most) most = caps[i].n;
    double *owed = calloc(3 * (size_t)tm->n_classes + 1, sizeof *owed);
    close_cand *cand = malloc((most + 1) * sizeof *cand);
    int rc = owed && cand ? NS_OK : ns_error(NS_ENOMEM, "out of memory planning closes of %zu flows", most);
    for (size_t i = 0; !rc && i < n_caps; i++) {
        tm_chain ch;
        tm_chain_of(tm, caps[i].key, &ch);
        const ns_tmodel_class *c = tm_pick(&ch, has_close, 0), *sw = tm_pick(&ch, has_synack_win, 0),
                              *ss = tm_pick(&ch, has_synack_ws, 0), *rt = tm_pick(&ch, has_rst_ts, 0);
        const ns_tmodel_class *st = tm_pick(&ch, has_synack_ts, 0);
        ns_rng rr, sr;   /* streams of their own: the closes' draws stay as they were */
        ns_rng_seed(&rr, seed ^ 0x7273747473747321ull, i);
        ns_rng_seed(&sr, seed ^ 0x73796e61636b7473ull, i);
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            plan[k].synack_win = sw ? sw->synack_win : 0, plan[k].synack_ws = ss ? ss->synack_ws : 0;
            if (rt) plan[k].rst_ts = ns_rng_double(&rr) * ((double)rt->rst_ts[0] + rt->rst_ts[1]) < rt->rst_ts[0] ? 1 : 2;
        }
        if (st) plan_synack_ts(st, g, &caps[i], info, ro, &sr, plan);
        if (!c) continue; /* no closes learned: the rows decide (NS_REPAIR_CLOSE_ROWS) */
        ns_rng r;
        ns_rng_seed(&r, seed ^ 0x636c6f7365737373ull, i);
        size_t n = 0, open = 0;
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            const int8_t *rows = g->rows + g->first[k] * NS_NP_MODEL_WIDTH;
            const uint8_t *dir = g->dir + g->first[k];
            uint32_t len = tm_planned_rows(g, ro, k);
            if (info[k].proto != NS_PROTO_TCP) continue;   /* the service ns_tmodel_plan read, as repair will */
            plan[k].close = NS_REPAIR_CLOSE_OPEN;
            cand[n] = (close_cand){0, k, close_evidence(rows, dir, len), len};
            open += !(cand[n++].ev & EV_STUCK);
        }
        if (!n) continue;
        double total = (double)c->close[0] + c->close[1] + c->close[2], *o = owed + 3 * (size_t)(c - tm->classes);
        o[0] += (double)n * c->close[NS_TM_CLOSE_RST] / total;
        o[1] += (double)n * c->close[NS_TM_CLOSE_FIN] / total;
        if (c->refused) {
            /* The refusals among the RSTs: to the flows showing the client's SYNs alone (nothing
             * else is refused), then the shortest, whose rows after the SYN go unwritten. */
            o[2] += (double)n * c->refused / total;
            size_t w = o[2] > 0 ? (size_t)llround(o[2]) : 0;
            if (w > n) w = n;
            for (size_t j = 0; j < n; j++) {
                uint64_t shorter = 0xffffffu - (cand[j].len < 0xffffffu ? cand[j].len : 0xffffffu);
                cand[j].rank = (uint64_t)(cand[j].ev & EV_STUCK ? 2 : 1) << 56 | shorter << 32 | ns_rng_u64(&r) >> 32;
            }
            qsort(cand, n, sizeof *cand, by_rank);
            for (size_t j = 0; j < w; j++) {
                plan[cand[j].k].close = NS_REPAIR_CLOSE_REFUSED;
                open -= !(cand[j].ev & EV_STUCK);
            }
            o[2] -= (double)w, o[0] -= (double)w;
        }
        /* Fewer flows that can close than closes owed (the model's unanswered SYNs outnumber the
         * class's): each goes to the kind owed most for its share, so that over the class's
         * captures the closes keep its mix of FIN and RST (one kind first starves the other). */
        size_t want[2];
        double share[2] = {(c->close[NS_TM_CLOSE_RST] - c->refused) / total, c->close[NS_TM_CLOSE_FIN] / total};
        for (int pass = 0; pass < 2; pass++) want[pass] = o[pass] > 0 ? (size_t)llround(o[pass]) : 0;
        if (want[0] + want[1] > open) {
            want[0] = want[1] = 0;
            for (size_t j = 0; j < open; j++) {
                double due[2];
                for (int p = 0; p < 2; p++) due[p] = share[p] > 0 ? (o[p] - (double)want[p]) / share[p] : -HUGE_VAL;
                want[due[1] > due[0]]++;
            }
        }
        /* RSTs first, to the flows that show one at their end, then anywhere, then to those showing no FIN. */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t j = 0; j < n; j++) {
                unsigned e = cand[j].ev;
                uint64_t score = e & EV_STUCK || plan[cand[j].k].close != NS_REPAIR_CLOSE_OPEN ? 0
                                 : pass == 0 ? (e & EV_RST_END ? 4 : e & EV_RST ? 3 : e & EV_FIN ? 1 : 2)
                                             : (e & EV_FIN ? 3 : e & EV_RST ? 1 : 2);
                cand[j].rank = score << 56 | ns_rng_u64(&r) >> 8;
            }
            qsort(cand, n, sizeof *cand, by_rank);
            for (size_t j = 0; j < want[pass]; j++)
                plan[cand[j].k].close = pass == 0 ? NS_REPAIR_CLOSE_RST : NS_REPAIR_CLOSE_FIN;
            o[pass] -= (double)want[pass];
        }
        /* Each close's side and shape, drawn in the class's shares (a refusal has its own). */
        ns_rng rs;
        ns_rng_seed(&rs, seed ^ 0x736964657368617dull, i);
        const double fs = (double)c->fin_side[0] + c->fin_side[1], fa = (double)c->fin_acked[0] + c->fin_acked[1];
        const double rs0 = c->rst_side[0], rs1 = (double)c->rst_side[1] - c->refused;
        const double rf0 = c->rst_fin[0], rf1 = (double)c->rst_fin[1] - c->refused;
        for (size_t j = 0; j < n; j++) {
            ns_repair_plan *p = &plan[cand[j].k];
            double u = ns_rng_double(&rs), v = ns_rng_double(&rs);
            if (p->close == NS_REPAIR_CLOSE_FIN && fs > 0) {
                p->close_side = (uint8_t)(u * fs < c->fin_side[0] ? 1 : 2);
                if (fa > 0 && v * fa < c->fin_acked[1]) p->close_shape = NS_REPAIR_SHAPE_ACKED;
            } else if (p->close == NS_REPAIR_CLOSE_RST && rs0 + rs1 > 0) {
                p->close_side = (uint8_t)(u * (rs0 + rs1) < rs0 ? 1 : 2);
                if (rf0 + rf1 > 0 && v * (rf0 + rf1) < rf0) p->close_shape = NS_REPAIR_SHAPE_FIN_RST;
            }
        }
    }
    free(owed), free(cand);
    return rc;
}
