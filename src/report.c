/* report.c: the fidelity report: gathering, table, JSON, HTML. */
#include "netsynth/report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/image.h"
#include "netsynth/modelfile.h"
#include "netsynth/nprint.h"

#include "html.h"

/* ---- compliance -------------------------------------------------------------------- */

/* Append s to the command in single quotes. */
static int quote_into(char **cmd, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + 4 * strlen(s) + 4;
    if (need > *cap) {
        size_t c = need * 2;
        char *n = realloc(*cmd, c);
        if (!n) return 0;
        *cmd = n, *cap = c;
    }
    (*cmd)[(*len)++] = ' ';
    size_t q = ns_shell_quote(*cmd + *len, *cap - *len, s);
    *len += q;
    return q != 0;
}

/* Add n packets of one expert message (a line of an Errors or Warns
 * section: "  FREQUENCY  GROUP  PROTOCOL  SUMMARY") to its kind. Groups are
 * one word but for tshark's "Response code" and "Request code"; protocols
 * are one word; the summary loses what belongs to one packet: a bracketed
 * tail ("[should be 0xdc32]"), and each number becomes N ("in frame N",
 * "(N.N.N.N)"), so that one kind is one line. */
static void add_kind(ns_compliance *c, const char *severity, unsigned long long n, const char *rest)
{
    char group[24] = "", proto[24] = "", summary[96];
    rest += strspn(rest, " ");
    size_t len = !strncmp(rest, "Response code", 13) ? 13
                 : !strncmp(rest, "Request code", 12)  ? 12
                                                       : strcspn(rest, " ");
    snprintf(group, sizeof group, "%.*s", (int)len, rest);
    rest += len;
    rest += strspn(rest, " ");
    len = strcspn(rest, " ");
    snprintf(proto, sizeof proto, "%.*s", (int)len, rest);
    rest += len;
    rest += strspn(rest, " ");
    len = strcspn(rest, "\r\n");
    const char *cut = strstr(rest, " [");
    if (cut && (size_t)(cut - rest) < len) len = (size_t)(cut - rest);
    while (len && rest[len - 1] == ' ') len--;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < sizeof summary;) {
        if (isdigit((unsigned char)rest[i])) {
            int hex = rest[i] == '0' && i + 2 < len && (rest[i + 1] == 'x' || rest[i + 1] == 'X') &&
                      isxdigit((unsigned char)rest[i + 2]);
            if (hex) i += 2;
            while (i < len && (hex ? isxdigit((unsigned char)rest[i]) : isdigit((unsigned char)rest[i]))) i++;
            summary[o++] = 'N';
        } else {
            summary[o++] = rest[i++];
        }
    }
    summary[o] = '\0';
    for (size_t i = 0; i < c->n_kinds; i++) {
        ns_compliance_kind *k = &c->kinds[i];
        if (!strcmp(k->severity, severity) && !strcmp(k->group, group) && !strcmp(k->protocol, proto) &&
            !strcmp(k->summary, summary)) {
            k->count += n;
            return;
        }
    }
    if (c->n_kinds == NS_COMPLIANCE_KINDS) {
        c->other_kinds += n;
        return;
    }
    ns_compliance_kind *k = &c->kinds[c->n_kinds++];
    snprintf(k->severity, sizeof k->severity, "%s", severity);
    memcpy(k->group, group, sizeof group), memcpy(k->protocol, proto, sizeof proto);
    memcpy(k->summary, summary, sizeof summary);
    k->count = n;
}

/* One line of tshark's -z expert and -z io,stat output; *section is the
 * severity of the section being read (NULL: one not kept, or none yet). */
static void parse_tshark_line(ns_compliance *c, const char *line, const char **section)
{
    unsigned long long v;
    /* Section heads: "Errors (N)", "Warns (N)" (tshark 4; "Warnings" before), "Notes", "Chats", "Comments". */
    if (isalpha((unsigned char)line[0])) *section = NULL;
    if (!strncmp(line, "Errors (", 8) && sscanf(line + 8, "%llu", &v) == 1) c->errors = v, *section = "error";
    if (!strncmp(line, "Warns (", 7) && sscanf(line + 7, "%llu", &v) == 1) c->warnings = v, *section = "warning";
    if (!strncmp(line, "Warnings (", 10) && sscanf(line + 10, "%llu", &v) == 1) c->warnings = v, *section = "warning";
    char group[64];
    int used = 0;
    if (sscanf(line, " %llu %63s%n", &v, group, &used) == 2) {
        if (!strcmp(group, "Malformed")) c->malformed += v;
        else if (!strcmp(group, "Checksum")) c->bad_checksums += v;
        if (*section) {
            int at = 0;
            sscanf(line, " %*u%n", &at);
            add_kind(c, *section, v, line + at);
        }
    }
    const char *io = strstr(line, "<>");
    if (io && line[0] == '|' && (io = strchr(io, '|')) && sscanf(io + 1, " %llu", &v) == 1) c->packets += v;
}

static int cmp_kind(const void *pa, const void *pb)
{
    const ns_compliance_kind *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    int d = strcmp(a->severity, b->severity);
    return d ? d : strcmp(a->summary, b->summary);
}

int ns_compliance_tshark(ns_compliance *c, char *const *captures, size_t n, const char *name)
{
    memset(c, 0, sizeof *c);
    size_t len = 0, cap = 256;
    char *cmd = malloc(cap);
    if (!cmd) return ns_error(NS_ENOMEM, "%s: out of memory", name);
    len = (size_t)snprintf(cmd, cap, "mergecap -a -F pcap -w -");
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) ok = quote_into(&cmd, &len, &cap, captures[i]);
    const char *tail = " 2>/dev/null | tshark -r - -n -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE"
                       " -o udp.check_checksum:TRUE -z expert -z io,stat,0 -q 2>/dev/null";
    char *bigger = ok ? realloc(cmd, len + strlen(tail) + 1) : NULL;
    if (!bigger) {
        free(cmd);
        return ns_error(NS_ENOMEM, "%s: out of memory", name);
    }
    cmd = bigger;
    strcpy(cmd + len, tail);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return ns_error(NS_EIO, "%s: cannot run tshark: %s", name, strerror(errno));
    char line[4096];
    const char *section = NULL;
    while (fgets(line, sizeof line, p)) parse_tshark_line(c, line, &section);
    int st = pclose(p);
    qsort(c->kinds, c->n_kinds, sizeof *c->kinds, cmp_kind);
    if (st != 0 || !c->packets)
        return ns_error(NS_EIO, "%s: tshark over %zu captures failed (exit status %d, %llu packets read)", name, n,
                        st, (unsigned long long)c->packets);
    return NS_OK;
}

/* ---- gathering ------------------------------------------------------------------------ */

/* A side's flows with their classes of the first label level. */
static ns_dist_flows side_flows(const ns_eval_side *s)
{
    return (ns_dist_flows){s->ds, s->name, s->idx, s->n, s->cls ? s->cls[0] : NULL};
}

static int coverage(ns_report *r)
{
    size_t L = r->eval.n_levels;
    r->cov_real = calloc(L + 1, sizeof *r->cov_real);
    r->cov_synth = calloc(L + 1, sizeof *r->cov_synth);
    if (!r->cov_real || !r->cov_synth) return ns_error(NS_ENOMEM, "report: out of memory");
    for (size_t lv = 0; lv < L; lv++) {
        int k = r->eval.levels[lv].n_classes;
        r->cov_real[lv] = calloc((size_t)k, sizeof **r->cov_real);
        r->cov_synth[lv] = calloc((size_t)k, sizeof **r->cov_synth);
        if (!r->cov_real[lv] || !r->cov_synth[lv]) return ns_error(NS_ENOMEM, "report: out of memory");
        const ns_eval_side *tr = &r->sides[NS_EVAL_TRAIN], *sy = &r->sides[NS_EVAL_SYNTH];
        for (size_t i = 0; i < tr->n; i++)
            if (tr->cls[lv][i] >= 0) r->cov_real[lv][tr->cls[lv][i]]++;
        for (size_t i = 0; sy->ds && i < sy->n; i++)
            if (sy->cls[lv][i] >= 0) r->cov_synth[lv][sy->cls[lv][i]]++;
    }
    return NS_OK;
}

static void compliance(ns_report *r)
{
    const ns_report_inputs *in = &r->in;
    const char *why = NULL;
    if (!in->compliance) why = "not asked for";
    else if (!in->real_captures || !in->synth_captures) why = "needs capture tables on both sides (dataset files given)";
    else if (!ns_program_found("tshark") || !ns_program_found("mergecap")) why = "tshark or mergecap is not installed";
    if (why) {
        snprintf(r->compliance_note, sizeof r->compliance_note, "compliance skipped: %s", why);
        return;
    }
    double t0 = omp_get_wtime();
    int rc = ns_compliance_tshark(&r->comp_real, in->real_captures, in->n_real_captures, "real captures");
    if (!rc) rc = ns_compliance_tshark(&r->comp_synth, in->synth_captures, in->n_synth_captures, "synthetic captures");
    r->compliance_s = omp_get_wtime() - t0;
    if (rc) snprintf(r->compliance_note, sizeof r->compliance_note, "compliance skipped: %s", ns_errmsg());
    else r->has_compliance = 1;
}

static void applayer(ns_report *r, const ns_eval_opts *o)
{
    const ns_report_inputs *in = &r->in;
    const char *why = NULL;
    if (!in->applayer) why = "not asked for";
    else if (!in->trace_src[NS_EVAL_TEST].table || !in->trace_src[NS_EVAL_SYNTH].table)
        why = "needs the real test captures and the synthetic ones as tables (labels.tsv)";
    else if (!ns_program_found("ndpiReader") && !ns_program_found("tshark")) why = "neither ndpiReader nor tshark is installed";
    if (why) {
        snprintf(r->applayer_note, sizeof r->applayer_note, "application layer skipped: %s", why);
        return;
    }
    double t0 = omp_get_wtime();
    int rc = ns_applayer_run(&r->applayer, &in->trace_src[NS_EVAL_TEST], &in->trace_src[NS_EVAL_SYNTH], o->labels);
    r->applayer_s = omp_get_wtime() - t0;
    if (rc) snprintf(r->applayer_note, sizeof r->applayer_note, "application layer skipped: %s", ns_errmsg());
    else r->has_applayer = 1;
}

