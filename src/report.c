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
    (*cmd)[(*len)++] = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            memcpy(*cmd + *len, "'\\''", 4);
            *len += 4;
        } else {
            (*cmd)[(*len)++] = *s;
        }
    }
    (*cmd)[(*len)++] = '\'';
    (*cmd)[*len] = '\0';
    return 1;
}

/* Add n packets of one expert message (a line of an Errors or Warns
 * section: "  FREQUENCY  GROUP  PROTOCOL  SUMMARY") to its kind. Groups are
 * one word but for tshark's "Response code" and "Request code"; protocols
 * are one word; the summary loses a bracketed tail (values of one packet). */
static void add_kind(ns_compliance *c, const char *severity, unsigned long long n, const char *rest)
{
    char group[24] = "", proto[24] = "", summary[96];
    rest += strspn(rest, " ");
    size_t len = !strncmp(rest, "Response code", 13) ? 13 : !strncmp(rest, "Request code", 12) ? 12 : strcspn(rest, " ");
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
    snprintf(summary, sizeof summary, "%.*s", (int)len, rest);
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

static int have_program(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4096];
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, prog);
        if (len && access(buf, X_OK) == 0) return 1;
        p += len + (p[len] == ':');
    }
    return 0;
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
    else if (!have_program("tshark") || !have_program("mergecap")) why = "tshark or mergecap is not installed";
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
        r->memo_s = omp_get_wtime() - t0;
        if (!rc && o->progress && in->compliance && in->real_captures && in->synth_captures)
            o->progress(o->progress_ctx, "compliance", 0, 1);
        compliance(r);
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
    ns_eval_sides_free(r->sides, r->eval.n_levels);
    ns_dist_report_free(&r->dist);
    ns_memo_report_free(&r->memo);
    if (r->has_trace) ns_trace_report_free(&r->trace);
    ns_eval_report_free(&r->eval);
    memset(r, 0, sizeof *r);
}

/* ---- table --------------------------------------------------------------------------- */

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

