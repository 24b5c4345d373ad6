/* gen_plan.c: plans of what to generate per class, and generating them (see gen_plan.h). */
#include "netsynth/gen_plan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/repair.h"

/* A value as a file name: letters, digits, '-', '.', '+'; the rest '_'. */
static void file_name_of(char *dst, size_t size, const char *value)
{
    size_t k = 0;
    for (const char *p = value; *p && k + 1 < size; p++)
        dst[k++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                                  *p == '-' || *p == '.' || *p == '+'
                              ? *p
                              : '_');
    dst[k] = 0;
    if (!k || dst[0] == '.') snprintf(dst, size, "_%s", value[0] ? "" : "none");
}

void ns_gen_plan_free(ns_gen_plan *p)
{
    for (size_t i = 0; p->req && i < p->n; i++)
        free(p->req[i].ids), free(p->req[i].labels), free(p->req[i].caps), free(p->req[i].svc), free(p->req[i].span_ns),
            free(p->req[i].end_ns);
    free(p->req);
    memset(p, 0, sizeof *p);
}

void ns_gen_plan_one_capture(ns_gen_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->req[i].caps), free(p->req[i].span_ns), free(p->req[i].end_ns);
        p->req[i].caps = NULL, p->req[i].span_ns = NULL, p->req[i].end_ns = NULL, p->req[i].n_caps = 0;
    }
}

/* A flow of ds in a like plan: its request, capture, start, last packet kept and service. */
typedef struct like_flow {
    uint32_t combo, file, svc;
    int64_t start_ns, end_ns;
    uint64_t flow;
} like_flow;

static int by_combo_file_start(const void *x, const void *y)
{
    const like_flow *a = x, *b = y;
    if (a->combo != b->combo) return a->combo < b->combo ? -1 : 1;
    if (a->file != b->file) return a->file < b->file ? -1 : 1;
    if (a->start_ns != b->start_ns) return a->start_ns < b->start_ns ? -1 : 1;
    return a->flow < b->flow ? -1 : a->flow > b->flow;
}

/* Request c's captures: its combination's flows in each file of ds that has
 * some, in file order (combo: the combinations as ns_dataset_combos gave them),
 * and the span of their starts; and the services of those flows, capture by
 * capture in start order. */