static int trace(ns_report *r, const ns_eval_opts *o)
{
    const ns_report_inputs *in = &r->in;
    if (!in->trace || !in->trace_src[NS_EVAL_TRAIN].table) {
        snprintf(r->trace_note, sizeof r->trace_note, "traces skipped: %s",
                 !in->trace ? "not asked for" : "needs a table of captures (labels.tsv) for the real side");
        return NS_OK;
    }
    ns_trace_opts to;
    ns_trace_opts_init(&to);
    to.window = o->packets;
    to.threads = o->threads;
    int rc = ns_trace_run(&r->trace, in->trace_src, o->labels, &to);
    r->has_trace = !rc;
    return rc;
}

int ns_report_run(ns_report *r, const ns_report_inputs *in, const ns_eval_opts *o)
{
    memset(r, 0, sizeof *r);
    r->in = *in;
    double t0 = omp_get_wtime();
    int rc = ns_eval(&r->eval, &in->eval, o);
    if (rc) return rc;
    r->eval_s = omp_get_wtime() - t0;
    if ((rc = ns_eval_sides(r->sides, &r->eval, &in->eval))) {
        ns_eval_report_free(&r->eval);
        return rc;
    }
    r->has_synth = in->eval.synth != NULL;
    rc = coverage(r);
    if (!rc && r->has_synth) {
        int k = r->eval.levels[0].n_classes;
        if (!(r->whole = calloc((size_t)k + 1, sizeof *r->whole))) rc = ns_error(NS_ENOMEM, "report: out of memory");
        else rc = ns_eval_whole_flows(r->whole, k, &r->sides[NS_EVAL_TRAIN], &r->sides[NS_EVAL_SYNTH]);
    }
    if (!rc && o->progress && in->trace && in->trace_src[NS_EVAL_TRAIN].table)
        o->progress(o->progress_ctx, "traces", 0, 1);
    if (!rc) rc = trace(r, o);
    if (!rc && r->has_synth) {
        ns_dist_flows real = side_flows(&r->sides[NS_EVAL_TRAIN]), synth = side_flows(&r->sides[NS_EVAL_SYNTH]);
        ns_dist_flows test = side_flows(&r->sides[NS_EVAL_TEST]);
        t0 = omp_get_wtime();
        if (o->progress) o->progress(o->progress_ctx, "distances", 0, 1);
        rc = ns_dist_compare(&r->dist, &real, &synth, r->eval.levels[0].n_classes, o->packets, o->threads);
        r->dist_s = omp_get_wtime() - t0;
        t0 = omp_get_wtime();
        if (!rc && o->progress) o->progress(o->progress_ctx, "memorisation", 0, 1);
        if (!rc) rc = ns_memo_compare(&r->memo, &real, &test, &synth, o->packets, o->threads);
        if (!rc) rc = ns_memo_payload_compare(&r->pmemo, &real, &test, &synth, o->packets, o->threads);
        r->memo_s = omp_get_wtime() - t0;
        if (!rc && o->progress && in->compliance && in->real_captures && in->synth_captures)
            o->progress(o->progress_ctx, "compliance", 0, 1);
        compliance(r);
        if (!rc && o->progress && in->applayer && in->trace_src[NS_EVAL_TEST].table && in->trace_src[NS_EVAL_SYNTH].table)
            o->progress(o->progress_ctx, "application layer", 0, 1);
        if (!rc) applayer(r, o);
    }
    if (rc) ns_report_free(r);
    return rc;
}

void ns_report_free(ns_report *r)
{
    for (size_t lv = 0; lv < r->eval.n_levels; lv++) {
        if (r->cov_real) free(r->cov_real[lv]);
        if (r->cov_synth) free(r->cov_synth[lv]);
    }
    free(r->cov_real);
    free(r->cov_synth);
    free(r->whole);
    ns_eval_sides_free(r->sides, r->eval.n_levels);
    ns_dist_report_free(&r->dist);
    ns_memo_report_free(&r->memo);
    if (r->has_trace) ns_trace_report_free(&r->trace);
    ns_eval_report_free(&r->eval);
    memset(r, 0, sizeof *r);
}

/* ---- table --------------------------------------------------------------------------- */

static void print_pmemo(FILE *fp, const ns_memo_payload *m)
{
    if (!m->bytes) {
        fprintf(fp, "\npayload memorisation: none (the training data keeps no payload bytes)\n");
        return;
    }
    fprintf(fp, "\npayload memorisation, first %d bytes of the first %d packets, against %zu training payloads "
                "(%zu distinct):\n", m->bytes, m->packets, m->train_payloads, m->train_distinct);
    fprintf(fp, "  %-10s %8s %9s %9s %22s\n", "", "payloads", "identical", "all one", "longest shared run:");
    fprintf(fp, "  %-10s %8s %9s %9s %7s %7s %7s\n", "", "", "", "run", "median", "95th", "max");
    const ns_memo_payload_side *s[2] = {&m->synth, &m->test};
    for (int i = 0; i < 2; i++)
        if (s[i]->payloads || !i)
            fprintf(fp, "  %-10s %8zu %9.4f %9.4f %7.0f %7.0f %7d\n", i ? "real test" : "synthetic", s[i]->payloads,
                    s[i]->identical, s[i]->run_whole, s[i]->run_median, s[i]->run_p95, s[i]->run_max);
}

static void print_value(FILE *fp, double v)
{
    if (isnan(v)) fprintf(fp, " %9s", "-");
    else fprintf(fp, " %9.4f", v);
}

/* Class c's mean JSD over the fields that have one, and its worst field;
 * per-flow-random fields (distance.h) left out, as they differ by nature. */
static double class_summary(const ns_dist_report *d, int c, const ns_dist_field **worst)
{
    double sum = 0;
    int n = 0;
    *worst = NULL;
    for (size_t i = 0; i < d->n_fields; i++) {
        double v = d->fields[i].per_class[c].jsd;
        if (isnan(v) || d->fields[i].per_flow_random) continue;
        sum += v, n++;
        if (!*worst || v > (*worst)->per_class[c].jsd) *worst = &d->fields[i];
    }
    return n ? sum / n : NAN;
}

/* One "key=value" line of provenance at s: the key's and the value's
 * lengths and the value; returns the next line. The loader checked that
 * every line ends in '\n'; a line without '=' is all key. */
static const char *prov_line(const char *s, int *klen, const char **value, int *vlen)
{
    const char *nl = strchr(s, '\n'), *eq = memchr(s, '=', (size_t)(nl - s));
    if (!eq) eq = nl;
    *klen = (int)(eq - s);
    *value = eq < nl ? eq + 1 : nl;
    *vlen = (int)(nl - *value);
    return nl + 1;
}

static void print_model(const ns_report *r, FILE *fp)
{
    fprintf(fp, "model: %s\n", r->in.model_path);
    const char *s = r->in.model_provenance;
    if (!s || !*s) fputs("  provenance: none recorded\n", fp);
    while (s && *s) {
        const char *key = s, *v;
        int klen, vlen;
        s = prov_line(s, &klen, &v, &vlen);
        fprintf(fp, "  %.*s: %.*s\n", klen, key, vlen, v);
    }
    fputc('\n', fp);
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : NAN; }
static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : NAN; }

/* Whole flows per class of level 0 (eval.h), then all flows. */
static void print_whole(const ns_report *r, FILE *fp)
{
    if (!r->whole) return;
    const ns_eval_level *lv0 = &r->eval.levels[0];
    fprintf(fp, "\nwhole flows per %s, real train / synthetic: packets and bytes (synthetic / real), packets per flow "
                "(p50 p90 p99 max), its JSD over log2 bins, TCP flows ending with FIN or RST\n", lv0->name);
    fprintf(fp, "  %-18s %9s %9s %5s %11s %5s  %-23s %-23s %6s %12s\n", "class", "packets", "synth", "ratio", "bytes",
            "ratio", "real p50/p90/p99/max", "synth p50/p90/p99/max", "JSD", "FIN+RST %");
    for (int c = 0; c <= lv0->n_classes; c++) {
        const ns_eval_whole *w = &r->whole[c];
        const ns_eval_whole_side *a = &w->side[0], *b = &w->side[1];
        char pa[32], pb[32];
        snprintf(pa, sizeof pa, "%llu/%llu/%llu/%llu", (unsigned long long)a->p50, (unsigned long long)a->p90,
                 (unsigned long long)a->p99, (unsigned long long)a->max);
        snprintf(pb, sizeof pb, "%llu/%llu/%llu/%llu", (unsigned long long)b->p50, (unsigned long long)b->p90,
                 (unsigned long long)b->p99, (unsigned long long)b->max);
        fprintf(fp, "  %-18.18s %9llu %9llu %5.2f %11llu %5.2f  %-23s %-23s %6.3f %5.1f %5.1f\n",
                c < lv0->n_classes ? lv0->classes[c] : "(all)", (unsigned long long)a->packets,
                (unsigned long long)b->packets, ratio(b->packets, a->packets), (unsigned long long)a->bytes,
                ratio(b->bytes, a->bytes), pa, pb, w->jsd, pct(a->tcp_fin + a->tcp_rst, a->tcp),
                pct(b->tcp_fin + b->tcp_rst, b->tcp));
    }
}

static double share(uint64_t part, uint64_t all) { return all ? (double)part / (double)all : 0; }