void ns_report_print(const ns_report *r, FILE *fp)
{
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
    if (r->has_compliance) {
        fprintf(fp, "\ncompliance (tshark, %.1f s): %9s %9s %9s %9s %9s\n", r->compliance_s, "packets", "malformed",
                "checksum", "errors", "warnings");
        const ns_compliance *c[2] = {&r->comp_real, &r->comp_synth};
        for (int i = 0; i < 2; i++)
            fprintf(fp, "  %-27s %9llu %9llu %9llu %9llu %9llu\n", i ? "synthetic" : "real",
                    (unsigned long long)c[i]->packets, (unsigned long long)c[i]->malformed,
                    (unsigned long long)c[i]->bad_checksums, (unsigned long long)c[i]->errors,
                    (unsigned long long)c[i]->warnings);
    } else {
        fprintf(fp, "\n%s\n", r->compliance_note);
    }
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
    fprintf(fp, "}},\n  \"coverage\": {\"like\": %s, \"levels\": [", r->in.like ? "true" : "false");
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
    fputs("]},\n  \"compliance\": ", fp);
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
    fprintf(fp, ",\n  \"seconds_by_part\": {\"classifier\": %.3f, \"distances\": %.3f, \"memorisation\": %.3f,"
                " \"compliance\": %.3f, \"trace\": %.3f}",
            r->eval_s, r->dist_s, r->memo_s, r->compliance_s, r->has_trace ? r->trace.seconds : 0);
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

/* A bar chart of real (blue) and synthetic (orange) shares. */
static void html_histogram(FILE *fp, const ns_dist_field *f)
{
    const ns_dist_hist *h = &f->hist;
    double top = 0;
    for (int k = 0; k < h->n; k++) top = fmax(top, fmax(h->real[k], h->synth[k]));
    if (top <= 0) top = 1;
    int bw = 22, H = 120, W = h->n * bw + 40;
    fprintf(fp, "<figure><figcaption>%s: JSD %.3f</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                "height=\"%d\" role=\"img\">",
            f->name, f->all.jsd, W, H + 70);
    fprintf(fp, "<line x1=\"30\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", H, W, H);
    for (int k = 0; k < h->n; k++) {
        double x = 32 + k * bw, hr = h->real[k] / top * (H - 10), hs = h->synth[k] / top * (H - 10);
        fprintf(fp, "<rect x=\"%.0f\" y=\"%.1f\" width=\"9\" height=\"%.1f\" fill=\"#3572b0\"><title>real %.4f</title></rect>",
                x, H - hr, hr, h->real[k]);
        fprintf(fp, "<rect x=\"%.0f\" y=\"%.1f\" width=\"9\" height=\"%.1f\" fill=\"#e8853d\"><title>synthetic %.4f</title></rect>",
                x + 9, H - hs, hs, h->synth[k]);
        fprintf(fp, "<text x=\"%.0f\" y=\"%d\" font-size=\"9\" transform=\"rotate(60 %.0f %d)\">", x + 4, H + 10, x + 4,
                H + 10);
        ns_html_text(fp, h->label[k]);
        fputs("</text>", fp);
    }
    fputs("</svg></figure>\n", fp);
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
    ".key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}";

static const char *const kind_label[] = {"nPrint", "NetFlow"};

static const ns_eval_result *find_result(const ns_eval_report *r, size_t lv, int kind, int run)
{
    for (size_t i = 0; i < r->n_results; i++)
        if (r->results[i].level == (int)lv && (int)r->results[i].kind == kind && (int)r->results[i].run == run)
            return &r->results[i];
    return NULL;
}

static void html_table2(FILE *fp, const ns_report *r)
{
    fputs("<h2>Classifier fidelity (Table 2)</h2><table><tr><th class=l>label</th><th class=l>features</th>"
          "<th>classes</th><th colspan=2>real &rarr; real</th><th colspan=2>TSTR</th><th colspan=2>TRTS</th></tr>"
          "<tr><th></th><th></th><th></th><th>acc</th><th>F1</th><th>acc</th><th>F1</th><th>acc</th><th>F1</th></tr>\n",
          fp);
    for (size_t lv = 0; lv < r->eval.n_levels; lv++)
        for (int k = 0; k < 2; k++) {
            if (!find_result(&r->eval, lv, k, NS_EVAL_REAL)) continue;
            fputs("<tr><td class=l>", fp);
            ns_html_text(fp, r->eval.levels[lv].name);
            fprintf(fp, "</td><td class=l>%s</td><td>%d</td>", kind_label[k], r->eval.levels[lv].n_classes);
            for (int run = 0; run < 3; run++) {
                const ns_eval_result *res = find_result(&r->eval, lv, k, run);
                if (res) fprintf(fp, "<td>%.3f</td><td>%.3f</td>", res->accuracy, res->macro_f1);
                else fputs("<td>-</td><td>-</td>", fp);
            }
            fputs("</tr>\n", fp);
        }
    fprintf(fp, "</table><p>Random forest, %d trees, first %d packets of each flow, seed %llu. TSTR: trained on "
                "synthetic flows, tested on real ones; TRTS: the other way round.</p>\n",
            r->eval.opts.trees, r->eval.opts.packets, (unsigned long long)r->eval.opts.seed);
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

static void html_memo_compliance(FILE *fp, const ns_report *r)
{
    const ns_memo_report *m = &r->memo;
    fprintf(fp, "<h2>Memorisation</h2><p>Hamming distance (values that differ, of %zu: first %d packets, "
                "addresses and ports blanked) to the nearest of %zu real training flows.</p>"
                "<table><tr><th class=l></th><th>flows</th><th>identical to a training flow</th><th>median</th>"
                "<th>5th percentile</th></tr><tr><td class=l>synthetic</td><td>%zu</td><td>%.4f</td><td>%.0f</td>"
                "<td>%.0f</td></tr>",
            m->values, m->packets, m->n_train, m->n_synth, m->synth_copied, m->synth_median, m->synth_p5);
    if (m->n_test)
        fprintf(fp, "<tr><td class=l>real test</td><td>%zu</td><td>%.4f</td><td>%.0f</td><td>%.0f</td></tr>", m->n_test,
                m->test_copied, m->test_median, m->test_p5);
    fputs("</table>\n<h2>Compliance</h2>", fp);
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
    } else {
        fputs("<p>", fp);
        ns_html_text(fp, r->compliance_note);
        fputs("</p>\n", fp);
    }
}

static void html_distances(FILE *fp, const ns_report *r)
{
    fprintf(fp, "<h2>Distributions</h2><p>Real training flows against synthetic ones, per field over the first %d "
                "packets, worst first (JSD base 2; EMD in the field's unit).</p><table><tr><th class=l>field</th>"
                "<th>JSD</th><th>TV</th><th>Hellinger</th><th>EMD</th><th class=l>unit</th></tr>\n",
            r->dist.packets);
    for (size_t i = 0; i < r->dist.n_fields && i < 20; i++) {
        const ns_dist_field *f = &r->dist.fields[i];
        char v[4][32];
        double x[4] = {f->all.jsd, f->all.tv, f->all.hellinger, f->all.emd};
        for (int k = 0; k < 4; k++) snprintf(v[k], sizeof v[k], isnan(x[k]) ? "-" : "%.4f", x[k]);
        fprintf(fp, "<tr><td class=l>%s</td>", f->name);
        html_shaded(fp, isnan(x[0]) ? 0 : x[0], v[0]);
        fprintf(fp, "<td>%s</td><td>%s</td><td>%s</td><td class=l>%s</td></tr>\n", v[1], v[2], v[3],
                f->unit ? f->unit : "");
    }
    fputs("</table>\n", fp);
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
                    if (isnan(f->per_class[c].jsd) || f == shown[0] || f == shown[1]) continue;
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
        if (named || (shown < 12 && f->all.jsd > 1e-9)) {
            html_histogram(fp, f);
            shown += !named;
        }
    }
}

static int html_images(FILE *fp, const ns_report *r, const char *tmp)
{
    const ns_eval_level *lv0 = &r->eval.levels[0];
    int packets = r->eval.opts.packets;
    fprintf(fp, "<h2>Flows as images</h2><p>The first %d flows of each %s, first %d packets each (a row per packet, "
                "a column per header bit: 1 red, 0 green, absent grey).</p><table><tr><th class=l>class</th>"
                "<th class=l>real</th><th class=l>synthetic</th></tr>\n",
            IMG_FLOWS, lv0->name, packets);
    int rc = NS_OK;
    for (int c = 0; c < lv0->n_classes && !rc; c++) {
        fputs("<tr><td class=l>", fp);
        ns_html_text(fp, lv0->classes[c]);
        fputs("</td><td>", fp);
        rc = flow_image(fp, &r->sides[NS_EVAL_TRAIN], c, packets, tmp);
        fputs("</td><td>", fp);
        if (!rc) rc = flow_image(fp, &r->sides[NS_EVAL_SYNTH], c, packets, tmp);
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
    return rc;
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
    html_table2(fp, r);
    ns_trace_html(r->has_trace ? &r->trace : NULL, r->trace_note, fp);
    if (r->has_synth) {
        html_memo_compliance(fp, r);
        rc = html_images(fp, r, tmp);
        unlink(tmp);
        html_distances(fp, r);
        html_coverage(fp, r);
    }
    fputs("<h2>Confusion matrices</h2>\n", fp);
    for (size_t i = 0; i < r->eval.n_results; i++) {
        const ns_eval_result *res = &r->eval.results[i];
        static const char *const runs[] = {"real &rarr; real", "TSTR", "TRTS"};
        fputs("<h3>", fp);
        ns_html_text(fp, r->eval.levels[res->level].name);
        fprintf(fp, ", %s features, %s: accuracy %.3f, macro-F1 %.3f</h3>\n", kind_label[res->kind], runs[res->run],
                res->accuracy, res->macro_f1);
        fputs("<div class=wide>", fp);
        html_confusion(fp, &r->eval.levels[res->level], res);
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