static int like_captures(ns_gen_plan *p, const ns_dataset *ds, const int32_t *combo, uint32_t n_combos)
{
    size_t DA = ds->n_attrs, F = ds->n_files ? ds->n_files : 1;
    if (!ds->flows) return NS_OK; /* labels without flows (made by hand): one capture each */
    uint32_t *count = calloc((size_t)n_combos * F + 1, sizeof *count);
    like_flow *lf = malloc((ds->n_flows + 1) * sizeof *lf);
    if (!count || !lf) {
        free(count), free(lf);
        return ns_error(NS_ENOMEM, "out of memory for a generation plan");
    }
    size_t n_lf = 0;
    for (uint64_t f = 0; f < ds->n_flows; f++) {
        uint32_t c = 0;
        while (c < n_combos && memcmp(combo + (size_t)c * DA, ds->labels + f * DA, DA * sizeof *combo)) c++;
        if (c < n_combos && ds->flows[f].file < F) count[(size_t)c * F + ds->flows[f].file]++;
        const ns_ds_flow *d = &ds->flows[f];
        int64_t end = d->start_ns;
        for (uint32_t r = 1; ds->iat_ns && r < d->n_packets; r++) end += ds->iat_ns[d->first + r];
        if (d->seen > d->n_packets || !ds->iat_ns) end = INT64_MIN; /* cut at --packets: its end unknown */
        if (c < n_combos)
            lf[n_lf++] = (like_flow){c, d->file, NS_GEN_SVC(d->proto, d->server_port), d->start_ns, end, f};
    }
    qsort(lf, n_lf, sizeof *lf, by_combo_file_start);
    int rc = NS_OK;
    for (uint32_t c = 0, at = 0; c < n_combos && c < p->n && !rc; c++) {
        ns_gen_request *q = &p->req[c];
        if (!(q->caps = malloc(F * sizeof *q->caps)) || !(q->svc = malloc((q->n + 1) * sizeof *q->svc)) ||
            !(q->span_ns = calloc(F, sizeof *q->span_ns)) || !(q->end_ns = calloc(F, sizeof *q->end_ns)))
            rc = ns_error(NS_ENOMEM, "out of memory for a generation plan");
        for (size_t file = 0; !rc && file < F; file++)
            if (count[(size_t)c * F + file]) q->caps[q->n_caps++] = count[(size_t)c * F + file];
        size_t cap = SIZE_MAX;
        uint32_t file = UINT32_MAX;
        int64_t first = 0;
        for (size_t i = 0; !rc && i < q->n; i++) {
            if (!(at < n_lf && lf[at].combo == c)) {
                q->svc[i] = 0;
                continue;
            }
            /* Captures come in file order, as their flows here. */
            if (lf[at].file != file) file = lf[at].file, first = lf[at].start_ns, cap++;
            if (cap < q->n_caps && lf[at].start_ns > first) q->span_ns[cap] = lf[at].start_ns - first;
            /* a capture with a flow cut short has no end to keep (-1 until the loop's end, then 0) */
            if (cap < q->n_caps && q->end_ns[cap] >= 0)
                q->end_ns[cap] = lf[at].end_ns == INT64_MIN ? -1
                                 : lf[at].end_ns - first > q->end_ns[cap] ? lf[at].end_ns - first : q->end_ns[cap];
            q->svc[i] = lf[at++].svc;
        }
        for (size_t k = 0; !rc && k < q->n_caps; k++)
            if (q->end_ns[k] < 0) q->end_ns[k] = 0;
    }
    free(count), free(lf);
    return rc;
}

size_t ns_gen_plan_flows(const ns_gen_plan *p)
{
    size_t n = 0;
    for (size_t k = 0; k < p->n; k++) n += p->req[k].n;
    return n;
}

/* The next request of p (room for it allocated by the caller), with its
 * prompt unset. */
static int add_request(ns_gen_plan *p, size_t n)
{
    ns_gen_request *q = &p->req[p->n];
    size_t A = p->n_attrs ? p->n_attrs : 1;
    q->ids = malloc(A * sizeof *q->ids);
    q->labels = malloc(A * sizeof *q->labels);
    if (!q->ids || !q->labels) {
        free(q->ids), free(q->labels);
        q->ids = q->labels = NULL;
        return ns_error(NS_ENOMEM, "out of memory for a generation plan");
    }
    for (uint32_t a = 0; a < p->n_attrs; a++) q->ids[a] = q->labels[a] = -1;
    q->n = n;
    p->n++;
    return NS_OK;
}

void ns_gen_implied_labels(const ns_modelfile *m, const int32_t *ids, int32_t *labels)
{
    uint32_t A = m->n_attrs;
    for (uint32_t b = 0; b < A; b++) {
        labels[b] = ids[b];
        if (ids[b] >= 0) continue;
        int32_t seen = -2; /* none yet; -1: more than one value */
        for (uint32_t c = 0; c < m->n_combos; c++) {
            const int32_t *combo = m->combo_ids + (size_t)c * A;
            uint32_t a = 0;
            while (a < A && (ids[a] < 0 || combo[a] == ids[a])) a++;
            if (a < A) continue;
            seen = seen == -2 || seen == combo[b] ? combo[b] : -1;
        }
        if (seen >= 0) labels[b] = seen;
    }
}