static void print_applayer(const ns_report *r, FILE *fp)
{
    if (!r->has_applayer) {
        fprintf(fp, "\n%s\n", r->applayer_note);
        return;
    }
    const ns_applayer *a = &r->applayer;
    fprintf(fp, "\napplication layer per %s, real test vs synthetic (%.1f s): nDPI, flows and the share it gives the"
                " class's protocol%s; tshark, packets with payload and the share it dissects%s\n",
            a->label, r->applayer_s, a->has_ndpi ? "" : " (ndpiReader absent)", a->has_tshark ? "" : " (tshark absent)");
    fprintf(fp, "  %-20s %-16s %7s %6s %7s %6s  %-10s %7s %6s %7s %6s\n", a->label, "nDPI", "real", "share", "synth",
            "share", "tshark", "real", "share", "synth", "share");
    for (size_t i = 0; i < a->n_classes; i++) {
        const ns_applayer_class *c = &a->cls[i];
        fprintf(fp, "  %-20s %-16s %7llu %6.2f %7llu %6.2f  %-10s %7llu %6.2f %7llu %6.2f\n", c->value,
                c->ndpi[0] ? c->ndpi : "-", (unsigned long long)c->flows[0], share(c->recognised[0], c->flows[0]),
                (unsigned long long)c->flows[1], share(c->recognised[1], c->flows[1]),
                c->dissector[0] ? c->dissector : "-", (unsigned long long)c->payload[0],
                share(c->dissected[0], c->payload[0]), (unsigned long long)c->payload[1],
                share(c->dissected[1], c->payload[1]));
    }
    if (a->classes_left_out)
        fprintf(fp, "  (%llu captures of classes past the first %d left out)\n", (unsigned long long)a->classes_left_out,
                NS_APPLAYER_CLASSES);
}

