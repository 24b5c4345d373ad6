/* gen_plan.c: plans of what to generate per class, and generating them (see gen_plan.h). */
#include "netsynth/gen_plan.h"

#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"

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
    for (size_t i = 0; p->req && i < p->n; i++) free(p->req[i].ids), free(p->req[i].labels), free(p->req[i].caps);
    free(p->req);
    memset(p, 0, sizeof *p);
}

void ns_gen_plan_one_capture(ns_gen_plan *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->req[i].caps), p->req[i].caps = NULL, p->req[i].n_caps = 0;
}

/* Request c's captures: its combination's flows in each file of ds that has
 * some, in file order (combo: the combinations as ns_dataset_combos gave them). */
static int like_captures(ns_gen_plan *p, const ns_dataset *ds, const int32_t *combo, uint32_t n_combos)
{
    size_t DA = ds->n_attrs, F = ds->n_files ? ds->n_files : 1;
    if (!ds->flows) return NS_OK; /* labels without flows (made by hand): one capture each */
    uint32_t *count = calloc((size_t)n_combos * F + 1, sizeof *count);
    if (!count) return ns_error(NS_ENOMEM, "out of memory for a generation plan");
    for (uint64_t f = 0; f < ds->n_flows; f++) {
        uint32_t c = 0;
        while (c < n_combos && memcmp(combo + (size_t)c * DA, ds->labels + f * DA, DA * sizeof *combo)) c++;
        if (c < n_combos && ds->flows[f].file < F) count[(size_t)c * F + ds->flows[f].file]++;
    }
    int rc = NS_OK;
    for (uint32_t c = 0; c < n_combos && c < p->n && !rc; c++) {
        ns_gen_request *q = &p->req[c];
        if (!(q->caps = malloc(F * sizeof *q->caps))) rc = ns_error(NS_ENOMEM, "out of memory for a generation plan");
        for (size_t file = 0; !rc && file < F; file++)
            if (count[(size_t)c * F + file]) q->caps[q->n_caps++] = count[(size_t)c * F + file];
    }
    free(count);
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

int ns_generate_plan(const ns_modelfile *m, const ns_gen_opts *o, const ns_gen_plan *p, uint64_t stream0,
                     ns_gen_flows *out)
{
    size_t total = ns_gen_plan_flows(p), A = m->n_attrs ? m->n_attrs : 1, f0 = out->n_flows;
    int32_t *ids = malloc(total * A * sizeof *ids + 1);
    if (!ids) return ns_error(NS_ENOMEM, "out of memory for %zu prompts", total);
    for (size_t k = 0, at = 0; k < p->n; k++)
        for (size_t f = 0; f < p->req[k].n; f++, at++) memcpy(ids + at * A, p->req[k].ids, m->n_attrs * sizeof *ids);
    int rc = ns_generate_many(m, o, ids, total, stream0, out);
    free(ids);
    for (size_t k = 0, f = f0; !rc && k < p->n; k++)
        for (size_t i = 0; i < p->req[k].n; i++, f++)
            memcpy(out->labels + f * m->n_attrs, p->req[k].labels, m->n_attrs * sizeof(int32_t));
    return rc;
}
