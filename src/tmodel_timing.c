/* tmodel_timing.c: the plan's gaps inside a flow: its handshake's (the
 * SYN-ACK's and the ACK's, in the shares of the class's captures) and the
 * quantile maps of its turn and same-side gaps. */
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

/* The real gaps of a kind a server port needs for a map of its own (else its class's): measured 8 to 64 on
 * the IoT 20k model (BENCHMARK.md, "Turn maps per server port (session 10)"); handshakes likewise. */
enum { TURN_PORT_MIN = 16, HS_PORT_MIN = 8 };

/* ---- handshake gaps ------------------------------------------------------------------------- */

static int has_hs(const ns_tmodel_class *c, int s)
{
    for (int i = 0; i < NS_TM_HS_BINS; i++)
        if (c->hs_gap[s][i]) return 1;
    return 0;
}

/* A gap in handshake bin b, log-uniform within it: microseconds, at least 1. */
static uint32_t hs_draw(int b, ns_rng *r)
{
    double us = pow(10, (b + ns_rng_double(r)) / NS_TM_HS_PER_DECADE + 1);
    return us < 1 ? 1 : us > 4e9 ? 4000000000u : (uint32_t)llround(us);
}

/* The handshake bins of side s of class c's flows to server port `port`: its turn port entry's (*slot
 * p) with HS_PORT_MIN gaps, else the class's (*slot -1). */
static const uint16_t *hs_of_port(const ns_tmodel_class *c, int s, uint16_t port, int *slot)
{
    *slot = -1;
    for (int p = 0; p < NS_TM_TURN_PORTS && (uint64_t)c->turn_port_n[p][0] + c->turn_port_n[p][1]; p++) {
        if (c->turn_port[p] != port) continue;
        uint64_t n = 0;
        for (int i = 0; i < NS_TM_HS_BINS; i++) n += c->hs_port_gap[p][s][i];
        if (n < HS_PORT_MIN) break;
        *slot = p;
        return c->hs_port_gap[p][s];
    }
    return c->hs_gap[s];
}

/* A flow's handshake answer of side s, as tm_plan_handshakes finds it: the row after the client's leading
 * SYNs (+ s), with its bins h and their group (class, side, port slot); 0 where it has none. */
typedef struct hs_row {
    const uint16_t *h;
    uint32_t group;
    int bin;
} hs_row;

static int hs_find(const ns_tmodel *tm, const ns_tmodel_class *const c[2], const ns_gen_flows *g,
                   const tm_flow_info *fi, const ns_repair_opts *ro, size_t k, hs_row out[2])
{
    memset(out, 0, 2 * sizeof *out);
    if (fi->proto != NS_PROTO_TCP) return 0;
    const int8_t *rows = g->rows + g->first[k] * NS_NP_MODEL_WIDTH;
    const uint8_t *dir = g->dir + g->first[k];
    uint32_t len = tm_planned_rows(g, ro, k);
    uint32_t syns;
    if (tm_turns_from(rows, dir, len, &syns) == 1) return 0;
    int any = 0;
    for (int s = 0; s < 2; s++) {
        if (!c[s] || syns + (uint32_t)s >= len) continue;
        int slot;
        out[s].h = hs_of_port(c[s], s, fi->sport, &slot);
        out[s].group = (uint32_t)(((size_t)(c[s] - tm->classes) * 2 + (size_t)s) * (NS_TM_TURN_PORTS + 1) +
                                  (size_t)(slot + 1));
        out[s].bin = tm_hs_bin(g->iat_ns[g->first[k] + syns + (uint32_t)s]);
        any = 1;
    }
    return any;
}