void ns_report_print(const ns_report *r, FILE *fp)
{
    if (r->in.model_path) print_model(r, fp);
    ns_eval_print(&r->eval, fp);
    if (r->has_trace) ns_trace_print(&r->trace, fp);
    else fprintf(fp, "\n%s\n", r->trace_note);
    if (!r->has_synth) return;
    const ns_eval_level *lv0 = &r->eval.levels[0];
    uint64_t real = 0, synth = 0;
    int differ = 0;
    for (int c = 0; c < lv0->n_classes; c++) {
        real += r->cov_real[0][c], synth += r->cov_synth[0][c];
        differ += r->cov_real[0][c] != r->cov_synth[0][c];
    }
    if (r->in.like && !differ) {
        fprintf(fp, "\ncoverage (%s): every class as requested (--like), %llu flows\n", lv0->name,
                (unsigned long long)synth);
    } else {
        fprintf(fp, "\ncoverage (%s): class, real train flows (share), synthetic flows (share)%s\n", lv0->name,
                r->in.like ? "; requested: the real train counts (--like)" : "");
        for (int c = 0; c < lv0->n_classes; c++) {
            uint64_t a = r->cov_real[0][c], b = r->cov_synth[0][c];
            fprintf(fp, "  %-24s %7llu %6.3f %7llu %6.3f%s\n", lv0->classes[c], (unsigned long long)a,
                    real ? (double)a / (double)real : 0, (unsigned long long)b, synth ? (double)b / (double)synth : 0,
                    !r->in.like || a == b ? "" : b < a ? "  short of the request" : "  over the request");
        }
    }
    print_whole(r, fp);
    size_t n_random = 0;
    for (size_t i = 0; i < r->dist.n_fields; i++) n_random += r->dist.fields[i].per_flow_random != 0;
    fprintf(fp, "\ndistances, real train vs synthetic, first %d packets (%.1f s); the 10 worst of %zu"
                " (per-flow-random fields apart, below):\n",
            r->dist.packets, r->dist_s, r->dist.n_fields - n_random);
    fprintf(fp, "  %-14s %9s %9s %9s %9s\n", "field", "JSD", "TV", "Hellinger", "EMD");
    for (size_t i = 0; i < r->dist.n_fields && i < 10; i++) {
        const ns_dist_field *f = &r->dist.fields[i];
        if (f->per_flow_random) break;
        fprintf(fp, "  %-14s", f->name);
        print_value(fp, f->all.jsd), print_value(fp, f->all.tv), print_value(fp, f->all.hellinger);
        print_value(fp, f->all.emd);
        fprintf(fp, "%s%s\n", f->unit ? " " : "", f->unit ? f->unit : "");
    }
    if (n_random) {
        fprintf(fp, "\nper-flow-random fields (fresh per flow by nature): JSD, then real and synthetic"
                    " distinct-value rate and within-flow change rate\n");
        fprintf(fp, "  %-14s %9s %9s %9s %9s %9s\n", "field", "JSD", "distinct", "", "changes", "");
        for (size_t i = 0; i < r->dist.n_fields; i++) {
            const ns_dist_field *f = &r->dist.fields[i];
            if (!f->per_flow_random || (!f->n_real && !f->n_synth)) continue;
            fprintf(fp, "  %-14s", f->name);
            print_value(fp, f->all.jsd), print_value(fp, f->distinct[0]), print_value(fp, f->distinct[1]);
            print_value(fp, f->changes[0]), print_value(fp, f->changes[1]);
            fputc('\n', fp);
        }
    }
    if (r->dist.n_classes) {
        fprintf(fp, "\nper %s: mean JSD over the fields, the worst field and its JSD\n", lv0->name);
        for (int c = 0; c < r->dist.n_classes; c++) {
            const ns_dist_field *w;
            double mean = class_summary(&r->dist, c, &w);
            if (w) fprintf(fp, "  %-24s %7.4f  %-14s %7.4f\n", lv0->classes[c], mean, w->name, w->per_class[c].jsd);
        }
    }
    const ns_memo_report *m = &r->memo;
    fprintf(fp, "\nmemorisation, first %d packets, Hamming distance to the nearest real training flow (%.1f s):\n",
            m->packets, r->memo_s);
    fprintf(fp, "  %-10s %7s %9s %8s %8s\n", "", "flows", "identical", "median", "5th pct");
    fprintf(fp, "  %-10s %7zu %9.4f %8.0f %8.0f\n", "synthetic", m->n_synth, m->synth_copied, m->synth_median,
            m->synth_p5);
    if (m->n_test)
        fprintf(fp, "  %-10s %7zu %9.4f %8.0f %8.0f\n", "real test", m->n_test, m->test_copied, m->test_median,
                m->test_p5);
    print_pmemo(fp, &r->pmemo);
    if (r->has_compliance) {
        fprintf(fp, "\ncompliance (tshark, %.1f s): %9s %9s %9s %9s %9s\n", r->compliance_s, "packets", "malformed",
                "checksum", "errors", "warnings");
        const ns_compliance *c[2] = {&r->comp_real, &r->comp_synth};
        for (int i = 0; i < 2; i++)
            fprintf(fp, "  %-27s %9llu %9llu %9llu %9llu %9llu\n", i ? "synthetic" : "real",
                    (unsigned long long)c[i]->packets, (unsigned long long)c[i]->malformed,
                    (unsigned long long)c[i]->bad_checksums, (unsigned long long)c[i]->errors,
                    (unsigned long long)c[i]->warnings);
        for (int i = 0; i < 2; i++)
            for (size_t k = 0; k < c[i]->n_kinds; k++)
                fprintf(fp, "  %-10s %-8s %-9s %-9s %-56s %9llu\n", i ? "synthetic" : "real", c[i]->kinds[k].severity,
                        c[i]->kinds[k].protocol, c[i]->kinds[k].group, c[i]->kinds[k].summary,
                        (unsigned long long)c[i]->kinds[k].count);
    } else {
        fprintf(fp, "\n%s\n", r->compliance_note);
    }
    print_applayer(r, fp);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void json_num(FILE *fp, double v)
{
    if (isnan(v) || isinf(v)) fputs("null", fp);
    else fprintf(fp, "%.6g", v);
}

static void json_value(FILE *fp, const ns_dist_value *v)
{
    fputs("{\"jsd\": ", fp), json_num(fp, v->jsd);
    fputs(", \"tv\": ", fp), json_num(fp, v->tv);
    fputs(", \"hellinger\": ", fp), json_num(fp, v->hellinger);
    fputs(", \"emd\": ", fp), json_num(fp, v->emd);
    fputc('}', fp);
}

static void json_distances(const ns_report *r, FILE *fp)
{
    const ns_eval_level *lv0 = &r->eval.levels[0];
    fprintf(fp, ",\n  \"distances\": {\"packets\": %d, \"label\": ", r->dist.packets);
    ns_json_string(fp, lv0->name);
    fputs(", \"fields\": [", fp);
    for (size_t i = 0; i < r->dist.n_fields; i++) {
        const ns_dist_field *f = &r->dist.fields[i];
        fprintf(fp, "%s\n    {\"field\": ", i ? "," : "");
        ns_json_string(fp, f->name);
        fputs(", \"unit\": ", fp);
        if (f->unit) ns_json_string(fp, f->unit);
        else fputs("null", fp);
        fprintf(fp, ", \"n_real\": %llu, \"n_synth\": %llu, \"per_flow_random\": %s, \"distinct_rate\": {\"real\": ",
                (unsigned long long)f->n_real, (unsigned long long)f->n_synth, f->per_flow_random ? "true" : "false");
        json_num(fp, f->distinct[0]), fputs(", \"synth\": ", fp), json_num(fp, f->distinct[1]);
        fputs("}, \"within_flow_change_rate\": {\"real\": ", fp);
        json_num(fp, f->changes[0]), fputs(", \"synth\": ", fp), json_num(fp, f->changes[1]);
        fputs("},\n     \"all\": ", fp);
        json_value(fp, &f->all);
        fputs(",\n     \"per_class\": {", fp);
        for (int c = 0; c < r->dist.n_classes; c++) {
            fputs(c ? ", " : "", fp);
            ns_json_string(fp, lv0->classes[c]);
            fputs(": ", fp);
            json_value(fp, &f->per_class[c]);
        }
        fputs("},\n     \"histogram\": [", fp);
        for (int k = 0; k < f->hist.n; k++) {
            fputs(k ? ", {\"bin\": " : "{\"bin\": ", fp);
            ns_json_string(fp, f->hist.label[k]);
            fputs(", \"real\": ", fp), json_num(fp, f->hist.real[k]);
            fputs(", \"synth\": ", fp), json_num(fp, f->hist.synth[k]);
            fputc('}', fp);
        }
        fputs("]}", fp);
    }
    fputs("]}", fp);
}

static void json_whole_side(FILE *fp, const ns_eval_whole_side *x)
{
    fprintf(fp, "{\"flows\": %llu, \"packets\": %llu, \"bytes\": %llu, \"tcp_flows\": %llu, \"tcp_fin\": %llu, "
                "\"tcp_rst\": %llu, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"max\": %llu}",
            (unsigned long long)x->flows, (unsigned long long)x->packets, (unsigned long long)x->bytes,
            (unsigned long long)x->tcp, (unsigned long long)x->tcp_fin, (unsigned long long)x->tcp_rst,
            (unsigned long long)x->p50, (unsigned long long)x->p90, (unsigned long long)x->p99,
            (unsigned long long)x->max);
}

/* "whole_flows": per class of level 0 and "(all)" (eval.h). */
static void json_whole(const ns_report *r, FILE *fp)
{
    const ns_eval_level *lv0 = &r->eval.levels[0];
    fputs("  \"whole_flows\": {\"label\": ", fp);
    ns_json_string(fp, lv0->name);
    fputs(", \"classes\": [", fp);
    for (int c = 0; c <= lv0->n_classes; c++) {
        const ns_eval_whole *w = &r->whole[c];
        fputs(c ? ",\n    {\"class\": " : "\n    {\"class\": ", fp);
        ns_json_string(fp, c < lv0->n_classes ? lv0->classes[c] : "(all)");
        fputs(", \"packets_jsd\": ", fp), json_num(fp, w->jsd);
        fputs(", \"real\": ", fp), json_whole_side(fp, &w->side[0]);
        fputs(", \"synth\": ", fp), json_whole_side(fp, &w->side[1]);
        fputc('}', fp);
    }
    fputs("]},\n", fp);
}

static void json_rest(const ns_report *r, FILE *fp)
{
    const ns_memo_report *m = &r->memo;
    fprintf(fp, ",\n  \"memorisation\": {\"packets\": %d, \"values\": %zu, \"n_train\": %zu,", m->packets, m->values,
            m->n_train);
    fprintf(fp, "\n    \"synthetic\": {\"flows\": %zu, \"identical\": ", m->n_synth);
    json_num(fp, m->synth_copied), fputs(", \"median\": ", fp), json_num(fp, m->synth_median);
    fputs(", \"p5\": ", fp), json_num(fp, m->synth_p5);
    fprintf(fp, "},\n    \"real_test\": {\"flows\": %zu, \"identical\": ", m->n_test);
    json_num(fp, m->test_copied), fputs(", \"median\": ", fp), json_num(fp, m->test_median);
    fputs(", \"p5\": ", fp), json_num(fp, m->test_p5);
    fputs("}},\n  \"payload_memorisation\": {", fp);
    const ns_memo_payload *pm = &r->pmemo;
    fprintf(fp, "\"bytes\": %d, \"packets\": %d, \"train_payloads\": %zu, \"train_distinct\": %zu", pm->bytes,
            pm->packets, pm->train_payloads, pm->train_distinct);
    const ns_memo_payload_side *ps[2] = {&pm->synth, &pm->test};
    for (int i = 0; i < 2; i++) {
        fprintf(fp, ",\n    \"%s\": {\"payloads\": %zu, \"identical\": ", i ? "real_test" : "synthetic", ps[i]->payloads);
        json_num(fp, ps[i]->identical), fputs(", \"all_one_run\": ", fp), json_num(fp, ps[i]->run_whole);
        fputs(", \"run_median\": ", fp), json_num(fp, ps[i]->run_median);
        fputs(", \"run_p95\": ", fp), json_num(fp, ps[i]->run_p95);
        fprintf(fp, ", \"run_max\": %d}", ps[i]->run_max);
    }
    fprintf(fp, "},\n  \"coverage\": {\"like\": %s, \"levels\": [", r->in.like ? "true" : "false");
    for (size_t lv = 0; lv < r->eval.n_levels; lv++) {
        const ns_eval_level *L = &r->eval.levels[lv];
        fprintf(fp, "%s\n    {\"label\": ", lv ? "," : "");
        ns_json_string(fp, L->name);
        fputs(", \"classes\": [", fp);
        for (int c = 0; c < L->n_classes; c++) {
            fputs(c ? ", {\"class\": " : "{\"class\": ", fp);
            ns_json_string(fp, L->classes[c]);
            fprintf(fp, ", \"real\": %llu, \"synth\": %llu", (unsigned long long)r->cov_real[lv][c],
                    (unsigned long long)r->cov_synth[lv][c]);
            if (r->in.like) fprintf(fp, ", \"requested\": %llu", (unsigned long long)r->cov_real[lv][c]);
            fputc('}', fp);
        }
        fputs("]}", fp);
    }
    fputs("]},\n", fp);
    if (r->whole) json_whole(r, fp);
    fputs("  \"compliance\": ", fp);
    if (!r->has_compliance) {
        fputs("{\"note\": ", fp);
        ns_json_string(fp, r->compliance_note);
        fputc('}', fp);
    } else {
        const ns_compliance *c[2] = {&r->comp_real, &r->comp_synth};
        for (int i = 0; i < 2; i++) {
            fprintf(fp, "%s\"%s\": {\"packets\": %llu, \"malformed\": %llu, \"bad_checksums\": %llu, \"errors\": %llu,"
                        " \"warnings\": %llu, \"other_kinds\": %llu, \"kinds\": [",
                    i ? ",\n    " : "{", i ? "synthetic" : "real", (unsigned long long)c[i]->packets,
                    (unsigned long long)c[i]->malformed, (unsigned long long)c[i]->bad_checksums,
                    (unsigned long long)c[i]->errors, (unsigned long long)c[i]->warnings,
                    (unsigned long long)c[i]->other_kinds);
            for (size_t k = 0; k < c[i]->n_kinds; k++) {
                const ns_compliance_kind *x = &c[i]->kinds[k];
                fprintf(fp, "%s{\"severity\": \"%s\", \"group\": ", k ? ", " : "", x->severity);
                ns_json_string(fp, x->group);
                fputs(", \"protocol\": ", fp), ns_json_string(fp, x->protocol);
                fputs(", \"summary\": ", fp), ns_json_string(fp, x->summary);
                fprintf(fp, ", \"count\": %llu}", (unsigned long long)x->count);
            }
            fputs("]}", fp);
        }
        fputc('}', fp);
    }
    fputs(",\n  \"applayer\": ", fp);
    if (!r->has_applayer) {
        fputs("{\"note\": ", fp);
        ns_json_string(fp, r->applayer_note);
        fputc('}', fp);
    } else {
        const ns_applayer *a = &r->applayer;
        fputs("{\"label\": ", fp);
        ns_json_string(fp, a->label);
        fprintf(fp, ", \"ndpi\": %s, \"tshark\": %s, \"seconds\": %.3f, \"captures_left_out\": %llu, \"classes\": [",
                a->has_ndpi ? "true" : "false", a->has_tshark ? "true" : "false", r->applayer_s,
                (unsigned long long)a->classes_left_out);
        for (size_t i = 0; i < a->n_classes; i++) {
            const ns_applayer_class *c = &a->cls[i];
            fputs(i ? ",\n    {\"class\": " : "\n    {\"class\": ", fp);
            ns_json_string(fp, c->value);
            fputs(", \"ndpi_protocol\": ", fp), ns_json_string(fp, c->ndpi);
            fputs(", \"tshark_protocol\": ", fp), ns_json_string(fp, c->dissector);
            for (int side = 0; side < 2; side++)
                fprintf(fp, ", \"%s\": {\"captures\": %llu, \"flows\": %llu, \"recognised\": %llu,"
                            " \"payload_packets\": %llu, \"dissected\": %llu}",
                        side ? "synthetic" : "real_test", (unsigned long long)c->captures[side],
                        (unsigned long long)c->flows[side], (unsigned long long)c->recognised[side],
                        (unsigned long long)c->payload[side], (unsigned long long)c->dissected[side]);
            fputc('}', fp);
        }
        fputs("]}", fp);
    }
    fprintf(fp, ",\n  \"seconds_by_part\": {\"classifier\": %.3f, \"distances\": %.3f, \"memorisation\": %.3f,"
                " \"compliance\": %.3f, \"trace\": %.3f}",
            r->eval_s, r->dist_s, r->memo_s, r->compliance_s, r->has_trace ? r->trace.seconds : 0);
}

/* Lengths from prov_line are bounded by NS_PROV_MAX; the pieces are copied
 * out to be NUL-ended for ns_json_string. */
static void json_piece(FILE *fp, const char *s, int len)
{
    char buf[NS_PROV_MAX + 1];
    memcpy(buf, s, (size_t)len);
    buf[len] = '\0';
    ns_json_string(fp, buf);
}

/* "model": {"path": ..., "provenance": {key: value, ...} or null}. */
static void json_model(const ns_report *r, FILE *fp)
{
    fputs("  \"model\": {\"path\": ", fp);
    ns_json_string(fp, r->in.model_path);
    fputs(", \"provenance\": ", fp);
    const char *s = r->in.model_provenance;
    if (!s || !*s) {
        fputs("null},\n", fp);
        return;
    }
    fputc('{', fp);
    for (int first = 1; *s; first = 0) {
        const char *key = s, *v;
        int klen, vlen;
        s = prov_line(s, &klen, &v, &vlen);
        fputs(first ? "\n    " : ",\n    ", fp);
        json_piece(fp, key, klen);
        fputs(": ", fp);
        json_piece(fp, v, vlen);
    }
    fputs("\n  }},\n", fp);
}

int ns_report_write_json(const ns_report *r, const char *path)
{
    ns_outfile out;
    int rc = ns_outfile_open(&out, path);
    if (rc) return rc;
    FILE *fp = out.fp;
    fputs("{\n", fp);
    if (r->in.command) {
        fputs("  \"command\": ", fp);
        ns_json_string(fp, r->in.command);
        fputs(",\n", fp);
    }
    if (r->in.model_path) json_model(r, fp);
    ns_eval_json_members(&r->eval, fp);
    fputs(",\n", fp);
    ns_trace_json_member(r->has_trace ? &r->trace : NULL, r->trace_note, fp);
    if (r->has_synth) {
        json_distances(r, fp);
        json_rest(r, fp);
    }
    fputs("\n}\n", fp);
    if (ferror(fp)) {
        ns_outfile_abort(&out);
        return ns_error(NS_EIO, "%s: write failed", path);
    }
    return ns_outfile_commit(&out);
}

/* ---- HTML ----------------------------------------------------------------------------- */

void ns_html_text(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", fp);
        else if (*s == '>') fputs("&gt;", fp);
        else if (*s == '&') fputs("&amp;", fp);
        else if (*s == '"') fputs("&quot;", fp);
        else fputc(*s, fp);
    }
}