int ns_gen_plan_per_class(ns_gen_plan *p, const ns_modelfile *m, const char *label, size_t n)
{
    memset(p, 0, sizeof *p);
    p->n_attrs = m->n_attrs;
    int a = 0;
    if (label) {
        for (a = 0; a < (int)m->n_attrs && strcmp(m->attr_names[a], label); a++) {}
        if (a == (int)m->n_attrs) return ns_error(NS_EARG, "--label %s: the model has no such attribute", label);
    }
    if (!m->n_attrs) return ns_error(NS_EARG, "the model was trained without labels: use --prompt and -n");
    uint32_t lo = m->attr_first[a], hi = m->attr_first[a + 1];
    p->req = calloc(hi - lo + 1, sizeof *p->req);
    if (!p->req) return ns_error(NS_ENOMEM, "out of memory for a generation plan");
    int rc = NS_OK;
    for (uint32_t id = lo; !rc && id < hi; id++) {
        if (!ns_modelfile_token_trained(m, (int32_t)id)) continue; /* left out of training: no class to ask for */
        if ((rc = add_request(p, n))) break;
        ns_gen_request *q = &p->req[p->n - 1];
        q->ids[a] = (int32_t)id;
        ns_gen_implied_labels(m, q->ids, q->labels);
        file_name_of(q->name, sizeof q->name, ns_modelfile_token_value(m, (int32_t)id));
    }
    if (rc) ns_gen_plan_free(p);
    return rc;
}

int ns_gen_plan_like(ns_gen_plan *p, const ns_modelfile *m, const ns_dataset *ds, const char *name)
{
    memset(p, 0, sizeof *p);
    p->n_attrs = m->n_attrs;
    uint32_t A = m->n_attrs, DA = ds->n_attrs, n_combos = 0;
    int32_t *attr = malloc((DA + 1) * sizeof *attr), *tok = malloc(((size_t)ds->n_tokens + 1) * sizeof *tok);
    int32_t *combo = NULL;
    uint32_t *count = NULL;
    int rc = attr && tok ? ns_modelfile_map_vocab(m, ds, attr, tok)
                         : ns_error(NS_ENOMEM, "out of memory for a generation plan");
    if (rc) rc = ns_error_wrap(rc, "%s", name);
    /* The combinations in the dataset's own terms, as first seen: the first
     * with a label the model lacks is then that of the first such flow. */
    if (!rc) rc = ns_dataset_combos(ds, NULL, NULL, DA, &combo, &count, &n_combos);
    if (!rc && !(p->req = calloc((size_t)n_combos + 1, sizeof *p->req)))
        rc = ns_error(NS_ENOMEM, "out of memory for a generation plan");
    for (uint32_t c = 0; !rc && c < n_combos; c++) {
        if ((rc = add_request(p, count[c]))) break;
        ns_gen_request *q = &p->req[p->n - 1];
        for (uint32_t a = 0; !rc && a < DA; a++) {
            int32_t t = combo[(size_t)c * DA + a];
            if (t < 0) continue;
            if (tok[t] < 0)
                rc = ns_error(NS_EMISMATCH, "%s: label '%s' is not in the model's vocabulary", name, ds->tokens[t]);
            else if (ns_gen_require_trained(m, tok[t]))
                rc = ns_error_wrap(NS_EMISMATCH, "%s", name);
            else
                q->ids[attr[a]] = q->labels[attr[a]] = tok[t];
        }
        size_t at = 0;
        for (uint32_t b = 0; !rc && b < A; b++) {
            char part[128];
            file_name_of(part, sizeof part, q->ids[b] >= 0 ? ns_modelfile_token_value(m, q->ids[b]) : "none");
            at += (size_t)snprintf(q->name + at, at < sizeof q->name ? sizeof q->name - at : 0, "%s%s", b ? "_" : "",
                                   part);
            if (at >= sizeof q->name) at = sizeof q->name - 1;
        }
    }
    if (!rc) rc = like_captures(p, ds, combo, n_combos);
    free(attr), free(tok), free(combo), free(count);
    if (rc) ns_gen_plan_free(p);
    return rc;
}

int ns_gen_flow_svc(const ns_gen_flows *g, size_t i, uint32_t *svc)
{
    uint8_t proto;
    uint16_t port;
    int rc = ns_repair_flow_service(g->rows + g->first[i] * NS_NP_MODEL_WIDTH, g->dir + g->first[i], g->len[i], &proto,
                                    &port);
    *svc = rc ? 0 : NS_GEN_SVC(proto, port);
    return rc;
}