/* Each TCP flow's handshake gaps (plan[k].hs_us): the rows' SYN-ACK and ACK
 * rows, found as repair finds them (after the client's leading SYNs, in the
 * rows it plans from), keep their gap in the share the class's (its port's)
 * captures show that bin, and the rest take one where the generated flows
 * fall short of it. The model draws each row's gap from its log-time bins
 * without knowing the row is a handshake's answer, one RTT of the class's
 * servers: IoT WeMoInsightSwitch's came out under 40 ms in 17 of 31 flows,
 * where every real one takes 87-172 ms. Keeping every gap in a bin the
 * class had (session 10) kept the model's shares of the modes: the IoT
 * Edimax plugs' port 80 answers in 1.5 or 8 ms about half and half, and the
 * generated flows put 27% in the first (BENCHMARK.md, "Handshakes in the
 * class's shares (session 11)"). Over each group of the plan's flows
 * (class, side, and port where the port has bins, else the class's), the
 * gaps in bin b keep floor(n_b x min(1, target share / generated share)) of
 * theirs, every 1/keep-th in plan order; the others, in plan order, take
 * the bins of the target's excess over the generated shares at evenly
 * spaced points of its distribution, so that the group's bins come out the
 * target's to a flow (drawn at random, a class whose median lies between two
 * modes moved by a mode at seeds 2 and 3). A port's target is its bins; the
 * flows to other ports stand in for the class's flows the model gave a port
 * of no real flow (a port number a few bits off: Edimax's 10000 written as
 * 10031, 10047), so theirs is what the class's bins hold beyond what its
 * ports' groups will have, the class's where they cover it all. */
int tm_plan_handshakes(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps,
                       size_t n_caps, const tm_flow_info *info, const ns_repair_opts *ro, uint64_t seed,
                       ns_repair_plan *plan)
{
    enum { SLOTS = NS_TM_TURN_PORTS + 1, B = NS_TM_HS_BINS };
    size_t n_groups = (size_t)tm->n_classes * 2 * SLOTS, cells = n_groups ? n_groups * B : 1;
    uint32_t *gen = calloc(cells, sizeof *gen), *seen = calloc(cells, sizeof *seen);
    uint32_t *redrawn = calloc(n_groups ? n_groups : 1, sizeof *redrawn);
    double *want = calloc(cells, sizeof *want), *keep = calloc(cells, sizeof *keep);
    double *excess = calloc(cells, sizeof *excess), *n_redraw = calloc(n_groups ? n_groups : 1, sizeof *n_redraw);
    const uint16_t **bins = calloc(n_groups ? n_groups : 1, sizeof *bins);
    int rc = NS_OK;
    if (!gen || !seen || !redrawn || !want || !keep || !excess || !n_redraw || !bins) {
        rc = ns_error(NS_ENOMEM, "out of memory planning the handshakes of %zu captures", n_caps);
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n_caps; i++) {
            tm_chain ch;
            tm_chain_of(tm, caps[i].key, &ch);
            const ns_tmodel_class *c[2] = {tm_pick(&ch, has_hs, 0), tm_pick(&ch, has_hs, 1)};
            if (!c[0] && !c[1]) continue;
            ns_rng r; /* a stream of its own: the other draws stay as they were */
            ns_rng_seed(&r, seed ^ 0x68616e647368616bull, i);
            for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
                hs_row hr[2];
                if (!hs_find(tm, c, g, &info[k], ro, k, hr)) continue;
                for (int s = 0; s < 2; s++) {
                    if (!hr[s].h) continue;
                    size_t gi = hr[s].group, cell = gi * B + (size_t)hr[s].bin;
                    if (!pass) {
                        gen[cell]++, bins[gi] = hr[s].h;
                        continue;
                    }
                    double x = keep[cell], c0 = seen[cell]++;
                    if (floor((c0 + 1) * x) > floor(c0 * x)) continue;
                    /* The next evenly spaced point of the excess's distribution. */
                    double u = (redrawn[gi]++ + 0.5) / n_redraw[gi], cum = 0;
                    const double *w = excess + gi * B;
                    int b = B - 1;
                    for (int j = 0; j < B; j++)
                        if (w[j] > 0 && u < (cum += w[j])) {
                            b = j;
                            break;
                        }
                    while (b > 0 && !(w[b] > 0)) b--;
                    plan[k].hs_us[s] = hs_draw(b, &r);
                }
            }
        }
        if (pass) break;
        /* The targets, as shares: each port's bins; the class's excess over its ports' for the rest. */
        for (size_t cs = 0; cs < n_groups / SLOTS; cs++) {
            double n[SLOTS] = {0}, n_all = 0, rest[B], sum = 0;
            for (size_t p = 0; p < SLOTS; p++) {
                const uint32_t *q = gen + (cs * SLOTS + p) * B;
                for (int b = 0; b < B; b++) n[p] += q[b];
                n_all += n[p];
                if (!p || !n[p]) continue;
                const uint16_t *h = bins[cs * SLOTS + p];
                double real = 0, *t = want + (cs * SLOTS + p) * B;
                for (int b = 0; b < B; b++) real += h[b];
                for (int b = 0; b < B; b++) t[b] = h[b] / real;
            }
            if (n[0]) {
                const uint16_t *h = bins[cs * SLOTS];
                double real = 0, *t = want + cs * SLOTS * B;
                for (int b = 0; b < B; b++) real += h[b];
                for (int b = 0; b < B; b++) {
                    rest[b] = n_all * h[b] / real;
                    for (size_t p = 1; p < SLOTS; p++) rest[b] -= n[p] * want[(cs * SLOTS + p) * B + (size_t)b];
                    rest[b] = fmax(0, rest[b]), sum += rest[b];
                }
                for (int b = 0; b < B; b++) t[b] = sum > 0 ? rest[b] / sum : h[b] / real;
            }
            /* What each bin keeps, and the excess the others are drawn from (a distribution). */
            for (size_t p = 0; p < SLOTS; p++) {
                size_t gi = cs * SLOTS + p;
                if (!n[p]) continue;
                const uint32_t *q = gen + gi * B;
                const double *t = want + gi * B;
                double *x = keep + gi * B, *w = excess + gi * B, w_sum = 0;
                for (int b = 0; b < B; b++) {
                    x[b] = q[b] ? fmin(1, t[b] * n[p] / q[b]) : 0;
                    n_redraw[gi] += q[b] - floor(q[b] * x[b]);
                    w[b] = fmax(0, t[b] - q[b] / n[p]), w_sum += w[b];
                }
                for (int b = 0; b < B; b++) w[b] = w_sum > 0 ? w[b] / w_sum : t[b];
            }
        }
    }