static void base64(FILE *fp, const uint8_t *d, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        fputc(t[v >> 18 & 63], fp);
        fputc(t[v >> 12 & 63], fp);
        fputc(i + 1 < n ? t[v >> 6 & 63] : '=', fp);
        fputc(i + 2 < n ? t[v & 63] : '=', fp);
    }
}

#define IMG_FLOWS 4

/* The first IMG_FLOWS flows of class c on a side, their first `packets`
 * rows each (-1 past a flow's end), as an inline PNG. */
static int flow_image(FILE *fp, const ns_eval_side *s, int c, int packets, const char *tmp)
{
    int rows = IMG_FLOWS * packets;
    if (rows > NS_IMAGE_MAX_ROWS) rows = NS_IMAGE_MAX_ROWS - NS_IMAGE_MAX_ROWS % packets;
    int8_t *m = malloc((size_t)rows * NS_NP_MODEL_WIDTH);
    if (!m) return ns_error(NS_ENOMEM, "report: out of memory");
    memset(m, -1, (size_t)rows * NS_NP_MODEL_WIDTH);
    int at = 0;
    for (size_t i = 0; i < s->n && at + packets <= rows; i++) {
        if (s->cls[0][i] != c) continue;
        const ns_ds_flow *f = &s->ds->flows[s->idx[i]];
        for (uint32_t p = 0; p < f->n_packets && p < (uint32_t)packets; p++)
            ns_dataset_row(s->ds, f->first + p, m + (size_t)(at + (int)p) * NS_NP_MODEL_WIDTH);
        at += packets;
    }
    int rc = ns_image_write(tmp, m, rows, NS_NP_MODEL_WIDTH, 1);
    free(m);
    uint8_t *png = NULL;
    size_t len = 0;
    if (!rc) rc = ns_read_file(tmp, &png, &len);
    if (!rc) {
        fprintf(fp, "<img class=flow alt=\"flows\" style=\"height:%dpx\" src=\"data:image/png;base64,",
                rows * 2 < 256 ? rows * 2 : 256);
        base64(fp, png, len);
        fputs("\">", fp);
    }
    free(png);
    return rc;
}

static void html_shaded(FILE *fp, double share, const char *text)
{
    int light = 100 - (int)(share * 55);
    fprintf(fp, "<td style=\"background:hsl(210,70%%,%d%%);color:%s\">%s</td>", light, light < 65 ? "#fff" : "#000",
            text);
}

static void html_confusion(FILE *fp, const ns_eval_level *L, const ns_eval_result *res)
{
    fputs("<table class=cm><tr><th>true \\ predicted</th>", fp);
    for (int b = 0; b < L->n_classes; b++) {
        fputs("<th class=v>", fp);
        ns_html_text(fp, L->classes[b]);
        fputs("</th>", fp);
    }
    fputs("</tr>\n", fp);
    for (int a = 0; a < L->n_classes; a++) {
        uint64_t row = 0;
        for (int b = 0; b < L->n_classes; b++) row += res->confusion[(size_t)a * L->n_classes + b];
        fputs("<tr><th>", fp);
        ns_html_text(fp, L->classes[a]);
        fputs("</th>", fp);
        for (int b = 0; b < L->n_classes; b++) {
            uint64_t v = res->confusion[(size_t)a * L->n_classes + b];
            char t[32];
            snprintf(t, sizeof t, "%llu", (unsigned long long)v);
            html_shaded(fp, row ? (double)v / (double)row : 0, v ? t : "");
        }
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

/* A round step near span / parts: 1, 2 or 5 times a power of ten. */
static double nice_step(double span, int parts)
{
    double raw = span / parts, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* A tick value as text: a share as a percentage, else %g. */
static void tick_label(char *t, size_t n, double v, int percent)
{
    double pc = 100 * v;
    if (percent) snprintf(t, n, fabs(pc - round(pc)) < 1e-9 ? "%.0f%%" : "%.1f%%", pc);
    else snprintf(t, n, "%g", v);
}

/* A y axis at x = left from the plot's bottom to its top (height h), with
 * ticks at 0, top / 2 and top, and a rotated title. */
static void svg_y_axis(FILE *fp, int left, int top_y, int h, double top, int percent, const char *title)
{
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", left, top_y, left, top_y + h);
    for (int k = 0; k <= 2; k++) {
        char t[32];
        double y = top_y + h - h * k / 2.0;
        tick_label(t, sizeof t, top * k / 2, percent);
        fprintf(fp, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\"/>"
                    "<text x=\"%d\" y=\"%.1f\" font-size=\"9\" text-anchor=\"end\">%s</text>",
                left - 3, y, left, y, left - 5, y + 3, t);
    }
    fprintf(fp, "<text x=\"10\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\" transform=\"rotate(-90 10 %d)\">%s"
                "</text>",
            top_y + h / 2, top_y + h / 2, title);
}

/* Per class: flows tested (support), precision, recall and F1. */
static void html_prf(FILE *fp, const ns_eval_level *L, const ns_eval_result *res)
{
    fputs("<table><tr><th class=l>class</th><th>flows</th><th>precision</th><th>recall</th><th>F1</th></tr>\n", fp);
    for (int c = 0; c < L->n_classes; c++) {
        double m[3];
        uint64_t support;
        ns_eval_class_metrics(res->confusion, L->n_classes, c, &m[0], &m[1], &m[2], &support);
        fputs("<tr><td class=l>", fp);
        ns_html_text(fp, L->classes[c]);
        fprintf(fp, "</td><td>%llu</td>", (unsigned long long)support);
        for (int q = 0; q < 3; q++) {
            char t[32];
            snprintf(t, sizeof t, isnan(m[q]) ? "-" : "%.3f", m[q]);
            html_shaded(fp, isnan(m[q]) ? 0 : m[q], t);
        }
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

/* A bar chart of real (blue) and synthetic (orange) shares of a field's
 * values, with a y axis in percent and the counts behind the shares. */
static void html_histogram(FILE *fp, const ns_dist_field *f)
{
    const ns_dist_hist *h = &f->hist;
    double top = 0;
    for (int k = 0; k < h->n; k++) top = fmax(top, fmax(h->real[k], h->synth[k]));
    if (top <= 0) top = 1;
    double step = nice_step(top, 4);
    top = fmin(1, ceil(top / step - 1e-9) * step); /* a round top tick */
    int bw = 22, H = 120, T = 8, L = 50, W = h->n * bw + L + 40;
    fprintf(fp, "<figure><figcaption>%s: JSD %.3f; %llu real, %llu synthetic values</figcaption>"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">",
            f->name, f->all.jsd, (unsigned long long)f->n_real, (unsigned long long)f->n_synth, W, T + H + 70);
    svg_y_axis(fp, L - 2, T, H, top, 1, "share of values");
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", L - 2, T + H, W, T + H);
    for (int k = 0; k < h->n; k++) {
        double x = L + k * bw, hr = h->real[k] / top * H, hs = h->synth[k] / top * H;
        fprintf(fp, "<rect x=\"%.0f\" y=\"%.1f\" width=\"9\" height=\"%.1f\" fill=\"#3572b0\"><title>real %.4f (%.0f)"
                    "</title></rect>",
                x, T + H - hr, hr, h->real[k], h->real[k] * (double)f->n_real);
        fprintf(fp, "<rect x=\"%.0f\" y=\"%.1f\" width=\"9\" height=\"%.1f\" fill=\"#e8853d\"><title>synthetic %.4f "
                    "(%.0f)</title></rect>",
                x + 9, T + H - hs, hs, h->synth[k], h->synth[k] * (double)f->n_synth);
        fprintf(fp, "<text x=\"%.0f\" y=\"%d\" font-size=\"9\" transform=\"rotate(60 %.0f %d)\">", x + 4, T + H + 10,
                x + 4, T + H + 10);
        ns_html_text(fp, h->label[k]);
        fputs("</text>", fp);
    }
    fputs("</svg></figure>\n", fp);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Empirical CDFs of real (blue) and synthetic (orange) values v[side][n],
 * sorted here; the x axis logarithmic when logx (values clamped to 1e-6). */
static void html_cdf(FILE *fp, const char *xtitle, double *v[2], const size_t n[2], int logx)
{
    enum { PW = 250, PH = 110, L = 46, T = 8 };
    double lo = INFINITY, hi = -INFINITY;
    for (int sd = 0; sd < 2; sd++) {
        for (size_t i = 0; i < n[sd]; i++) {
            if (logx) v[sd][i] = log10(fmax(v[sd][i], 1e-6));
            lo = fmin(lo, v[sd][i]), hi = fmax(hi, v[sd][i]);
        }
        qsort(v[sd], n[sd], sizeof *v[sd], cmp_double);
    }
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-9) lo -= 1, hi += 1;
    double step = logx ? 1 : nice_step(hi - lo, 4);
    lo = floor(lo / step) * step, hi = ceil(hi / step - 1e-9) * step;
    fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">", L + PW + 14,
            T + PH + 34);
    svg_y_axis(fp, L, T, PH, 1, 1, "share &#8804; x");
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", L, T + PH, L + PW, T + PH);
    int ticks = (int)round((hi - lo) / step), skip = ticks > 8 ? 2 : 1;
    for (int k = 0; k <= ticks; k += skip) {
        double x = lo + step * k, px = L + PW * (x - lo) / (hi - lo);
        char t[32];
        int e = (int)round(x); /* log ticks are seconds, written with a unit */
        if (!logx) snprintf(t, sizeof t, "%g", x);
        else if (e < -3) snprintf(t, sizeof t, "%g &#181;s", pow(10, e + 6));
        else if (e < 0) snprintf(t, sizeof t, "%g ms", pow(10, e + 3));
        else snprintf(t, sizeof t, "%g s", pow(10, e));
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>"
                    "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\">%s</text>",
                px, T + PH, px, T + PH + 3, px, T + PH + 13, t);
    }
    fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\">%s</text>", L + PW / 2, T + PH + 28,
            xtitle);
    /* The real line wider, so that it shows round a synthetic one on top of it. */
    static const char *const colour[2] = {"#3572b0", "#e8853d"};
    for (int sd = 0; sd < 2; sd++) {
        if (!n[sd]) continue;
        fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"%.1f,%d", colour[sd],
                sd ? "1.5" : "3",
                L + PW * (v[sd][0] - lo) / (hi - lo), T + PH);
        /* At most ~200 steps: every value when few, else evenly spaced ranks. */
        size_t every = n[sd] / 200 + 1;
        for (size_t i = 0; i < n[sd]; i += every) {
            size_t j = i + every - 1 < n[sd] ? i + every - 1 : n[sd] - 1;
            double x = L + PW * (v[sd][j] - lo) / (hi - lo);
            double y0 = T + PH - PH * (double)i / (double)n[sd], y1 = T + PH - PH * (double)(j + 1) / (double)n[sd];
            fprintf(fp, " %.1f,%.1f %.1f,%.1f", x, y0, x, y1);
        }
        fprintf(fp, " %d,%d\"><title>%s, %zu values</title></polyline>", L + PW, T, sd ? "synthetic" : "real", n[sd]);
    }
    fputs("</svg>", fp);
}

static const char *const css =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}"
    "th{background:#f3f3f3}td.l,th.l{text-align:left}table.cm td{min-width:18px;font-size:11px}"
    "table.cm th.v{writing-mode:vertical-rl;font-size:11px}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}"
    "img.flow{image-rendering:pixelated;width:100%;max-width:500px;border:1px solid #ccc}"
    ".wide{overflow-x:auto}"
    "figure{display:inline-block;margin:6px}figcaption{font-size:12px}"
    ".key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}"
    ".bands{display:flex;width:100%;max-width:500px;box-sizing:border-box;border:1px solid transparent;"
    "font-size:10px;color:#fff;text-align:center}.bands span{overflow:hidden;white-space:nowrap}"
    ".pair{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}"
    "td.chance{color:#777}td.low{color:#a00;font-weight:bold}";