/* Append flow i of src to dst. */
static int append_flow(ns_gen_flows *dst, const ns_gen_flows *src, size_t i)
{
    size_t A = src->n_attrs ? src->n_attrs : 1, n = src->len[i];
    dst->n_attrs = src->n_attrs;
    int rc = ns_gen_flows_reserve(dst, 1, n);
    if (rc) return rc;
    size_t f = dst->n_flows++, r0 = dst->n_rows, s0 = src->first[i];
    dst->len[f] = (uint32_t)n, dst->first[f] = r0;
    memcpy(dst->labels + f * A, src->labels + i * A, A * sizeof *dst->labels);
    memcpy(dst->rows + r0 * NS_NP_MODEL_WIDTH, src->rows + s0 * NS_NP_MODEL_WIDTH, n * NS_NP_MODEL_WIDTH);
    memcpy(dst->dir + r0, src->dir + s0, n);
    memcpy(dst->iat_ns + r0, src->iat_ns + s0, n * sizeof *dst->iat_ns);
    dst->n_rows += n;
    return NS_OK;
}

/* The candidates of one request while services are matched. */
typedef struct svc_pool {
    size_t *cand;      /* candidate flows of the request, in order of generation */
    size_t n, cap;
    uint8_t *taken;    /* [n] */
} svc_pool;

static int pool_add(svc_pool *q, size_t flow)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        size_t *c = realloc(q->cand, cap * sizeof *c);
        if (c) q->cand = c;
        uint8_t *t = realloc(q->taken, cap);
        if (t) q->taken = t;
        if (!c || !t) return ns_error(NS_ENOMEM, "out of memory matching services");
        q->cap = cap;
    }
    q->taken[q->n] = 0, q->cand[q->n++] = flow;
    return NS_OK;
}