out:
    free(gen), free(seen), free(redrawn), free(want), free(keep), free(excess), free(n_redraw), free(bins);
    return rc;
}

/* ---- turns ---------------------------------------------------------------------------------- */

/* The first row whose gap is a turn or a same-side gap: after the handshake
 * where the rows have one (a SYN anywhere, as repair decides: the client's
 * leading SYNs, *syns of them (at least 1), the answer and the ACK), else
 * row 1. */
uint32_t tm_turns_from(const int8_t *rows, const uint8_t *dir, uint32_t n, uint32_t *syns)
{
    int handshake = 0, leading = 1;
    *syns = 0;
    for (uint32_t j = 0; j < n; j++) {
        unsigned f = tm_flags_as_repair_reads(rows + (size_t)j * NS_NP_MODEL_WIDTH);
        int syn = !!(f & FL_SYN), ack = !!(f & FL_ACK);
        handshake |= syn;
        if (leading && syn && !ack && !dir[j]) ++*syns;
        else leading = 0;
    }
    if (!*syns) *syns = 1;
    return handshake ? *syns + 2 : 1;
}

static int has_turns(const ns_tmodel_class *c, int s) { return c->turn_n[s] >= TURN_MIN; }

/* The entry of server port `port` in class c's turn ports with TURN_PORT_MIN gaps of kind s, or -1. */
static int turn_port_of(const ns_tmodel_class *c, int s, uint16_t port)
{
    for (int p = 0; p < NS_TM_TURN_PORTS && (uint64_t)c->turn_port_n[p][0] + c->turn_port_n[p][1]; p++)
        if (c->turn_port[p] == port) return c->turn_port_n[p][s] >= TURN_PORT_MIN ? p : -1;
    return -1;
}

/* Each flow's quantile maps of turn and same-side gaps (plan[k].turn_map):
 * per class (the first of the capture's chain with TURN_MIN of that kind,
 * as below), the quantiles of those gaps of its flows in every capture of
 * the plan (their first NS_TM_TURN_ROWS rows of what the planner sees, as
 * learned) onto the class's; a flow to a server port the class keeps gaps
 * of (turn_port, TURN_PORT_MIN of them) maps through that port's gaps
 * when the plan's flows of the class to that port made TURN_MIN, as an
 * IoT device's DNS, cloud and hub answer in their own times and the
 * model's mix of them is not the real one. Flows to a group go one way
 * (repair sends a later row the other way the client's way), so every gap
 * of theirs is a same-side one: an IoT camera's SSDP bursts and mDNS
 * repeats kept the rows' gaps until session 11, a third of its gaps. */