static const char *const kind_label[] = {"nPrint", "NetFlow"};

static const ns_eval_result *find_result(const ns_eval_report *r, size_t lv, int kind, int run)
{
    for (size_t i = 0; i < r->n_results; i++)
        if (r->results[i].level == (int)lv && (int)r->results[i].kind == kind && (int)r->results[i].run == run)
            return &r->results[i];
    return NULL;
}

/* An accuracy cell, marked when it does not beat chance (the majority rate
 * of the tested flows or 1/k, whichever is higher) by 0.05. */
static void html_accuracy(FILE *fp, double acc, double chance)
{
    fprintf(fp, "<td%s>%.3f</td>", acc < chance + 0.05 ? " class=low title=\"at chance\"" : "", acc);
}

static void html_table2(FILE *fp, const ns_report *r)
{
    fputs("<h2>Classifier fidelity (Table 2)</h2><table><tr><th class=l>label</th><th class=l>features</th>"
          "<th>classes</th><th>1/k</th><th colspan=3>real &rarr; real</th><th colspan=3>TSTR</th>"
          "<th colspan=3>TRTS</th></tr><tr><th></th><th></th><th></th><th></th>"
          "<th>acc</th><th>F1</th><th>chance</th><th>acc</th><th>F1</th><th>chance</th>"
          "<th>acc</th><th>F1</th><th>chance</th></tr>\n",
          fp);
    for (size_t lv = 0; lv < r->eval.n_levels; lv++)
        for (int k = 0; k < 2; k++) {
            if (!find_result(&r->eval, lv, k, NS_EVAL_REAL)) continue;
            int nc = r->eval.levels[lv].n_classes;
            fputs("<tr><td class=l>", fp);
            ns_html_text(fp, r->eval.levels[lv].name);
            fprintf(fp, "</td><td class=l>%s</td><td>%d</td><td class=chance>%.3f</td>", kind_label[k], nc,
                    nc ? 1.0 / nc : 0.0);
            for (int run = 0; run < 3; run++) {
                const ns_eval_result *res = find_result(&r->eval, lv, k, run);
                if (!res) {
                    fputs("<td>-</td><td>-</td><td>-</td>", fp);
                    continue;
                }
                double major = ns_eval_majority_rate(res->confusion, nc);
                html_accuracy(fp, res->accuracy, fmax(major, nc ? 1.0 / nc : 0));
                fprintf(fp, "<td>%.3f</td><td class=chance>%.3f</td>", res->macro_f1, major);
            }
            fputs("</tr>\n", fp);
        }
    char nf[64] = "whole flows";
    if (r->eval.opts.netflow_packets > 0) snprintf(nf, sizeof nf, "the first %d packets", r->eval.opts.netflow_packets);
    fprintf(fp, "</table><p>Random forest, %d trees, first %d packets of each flow (NetFlow features: %s), seed %llu. TSTR: trained on "
                "synthetic flows, tested on real ones; TRTS: the other way round. Chance: the accuracy of always "
                "answering the most frequent class of the tested flows (and 1/k, of guessing uniformly among k "
                "classes); an accuracy in <b style=\"color:#a00\">red</b> is within 0.05 of the higher of the "
                "two.</p>\n",
            r->eval.opts.trees, r->eval.opts.packets, nf, (unsigned long long)r->eval.opts.seed);
}