/* Every request's flows, picked by service (gen_plan.h) from candidates. */
static int generate_matched(const ns_modelfile *m, const ns_gen_opts *o, const ns_gen_plan *p, uint64_t stream0,
                            size_t total, const int32_t *ids, ns_gen_flows *out)
{
    size_t A = m->n_attrs ? m->n_attrs : 1;
    ns_gen_flows cand = {0};
    svc_pool *pool = calloc(p->n + 1, sizeof *pool);
    uint32_t *have = malloc((total + 1) * sizeof *have); /* the service of each candidate */
    size_t *pick = malloc((total + 1) * sizeof *pick), *slot0 = malloc((p->n + 1) * sizeof *slot0);
    int32_t *more = NULL;
    int rc = pool && have && pick && slot0 ? NS_OK : ns_error(NS_ENOMEM, "out of memory matching services");
    for (size_t k = 0, at = 0; !rc && k < p->n; at += p->req[k++].n) slot0[k] = at;
    for (size_t s = 0; s < total && pick; s++) pick[s] = SIZE_MAX;
    if (!rc) rc = ns_generate_many(m, o, ids, total, stream0, &cand);
    for (size_t k = 0, f = 0; !rc && k < p->n; k++)
        for (size_t i = 0; !rc && i < p->req[k].n; i++) rc = pool_add(&pool[k], f++);
    ns_gen_opts quiet = *o;
    quiet.progress = NULL, quiet.progress_ctx = NULL; /* the CLI's line counts the first round */
    size_t n_have = 0, next_stream = total;
    for (int round = 0; !rc; round++) {
        /* The services of the new candidates, then each short slot's first match. */
        if (cand.n_flows > n_have) {
            uint32_t *h = realloc(have, cand.n_flows * sizeof *h);
            if (!h) {
                rc = ns_error(NS_ENOMEM, "out of memory matching services");
                break;
            }
            have = h;
        }
        for (; !rc && n_have < cand.n_flows; n_have++) rc = ns_gen_flow_svc(&cand, n_have, &have[n_have]);
        size_t short_total = 0;
        for (size_t k = 0; !rc && k < p->n; k++) {
            const ns_gen_request *q = &p->req[k];
            if (!q->svc) continue;
            for (size_t i = 0; i < q->n; i++) {
                if (pick[slot0[k] + i] != SIZE_MAX) continue;
                for (size_t j = 0; j < pool[k].n; j++)
                    if (!pool[k].taken[j] && have[pool[k].cand[j]] == q->svc[i]) {
                        pool[k].taken[j] = 1, pick[slot0[k] + i] = pool[k].cand[j];
                        break;
                    }
                short_total += pick[slot0[k] + i] == SIZE_MAX;
            }
        }
        /* A service the model seldom gives a prompt needs many draws: round r
         * draws 2^(r+1) flows for each short one, all rounds together at most
         * NS_GEN_SVC_ROUNDS times the plan's flows. */
        size_t mult = (size_t)2 << round;
        if (rc || !short_total || round == NS_GEN_SVC_ROUNDS ||
            next_stream + mult * short_total > (NS_GEN_SVC_ROUNDS + 1) * total)
            break;
        free(more);
        if (!(more = malloc(mult * short_total * A * sizeof *more))) {
            rc = ns_error(NS_ENOMEM, "out of memory for %zu prompts", mult * short_total);
            break;
        }
        size_t n_more = 0, base = cand.n_flows;
        for (size_t k = 0; !rc && k < p->n; k++) {
            size_t s = 0;
            for (size_t i = 0; p->req[k].svc && i < p->req[k].n; i++) s += pick[slot0[k] + i] == SIZE_MAX;
            for (size_t i = 0; i < mult * s; i++, n_more++) {
                memcpy(more + n_more * A, p->req[k].ids, m->n_attrs * sizeof *more);
                if ((rc = pool_add(&pool[k], base + n_more))) break;
            }
        }
        if (!rc) rc = ns_generate_many(m, &quiet, more, n_more, stream0 + next_stream, &cand);
        next_stream += n_more;
    }
    /* Slots no round matched: the request's flows left over, in order. */
    for (size_t k = 0; !rc && k < p->n; k++)
        for (size_t i = 0, j = 0; i < p->req[k].n; i++) {
            if (pick[slot0[k] + i] != SIZE_MAX) continue;
            while (pool[k].taken[j]) j++;
            pool[k].taken[j] = 1, pick[slot0[k] + i] = pool[k].cand[j];
        }
    for (size_t s = 0; !rc && s < total; s++) rc = append_flow(out, &cand, pick[s]);
    for (size_t k = 0; pool && k < p->n; k++) free(pool[k].cand), free(pool[k].taken);
    free(pool), free(have), free(pick), free(slot0), free(more);
    ns_gen_flows_free(&cand);
    return rc;
}

int ns_generate_plan(const ns_modelfile *m, const ns_gen_opts *o, const ns_gen_plan *p, uint64_t stream0,
                     ns_gen_flows *out)
{
    size_t total = ns_gen_plan_flows(p), A = m->n_attrs ? m->n_attrs : 1, f0 = out->n_flows;
    int32_t *ids = malloc(total * A * sizeof *ids + 1);
    if (!ids) return ns_error(NS_ENOMEM, "out of memory for %zu prompts", total);
    int matched = 0;
    for (size_t k = 0, at = 0; k < p->n; k++) {
        matched |= p->req[k].svc != NULL;
        for (size_t f = 0; f < p->req[k].n; f++, at++) memcpy(ids + at * A, p->req[k].ids, m->n_attrs * sizeof *ids);
    }
    int rc = matched ? generate_matched(m, o, p, stream0, total, ids, out)
                     : ns_generate_many(m, o, ids, total, stream0, out);
    free(ids);
    for (size_t k = 0, f = f0; !rc && k < p->n; k++)
        for (size_t i = 0; i < p->req[k].n; i++, f++)
            memcpy(out->labels + f * m->n_attrs, p->req[k].labels, m->n_attrs * sizeof(int32_t));
    return rc;
}