int tm_plan_turns(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                  const tm_flow_info *info, const ns_repair_opts *ro, ns_repair_plan *plan)
{
    enum { Q = NS_REPAIR_TURN_Q, P = NS_TM_TURN_PORTS };
    size_t rows = 0, n = 0;
    for (size_t i = 0; i < n_caps; i++) rows += caps[i].n * NS_TM_TURN_ROWS;
    int32_t *cls = malloc((2 * n_caps + 1) * sizeof *cls);
    /* (class, kind, 0 or 1 + the port's entry) << 16 | turn code, sorted: each gap counts for its class,
     * and for its port where it has one */
    uint64_t *v = malloc((2 * rows + 1) * sizeof *v);
    uint16_t *knots = calloc((size_t)tm->n_classes * 2 * (P + 1) * Q + 1, sizeof *knots);
    if (!cls || !v || !knots) {
        free(cls), free(v), free(knots);
        return ns_error(NS_ENOMEM, "out of memory planning the turns of %zu captures", n_caps);
    }
#define TURN_KEY(c, s, p) (((uint64_t)(c) * 2 + (uint64_t)(s)) * (P + 1) + (uint64_t)((p) + 1))
    for (size_t i = 0; i < n_caps; i++) {
        tm_chain ch;
        tm_chain_of(tm, caps[i].key, &ch);
        /* A coarser class only for a kind the capture's own shows in a quarter of its gaps or more (a
         * small class's answers: the lab's ntp classes have 4 to 8 flows); a kind it shows less is the
         * model's mistake there, and a coarser class's gaps of that kind are another class's (the lab's
         * 10 ms ping has no same-side gaps, its 200 ms ping many: requests and answers cross). Never
         * the empty key's but for a capture of that key: it pools every service. */
        const ns_tmodel_class *own = ch.n ? ch.c[0] : NULL;
        for (int s = 0; s < 2; s++) {
            const ns_tmodel_class *c = tm_pick(&ch, has_turns, s);
            if (c && c != own && (!own || 4.0 * own->turn_n[s] < (double)own->turn_n[0] + own->turn_n[1]))
                c = NULL;
            cls[2 * i + (size_t)s] = c && (*c->key || !*caps[i].key) ? (int32_t)(c - tm->classes) : -1;
        }
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            const int8_t *r = g->rows + g->first[k] * NS_NP_MODEL_WIDTH;
            const uint8_t *dir = g->dir + g->first[k];
            uint32_t len = tm_planned_rows(g, ro, k), syns;
            if (len > NS_TM_TURN_ROWS) len = NS_TM_TURN_ROWS;
            for (uint32_t j = tm_turns_from(r, dir, len, &syns); j < len; j++) {
                int s = plan[k].group || !dir[j] == !dir[j - 1]; /* repair sends a group flow's rows one way */
                int32_t c = cls[2 * i + (size_t)s];
                if (c < 0) continue;
                uint16_t code = ns_repair_turn_code(g->iat_ns[g->first[k] + j]);
                v[n++] = TURN_KEY(c, s, -1) << 16 | code;
                int p = turn_port_of(&tm->classes[c], s, info[k].sport);
                if (p >= 0) v[n++] = TURN_KEY(c, s, p) << 16 | code;
            }
        }
    }
    qsort(v, n, sizeof *v, tm_cmp_u64);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a; b < n && v[b] >> 16 == v[a] >> 16; b++) {}
        if (b - a < TURN_MIN) continue;   /* too few to say where a gap lies among them */
        uint16_t *kn = knots + (size_t)(v[a] >> 16) * Q;
        tm_quantiles_of(v + a, b - a, kn);
        if (!kn[Q - 1]) kn[Q - 1] = 1;   /* a map is one whose top knot is set (repair.h) */
    }
    for (size_t i = 0; i < n_caps; i++)
        for (int s = 0; s < 2; s++) {
            int32_t c = cls[2 * i + (size_t)s];
            if (c < 0) continue;
            const ns_tmodel_class *tc = &tm->classes[c];
            for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
                if (plan[k].group && !s) continue;
                int p = turn_port_of(tc, s, info[k].sport);
                const uint16_t *kn = p >= 0 ? knots + TURN_KEY(c, s, p) * Q : NULL;
                if (!kn || !kn[Q - 1]) p = -1, kn = knots + TURN_KEY(c, s, -1) * Q;
                if (!kn[Q - 1]) continue;
                memcpy(plan[k].turn_map[s][0], kn, sizeof plan[k].turn_map[s][0]);
                memcpy(plan[k].turn_map[s][1], p >= 0 ? tc->turn_port_q[p][s] : tc->turn_q[s],
                       sizeof plan[k].turn_map[s][1]);
            }
        }