static void html_coverage(FILE *fp, const ns_report *r)
{
    const ns_eval_level *lv0 = &r->eval.levels[0];
    fputs("<h2>Coverage</h2><table><tr><th class=l>", fp);
    ns_html_text(fp, lv0->name);
    fprintf(fp, "</th><th>real train flows</th><th>synthetic flows</th>%s</tr>\n",
            r->in.like ? "<th>requested</th>" : "");
    for (int c = 0; c < lv0->n_classes; c++) {
        fputs("<tr><td class=l>", fp);
        ns_html_text(fp, lv0->classes[c]);
        fprintf(fp, "</td><td>%llu</td><td>%llu</td>", (unsigned long long)r->cov_real[0][c],
                (unsigned long long)r->cov_synth[0][c]);
        if (r->in.like) fprintf(fp, "<td>%llu</td>", (unsigned long long)r->cov_real[0][c]);
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

/* The expert errors and warnings by kind, both sides in one table. */
static void html_compliance_kinds(FILE *fp, const ns_report *r)
{
    const ns_compliance *side[2] = {&r->comp_real, &r->comp_synth};
    if (!side[0]->n_kinds && !side[1]->n_kinds) {
        fputs("<p>No expert errors or warnings on either side.</p>\n", fp);
        return;
    }
    fputs("<p>Expert errors and warnings by kind (the summary without its per-packet values).</p><table><tr>"
          "<th class=l>severity</th><th class=l>group</th><th class=l>protocol</th><th class=l>message</th>"
          "<th>real</th><th>synthetic</th></tr>\n",
          fp);
    for (int sd = 0; sd < 2; sd++)
        for (size_t i = 0; i < side[sd]->n_kinds; i++) {
            const ns_compliance_kind *k = &side[sd]->kinds[i];
            uint64_t n[2] = {0, 0};
            int before = 0;
            for (int t = 0; t < 2; t++)
                for (size_t j = 0; j < side[t]->n_kinds; j++) {
                    const ns_compliance_kind *x = &side[t]->kinds[j];
                    if (strcmp(x->severity, k->severity) || strcmp(x->group, k->group) ||
                        strcmp(x->protocol, k->protocol) || strcmp(x->summary, k->summary))
                        continue;
                    n[t] += x->count;
                    before |= t < sd; /* shown with the real side's kinds */
                }
            if (before) continue;
            fprintf(fp, "<tr><td class=l>%s</td><td class=l>", k->severity);
            ns_html_text(fp, k->group);
            fputs("</td><td class=l>", fp);
            ns_html_text(fp, k->protocol);
            fputs("</td><td class=l>", fp);
            ns_html_text(fp, k->summary);
            fprintf(fp, "</td><td>%llu</td><td>%llu</td></tr>\n", (unsigned long long)n[0], (unsigned long long)n[1]);
        }
    if (side[0]->other_kinds || side[1]->other_kinds)
        fprintf(fp, "<tr><td class=l colspan=4>other kinds</td><td>%llu</td><td>%llu</td></tr>\n",
                (unsigned long long)side[0]->other_kinds, (unsigned long long)side[1]->other_kinds);
    fputs("</table>\n", fp);
}

static void html_memo_compliance(FILE *fp, const ns_report *r)
{
    const ns_memo_report *m = &r->memo;
    fprintf(fp, "<h2>Memorisation</h2><p>Hamming distance (values that differ, of %zu: first %d packets, "
                "addresses, ports and checksums blanked) to the nearest of %zu real training flows.</p>"
                "<table><tr><th class=l></th><th>flows</th><th>identical to a training flow</th><th>median</th>"
                "<th>5th percentile</th></tr><tr><td class=l>synthetic</td><td>%zu</td><td>%.4f</td><td>%.0f</td>"
                "<td>%.0f</td></tr>",
            m->values, m->packets, m->n_train, m->n_synth, m->synth_copied, m->synth_median, m->synth_p5);
    if (m->n_test)
        fprintf(fp, "<tr><td class=l>real test</td><td>%zu</td><td>%.4f</td><td>%.0f</td><td>%.0f</td></tr>", m->n_test,
                m->test_copied, m->test_median, m->test_p5);
    fputs("</table>\n", fp);
    const ns_memo_payload *pm = &r->pmemo;
    if (!pm->bytes) {
        fputs("<p>Payload memorisation: none (the training data keeps no payload bytes).</p>\n", fp);
    } else {
        fprintf(fp, "<p>Payloads (the first %d bytes of the first %d packets' transport payloads) against the %zu of "
                    "the training flows (%zu distinct): identical to one, every byte one run shared with one (payloads "
                    "of 8 bytes or more), and the longest run of bytes shared with any. Protocol constants are shared "
                    "by real flows too: the real test flows are the baseline.</p><table><tr><th class=l></th>"
                    "<th>payloads</th><th>identical</th><th>all one run</th><th>longest run: median</th>"
                    "<th>95th percentile</th><th>max</th></tr>",
                pm->bytes, pm->packets, pm->train_payloads, pm->train_distinct);
        const ns_memo_payload_side *ps[2] = {&pm->synth, &pm->test};
        for (int i = 0; i < 2; i++)
            if (ps[i]->payloads || !i)
                fprintf(fp, "<tr><td class=l>%s</td><td>%zu</td><td>%.4f</td><td>%.4f</td><td>%.0f</td><td>%.0f</td>"
                            "<td>%d</td></tr>", i ? "real test" : "synthetic", ps[i]->payloads, ps[i]->identical,
                        ps[i]->run_whole, ps[i]->run_median, ps[i]->run_p95, ps[i]->run_max);
        fputs("</table>\n", fp);
    }
    fputs("<h2>Compliance</h2>", fp);
    if (r->has_compliance) {
        fputs("<table><tr><th class=l>captures</th><th>packets</th><th>malformed</th><th>bad checksums</th>"
              "<th>expert errors</th><th>expert warnings</th></tr>\n",
              fp);
        const ns_compliance *c[2] = {&r->comp_real, &r->comp_synth};
        for (int i = 0; i < 2; i++)
            fprintf(fp, "<tr><td class=l>%s</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td></tr>\n",
                    i ? "synthetic" : "real", (unsigned long long)c[i]->packets, (unsigned long long)c[i]->malformed,
                    (unsigned long long)c[i]->bad_checksums, (unsigned long long)c[i]->errors,
                    (unsigned long long)c[i]->warnings);
        fputs("</table><p>tshark with IP, TCP and UDP checksum checks on.</p>\n", fp);
        html_compliance_kinds(fp, r);
    } else {
        fputs("<p>", fp);
        ns_html_text(fp, r->compliance_note);
        fputs("</p>\n", fp);
    }
}

/* The per-flow-random fields (distance.h), judged by what matters for them:
 * as many distinct values as the real flows have, and the same changes (or
 * constancy) from packet to packet within a flow. */
static void html_random_fields(FILE *fp, const ns_report *r)
{
    fputs("<h3>Per-flow-random fields</h3><p>Fields that take a fresh value per flow by nature (IP ID, checksums, "
          "TCP sequence and acknowledgement numbers, ICMP rest of header, TCP options with their timestamps): their "
          "JSD against any other capture is high even for real flows, so they are judged by the distinct-value rate "
          "(distinct values / values) and the within-flow change rate (share of a flow's later packets whose value "
          "differs from the packet before), which should match the real ones.</p><table><tr><th class=l>field</th>"
          "<th>JSD</th><th>distinct, real</th><th>distinct, synthetic</th><th>changes, real</th>"
          "<th>changes, synthetic</th></tr>\n",
          fp);
    for (size_t i = 0; i < r->dist.n_fields; i++) {
        const ns_dist_field *f = &r->dist.fields[i];
        if (!f->per_flow_random) continue;
        double x[5] = {f->all.jsd, f->distinct[0], f->distinct[1], f->changes[0], f->changes[1]};
        fprintf(fp, "<tr><td class=l>%s</td>", f->name);
        for (int k = 0; k < 5; k++) {
            if (isnan(x[k])) fputs("<td>-</td>", fp);
            else fprintf(fp, "<td>%.4f</td>", x[k]);
        }
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

static void html_distances(FILE *fp, const ns_report *r)
{
    fprintf(fp, "<h2>Distributions</h2><p>Real training flows against synthetic ones, per field over the first %d "
                "packets, worst first (JSD base 2; EMD in the field's unit). Fields that are random per flow by "
                "nature are ranked apart, below.</p><table><tr><th class=l>field</th>"
                "<th>JSD</th><th>TV</th><th>Hellinger</th><th>EMD</th><th class=l>unit</th></tr>\n",
            r->dist.packets);
    for (size_t i = 0; i < r->dist.n_fields && i < 20; i++) {
        const ns_dist_field *f = &r->dist.fields[i];
        if (f->per_flow_random) break;
        char v[4][32];
        double x[4] = {f->all.jsd, f->all.tv, f->all.hellinger, f->all.emd};
        for (int k = 0; k < 4; k++) snprintf(v[k], sizeof v[k], isnan(x[k]) ? "-" : "%.4f", x[k]);
        fprintf(fp, "<tr><td class=l>%s</td>", f->name);
        html_shaded(fp, isnan(x[0]) ? 0 : x[0], v[0]);
        fprintf(fp, "<td>%s</td><td>%s</td><td>%s</td><td class=l>%s</td></tr>\n", v[1], v[2], v[3],
                f->unit ? f->unit : "");
    }
    fputs("</table>\n", fp);
    html_random_fields(fp, r);
    if (r->dist.n_classes) {
        fputs("<p>Per class: the mean JSD over the fields and the three worst fields.</p><table><tr><th class=l>", fp);
        ns_html_text(fp, r->eval.levels[0].name);
        fputs("</th><th>mean JSD</th><th class=l>worst fields (JSD)</th></tr>\n", fp);
        for (int c = 0; c < r->dist.n_classes; c++) {
            const ns_dist_field *w;
            double mean = class_summary(&r->dist, c, &w);
            if (!w) continue;
            char t[32];
            snprintf(t, sizeof t, "%.4f", mean);
            fputs("<tr><td class=l>", fp);
            ns_html_text(fp, r->eval.levels[0].classes[c]);
            fputs("</td>", fp);
            html_shaded(fp, mean, t);
            fputs("<td class=l>", fp);
            /* the three highest, by selection */
            const ns_dist_field *shown[3] = {0};
            for (int k = 0; k < 3; k++) {
                const ns_dist_field *best = NULL;
                for (size_t i = 0; i < r->dist.n_fields; i++) {
                    const ns_dist_field *f = &r->dist.fields[i];
                    if (isnan(f->per_class[c].jsd) || f->per_flow_random || f == shown[0] || f == shown[1]) continue;
                    if (!best || f->per_class[c].jsd > best->per_class[c].jsd) best = f;
                }
                if (!best) break;
                shown[k] = best;
                fprintf(fp, "%s%s (%.3f)", k ? ", " : "", best->name, best->per_class[c].jsd);
            }
            fputs("</td></tr>\n", fp);
        }
        fputs("</table>\n", fp);
    }
    fputs("<p class=key><span style=\"background:#3572b0\"></span>real<span style=\"background:#e8853d\">"
          "</span>synthetic</p>\n",
          fp);
    /* Histograms of the 12 worst fields that differ at all, and always of
     * packet length, inter-arrival time and flow length. */
    int shown = 0;
    for (size_t i = 0; i < r->dist.n_fields; i++) {
        const ns_dist_field *f = &r->dist.fields[i];
        int named = !strcmp(f->name, "ipv4_tl") || !strcmp(f->name, "iat") || !strcmp(f->name, "flow_packets");
        if (named || (shown < 12 && f->all.jsd > 1e-9 && !f->per_flow_random)) {
            html_histogram(fp, f);
            shown += !named;
        }
    }
}

/* Packet sizes (IPv4 total length) and inter-arrival times (seconds; rows
 * after a flow's first) of class c's flows on a side, first `packets` rows. */
static int class_values(const ns_eval_side *s, int c, int packets, double **size, size_t *n_size, double **iat,
                        size_t *n_iat)
{
    size_t rows = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->cls[0][i] == c) {
            uint32_t np = s->ds->flows[s->idx[i]].n_packets;
            rows += np < (uint32_t)packets ? np : (uint32_t)packets;
        }
    *size = malloc((rows + 1) * sizeof **size);
    *iat = malloc((rows + 1) * sizeof **iat);
    if (!*size || !*iat) return ns_error(NS_ENOMEM, "report: out of memory");
    *n_size = *n_iat = 0;
    int8_t row[NS_NP_MODEL_WIDTH];
    for (size_t i = 0; i < s->n; i++) {
        if (s->cls[0][i] != c) continue;
        const ns_ds_flow *f = &s->ds->flows[s->idx[i]];
        for (uint32_t p = 0; p < f->n_packets && p < (uint32_t)packets; p++) {
            ns_dataset_row(s->ds, f->first + p, row);
            if (ns_nprint_has(row, NS_NPF_IPV4_TL)) (*size)[(*n_size)++] = (double)ns_nprint_get(row, NS_NPF_IPV4_TL);
            else if (ns_nprint_has(row, NS_NPF_IPV6_LEN)) /* an IPv6 packet's size: 40 + its payload length */
                (*size)[(*n_size)++] = 40.0 + (double)ns_nprint_get(row, NS_NPF_IPV6_LEN);
            if (p) (*iat)[(*n_iat)++] = (double)s->ds->iat_ns[f->first + p] * 1e-9;
        }
    }
    return NS_OK;
}

static int html_sizes(FILE *fp, const ns_report *r)
{
    const ns_eval_level *lv0 = &r->eval.levels[0];
    int packets = r->eval.opts.packets;
    fputs("<h2>Packet sizes and inter-arrival times</h2><p>Per ", fp);
    ns_html_text(fp, lv0->name);
    fprintf(fp, ", the empirical CDFs over the first %d packets of every flow: real training flows and synthetic ones "
                "(hover a line for its count of values).</p><p class=key><span style=\"background:#3572b0\"></span>"
                "real<span style=\"background:#e8853d\"></span>synthetic</p><table><tr><th class=l>class</th>"
                "<th class=l>packet size (IPv4 total length)</th><th class=l>inter-arrival time</th></tr>\n",
            packets);
    int rc = NS_OK;
    for (int c = 0; c < lv0->n_classes && !rc; c++) {
        double *size[2] = {0}, *iat[2] = {0};
        size_t n_size[2] = {0}, n_iat[2] = {0};
        for (int sd = 0; sd < 2 && !rc; sd++)
            rc = class_values(&r->sides[sd ? NS_EVAL_SYNTH : NS_EVAL_TRAIN], c, packets, &size[sd], &n_size[sd],
                              &iat[sd], &n_iat[sd]);
        if (!rc && (n_size[0] || n_size[1])) {
            fputs("<tr><td class=l>", fp);
            ns_html_text(fp, lv0->classes[c]);
            if (!n_size[1]) fputs("<br><small>no synthetic flows</small>", fp);
            else if (!n_size[0]) fputs("<br><small>no real flows</small>", fp);
            fputs("</td><td>", fp);
            html_cdf(fp, "bytes", size, n_size, 0);
            fputs("</td><td>", fp);
            if (n_iat[0] || n_iat[1]) html_cdf(fp, "log scale", iat, n_iat, 1);
            else fputs("no flow with a second packet", fp);
            fputs("</td></tr>\n", fp);
        }
        for (int sd = 0; sd < 2; sd++) free(size[sd]), free(iat[sd]);
    }
    fputs("</table>\n", fp);
    return rc;
}

/* Which columns of a flow image are which header: the model row's layers
 * (nprint.h's table) as bands as wide as their share of the row. */
static void html_bands(FILE *fp)
{
    static const char *const colour[] = {"#555", "#3572b0", "#6a4c93", "#2a9d8f", "#e8853d", "#c0392b"};
    fputs("<div class=bands>", fp);
    for (int i = 0; i < 6; i++) {
        unsigned layer = 1u << i;
        int at = ns_nprint_layer_offset(NS_NP_MODEL_LAYERS, layer);
        if (at < 0) continue;
        int bits = ns_nprint_width(layer);
        fprintf(fp, "<span style=\"flex:0 0 %.3f%%;background:%s\" title=\"%s: columns %d-%d\">%s</span>",
                100.0 * bits / NS_NP_MODEL_WIDTH, colour[i], ns_nprint_layer_name(layer), at, at + bits - 1,
                ns_nprint_layer_name(layer));
    }
    fputs("</div>", fp);
}

static int html_images(FILE *fp, const ns_report *r, const char *tmp)
{
    const ns_eval_level *lv0 = &r->eval.levels[0];
    int packets = r->eval.opts.packets;
    fprintf(fp, "<h2>Flows as images</h2><p>The first %d flows of each %s, first %d packets each (a row per packet, "
                "a column per header bit: 1 red, 0 green, absent grey; the band above each image names the header "
                "of its columns).</p><p class=key><span style=\"background:#f00\"></span>1<span style=\"background:"
                "#0f0\"></span>0<span style=\"background:#808080\"></span>absent</p><table><tr><th class=l>class</th>"
                "<th class=l>real</th><th class=l>synthetic</th></tr>\n",
            IMG_FLOWS, lv0->name, packets);
    int rc = NS_OK;
    for (int c = 0; c < lv0->n_classes && !rc; c++) {
        fputs("<tr><td class=l>", fp);
        ns_html_text(fp, lv0->classes[c]);
        fputs("</td><td>", fp);
        html_bands(fp);
        rc = flow_image(fp, &r->sides[NS_EVAL_TRAIN], c, packets, tmp);
        fputs("</td><td>", fp);
        html_bands(fp);
        if (!rc) rc = flow_image(fp, &r->sides[NS_EVAL_SYNTH], c, packets, tmp);
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
    return rc;
}

/* The model that made the synthetic side, and its provenance as a table. */
static void html_model(FILE *fp, const ns_report *r)
{
    fputs("<h2>Model</h2>\n<p>", fp);
    ns_html_text(fp, r->in.model_path);
    fputs("</p>\n", fp);
    const char *s = r->in.model_provenance;
    if (!s || !*s) {
        fputs("<p>provenance: none recorded</p>\n", fp);
        return;
    }
    fputs("<table>\n", fp);
    char buf[NS_PROV_MAX + 1];
    while (*s) {
        const char *key = s, *v;
        int klen, vlen;
        s = prov_line(s, &klen, &v, &vlen);
        fputs("<tr><th class=l>", fp);
        snprintf(buf, sizeof buf, "%.*s", klen, key);
        ns_html_text(fp, buf);
        fputs("</th><td class=l>", fp);
        snprintf(buf, sizeof buf, "%.*s", vlen, v);
        ns_html_text(fp, buf);
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

/* A count's cell, then the shaded share of it that part is. */
static void html_count_share(FILE *fp, uint64_t part, uint64_t all)
{
    fprintf(fp, "<td>%llu</td>", (unsigned long long)all);
    char t[16];
    snprintf(t, sizeof t, all ? "%.2f" : "-", share(part, all));
    html_shaded(fp, share(part, all), t);
}

/* Beside the classifier table: what DPI and a dissector make of each class's content. */
static void html_applayer(FILE *fp, const ns_report *r)
{
    fputs("<h2>Application layer</h2>\n", fp);
    if (!r->has_applayer) {
        fputs("<p>", fp);
        ns_html_text(fp, r->applayer_note);
        fputs("</p>\n", fp);
        return;
    }
    const ns_applayer *a = &r->applayer;
    fputs("<p>Per class, real test captures against synthetic ones. nDPI (<code>ndpiReader -d</code>, deep inspection"
          " only): the share of flows it gives the protocol it names most often for the class's real test flows."
          " tshark (each segment read alone): the share of packets with transport payload whose application layer"
          " it dissects (on HTTP a request or a status line). Packets a snapshot length cut are zero-filled first.",
          fp);
    if (!a->has_ndpi) fputs(" ndpiReader is not installed: no nDPI columns.", fp);
    if (!a->has_tshark) fputs(" tshark is not installed: no tshark columns.", fp);
    fputs("</p>\n<table><tr><th class=l>", fp);
    ns_html_text(fp, a->label);
    fputs("</th><th class=l>nDPI</th><th>real flows</th><th>real</th><th>synthetic flows</th><th>synthetic</th>"
          "<th class=l>tshark</th><th>real packets</th><th>real</th><th>synthetic packets</th><th>synthetic</th></tr>\n",
          fp);
    for (size_t i = 0; i < a->n_classes; i++) {
        const ns_applayer_class *c = &a->cls[i];
        fputs("<tr><td class=l>", fp);
        ns_html_text(fp, c->value);
        fputs("</td><td class=l>", fp);
        ns_html_text(fp, c->ndpi[0] ? c->ndpi : "-");
        fputs("</td>", fp);
        for (int s = 0; s < 2; s++) html_count_share(fp, c->recognised[s], c->flows[s]);
        fputs("<td class=l>", fp);
        ns_html_text(fp, c->dissector[0] ? c->dissector : "-");
        fputs("</td>", fp);
        for (int s = 0; s < 2; s++) html_count_share(fp, c->dissected[s], c->payload[s]);
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

int ns_report_write_html(const ns_report *r, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.flow.png", path);
    ns_outfile out;
    int rc = ns_outfile_open(&out, path);
    if (rc) return rc;
    FILE *fp = out.fp;
    fprintf(fp, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>netsynth fidelity report</title>"
                "<style>%s</style></head><body>\n<h1>netsynth fidelity report</h1>\n",
            css);
    if (r->in.command) {
        fputs("<pre>", fp);
        ns_html_text(fp, r->in.command);
        fputs("</pre>\n", fp);
    }
    if (r->in.model_path) html_model(fp, r);
    html_table2(fp, r);
    if (r->has_synth) html_applayer(fp, r);
    ns_trace_html(r->has_trace ? &r->trace : NULL, r->trace_note, fp);
    if (r->has_synth) {
        html_memo_compliance(fp, r);
        rc = html_images(fp, r, tmp);
        unlink(tmp);
        html_distances(fp, r);
        if (!rc) rc = html_sizes(fp, r);
        html_coverage(fp, r);
    }
    fputs("<h2>Confusion matrices</h2>\n", fp);
    for (size_t i = 0; i < r->eval.n_results; i++) {
        const ns_eval_result *res = &r->eval.results[i];
        static const char *const runs[] = {"real &rarr; real", "TSTR", "TRTS"};
        fputs("<h3>", fp);
        ns_html_text(fp, r->eval.levels[res->level].name);
        int nc = r->eval.levels[res->level].n_classes;
        fprintf(fp, ", %s features, %s: accuracy %.3f (chance %.3f, 1/k %.3f), macro-F1 %.3f</h3>\n",
                kind_label[res->kind], runs[res->run], res->accuracy, ns_eval_majority_rate(res->confusion, nc),
                nc ? 1.0 / nc : 0.0, res->macro_f1);
        fputs("<div class=pair><div class=wide>", fp);
        html_confusion(fp, &r->eval.levels[res->level], res);
        fputs("</div>", fp);
        html_prf(fp, &r->eval.levels[res->level], res);
        fputs("</div>", fp);
    }
    fputs("</body></html>\n", fp);
    if (!rc && ferror(fp)) rc = ns_error(NS_EIO, "%s: write failed", path);
    if (rc) {
        ns_outfile_abort(&out);
        return rc;
    }
    return ns_outfile_commit(&out);
}