#undef TURN_KEY
    free(cls), free(v), free(knots);
    return NS_OK;
}

static int has_tail_bin(const ns_tmodel_class *c, int b) { return c->tail_n[b] > 0; }

static int tm_cmp_u64x3(const void *x, const void *y)
{
    const uint64_t *a = x, *b = y;
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* Each long flow's tail_scale (repair.h; into info[k], which the plan copies): per class (the first of the capture's chain with spans in the
 * flow's length bin, tmodel.h tail_q) and bin, the plan's flows of the bin ranked by how long their rows run
 * past the first NS_TM_TURN_ROWS (their own gaps there), and the flow at rank r of m given the class's span
 * at quantile (r + 1/2) / m: counted, not drawn, so that the bin's spans come out the class's while the
 * flows the model made slower stay the slower. A flow whose rows the planner does not see whole (the
 * streaming writer's first window) keeps its gaps. Where the model learned no gap past its window (a dataset
 * cut at 16 packets, `make demo`'s) its rows there ran 0.4 to 2.5 times as long as the lab's (iperf: a test
 * of 1 s at every RTT), and the NetFlow forest read the RTT classes from those durations. */
int tm_plan_tails(const ns_tmodel *tm, const ns_gen_flows *g, const ns_tmodel_capture *caps, size_t n_caps,
                  const ns_repair_opts *ro, tm_flow_info *info)
{
    enum { W = NS_TM_TURN_ROWS };
    size_t n = 0;
    for (size_t i = 0; i < n_caps; i++) n += caps[i].n;
    /* per flow: {(class, bin) key, tail in us, flow}, sorted */
    uint64_t(*v)[3] = malloc((n + 1) * sizeof *v);
    if (!v) return ns_error(NS_ENOMEM, "out of memory planning the spans of %zu flows", n);
    size_t m = 0;
    for (size_t i = 0; i < n_caps; i++) {
        tm_chain ch;
        tm_chain_of(tm, caps[i].key, &ch);
        for (size_t k = caps[i].first; k < caps[i].first + caps[i].n; k++) {
            uint32_t len = g->len[k];
            if (len <= W || tm_planned_rows(g, ro, k) < W || !g->iat_ns) continue;
            int b = tm_length_bin(len);
            const ns_tmodel_class *c = b < NS_TM_FLEN_BINS ? tm_pick(&ch, has_tail_bin, b) : NULL;
            if (!c || (!*c->key && *caps[i].key)) continue;   /* the empty key's pools every class */
            int64_t tail = 0;
            for (uint32_t r = W; r < len; r++) tail += g->iat_ns[g->first[k] + r] > 0 ? g->iat_ns[g->first[k] + r] : 0;
            v[m][0] = (uint64_t)(c - tm->classes) * NS_TM_FLEN_BINS + (uint64_t)b;
            v[m][1] = (uint64_t)tail, v[m][2] = k, m++;
        }
    }
    qsort(v, m, sizeof *v, tm_cmp_u64x3);
    for (size_t a = 0, e; a < m; a = e) {
        for (e = a; e < m && v[e][0] == v[a][0]; e++) {}
        const ns_tmodel_class *c = &tm->classes[v[a][0] / NS_TM_FLEN_BINS];
        const uint32_t *q = c->tail_q[v[a][0] % NS_TM_FLEN_BINS];
        for (size_t j = a; j < e; j++) {
            double us = tm_knots_at(q, ((double)(j - a) + 0.5) / (double)(e - a));
            if (v[j][1] > 0) info[v[j][2]].tail_scale = (float)(us * 1e3 / (double)v[j][1]);
        }
    }
    free(v);
    return NS_OK;
}
