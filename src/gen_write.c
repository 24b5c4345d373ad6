/* gen_write.c: generated flows to files (see gen_write.h). */
#include "netsynth/gen_write.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsynth/capture.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"
#include "netsynth/repr.h"

enum { W = NS_NP_MODEL_WIDTH };

int ns_gen_write_dataset(const ns_gen_flows *g, const ns_modelfile *m, const char *source, const char *path)
{
    ns_dataset ds = {0};
    ds.width = W;
    ds.row_bytes = (W + 3) / 4;
    ds.flags = (uint32_t)ns_repr_payload_bytes(&m->repr) << NS_DS_PAYLOAD_SHIFT;   /* the bytes its rows can hold */
    /* Flows past the window (generated window by window) raise the cap; past
     * what a version 1 file holds, the file gets totals (version 2). */
    ds.max_packets = (uint32_t)m->cfg.max_packets;
    for (size_t i = 0; i < g->n_flows; i++)
        if (g->len[i] > ds.max_packets) ds.max_packets = g->len[i];
    ds.n_flows = g->n_flows;
    ds.n_packets = g->n_rows;
    ds.n_attrs = m->n_attrs;
    ds.n_tokens = m->n_tokens;
    ds.n_files = 1;
    ds.attr_names = (const char **)m->attr_names;
    ds.attr_first = m->attr_first;
    ds.tokens = (const char **)m->tokens;
    ds.files = &source;
    ns_ds_flow *flows = calloc(g->n_flows + 1, sizeof *flows);
    ns_ds_totals *totals = ds.max_packets > NS_FLOW_MAX_PACKETS ? calloc(g->n_flows + 1, sizeof *totals) : NULL;
    uint8_t *bits = malloc(g->n_rows * ds.row_bytes + 1);
    int rc = NS_OK;
    if (!flows || !bits || (ds.max_packets > NS_FLOW_MAX_PACKETS && !totals)) {
        rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    int64_t clock = 0;
    for (size_t i = 0; i < g->n_flows; i++) {
        ns_ds_flow *f = &flows[i];
        f->first = g->first[i];
        f->n_packets = f->seen = g->len[i];
        f->start_ns = clock;
        clock += 1000000000; /* flows one second apart: they are independent draws */
        /* The protocol and ports as the first row says (blank when it has none). */
        const int8_t *row = g->rows + g->first[i] * W;
        int tcp = row[NS_NP_COL_TCP_SPRT] >= 0, udp = !tcp && row[NS_NP_COL_UDP_SPORT] >= 0;
        f->proto = tcp ? NS_PROTO_TCP : udp ? NS_PROTO_UDP : NS_PROTO_ICMP;
        f->ipv6 = row[NS_NP_COL_IPV4_VER] < 0 && row[NS_NP_COL_IPV6_VER] >= 0;
        if (tcp || udp) {
            uint32_t sp = (uint32_t)ns_nprint_get(row, tcp ? NS_NPF_TCP_SPRT : NS_NPF_UDP_SPORT);
            uint32_t dp = (uint32_t)ns_nprint_get(row, tcp ? NS_NPF_TCP_DPRT : NS_NPF_UDP_DPORT);
            int from_server = g->dir[g->first[i]];
            f->client_port = (uint16_t)(from_server ? dp : sp);
            f->server_port = (uint16_t)(from_server ? sp : dp);
        }
        if (totals) ns_gen_flow_totals(g, i, f->proto, &totals[i]);
    }
    ds.totals = totals;
    for (size_t k = 0; k < g->n_rows; k++) ns_dataset_pack_row(g->rows + k * W, W, bits + k * ds.row_bytes);
    ds.flows = flows;
    ds.labels = g->labels;
    ds.iat_ns = g->iat_ns;
    ds.dir = g->dir;
    ds.bits = bits;
    rc = ns_dataset_write(&ds, path);
done:
    free(flows);
    free(totals);
    free(bits);
    return rc;
}

void ns_gen_flow_totals(const ns_gen_flows *g, size_t i, uint8_t proto, ns_ds_totals *t)
{
    memset(t, 0, sizeof *t);
    int64_t span = 0;
    for (size_t k = g->first[i]; k < g->first[i] + g->len[i]; k++) {
        if (k > g->first[i] && g->iat_ns && g->iat_ns[k] > 0) span += g->iat_ns[k];
        const int8_t *row = g->rows + k * W;
        int d = g->dir[k] != 0;
        /* Unrepaired rows: a length no IPv4 packet has counts as the nearest one. */
        uint64_t tl = row[NS_NP_COL_IPV4_TL] >= 0   ? ns_nprint_get(row, NS_NPF_IPV4_TL)
                      : row[NS_NP_COL_IPV6_LEN] >= 0 ? 40 + ns_nprint_get(row, NS_NPF_IPV6_LEN)
                                                     : 20;
        t->packets[d]++;
        t->bytes[d] += tl < 20 ? 20 : tl > 65535 ? 65535 : tl;
        if (proto == NS_PROTO_TCP && row[NS_NP_COL_TCP_CWR] >= 0)
            t->tcp_flags[d] |= (uint8_t)ns_nprint_bits_get(row, NS_NP_COL_TCP_CWR, 8);
    }
    t->span_us = ns_ds_span_us(span, g->len[i]);
    uint8_t flags = t->tcp_flags[0] | t->tcp_flags[1];
    t->end = flags & 0x04 ? NS_DS_END_RST : flags & 0x01 ? NS_DS_END_FIN : NS_DS_END_CAPTURE;
}

int ns_gen_write_csv(const ns_gen_flows *g, const char *path)
{
    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    rc = ns_nprint_csv_write_header(o.fp, "flow", 1, NS_NP_MODEL_LAYERS);
    char index[32];
    for (size_t i = 0; i < g->n_flows && !rc; i++) {
        snprintf(index, sizeof index, "%zu", i);
        for (uint32_t r = 0; r < g->len[i] && !rc; r++) {
            size_t k = g->first[i] + r;
            rc = ns_nprint_csv_write_row(o.fp, index, g->iat_ns[k] / 1000, g->rows + k * W, NS_NP_MODEL_LAYERS);
        }
    }
    if (rc) {
        ns_outfile_abort(&o);
        return ns_error_wrap(rc, "%s", path);
    }
    return ns_outfile_commit(&o);
}

void ns_gen_flow_path(char *buf, size_t size, const char *path, size_t i)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    if (!dot || dot == base) snprintf(buf, size, "%s-%zu", path, i);
    else snprintf(buf, size, "%.*s-%zu%s", (int)(dot - path), path, i, dot);
}

/* ---- sets of files, staged ------------------------------------------------ */

/* p without trailing slashes ("/" stays "/"), malloc'd. */
static char *without_slashes(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    return strndup(p, n);
}

/* The directory part of path ("." for a bare name), in buf. */
static void dir_of(char *buf, size_t size, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, size, ".");
    else if (slash == path) snprintf(buf, size, "/");
    else snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* Make a rename in dir durable (as ns_outfile does for a file). */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Remove path: a file, or a directory with everything under it (staging
 * directories hold files, and --per-flow's staging directories of their own). */
static void remove_tree(const char *path, int depth)
{
    DIR *d = depth < 4 ? opendir(path) : NULL;
    if (!d) {
        if (unlink(path) != 0 && errno == EISDIR) rmdir(path);
        return;
    }
    char sub[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub, depth + 1);
    }
    closedir(d);
    rmdir(path);
}

/* A run holds an flock on its staging directory until it ends, so one that
 * can be locked was left by a run that died (kill -9, a crash, power loss):
 * remove those of this stem, and only those ("STEM.tmp." + 6 characters). */
static void remove_stale_stages(const char *base)
{
    char dir[4096];
    dir_of(dir, sizeof dir, base);
    const char *slash = strrchr(base, '/'), *name = slash ? slash + 1 : base;
    size_t n = strlen(name);
    DIR *d = opendir(dir);
    char path[4096 + 258];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, name, n) || strncmp(e->d_name + n, ".tmp.", 5) || strlen(e->d_name + n + 5) != 6)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) remove_tree(path, 0);
        close(fd);
    }
    if (d) closedir(d);
}

int ns_gen_stage_check(const char *dest, int whole)
{
    struct stat st;
    int there = stat(dest, &st) == 0;
    if (there && !S_ISDIR(st.st_mode)) return ns_error(NS_EIO, "%s: exists and is not a directory", dest);
    if (!there && !whole) return ns_error(NS_EIO, "%s: no such directory", dest);
    return NS_OK;
}

int ns_gen_stage_open(ns_gen_stage *s, const char *dest, const char *stem, int whole)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    int rc = ns_gen_stage_check(dest, whole);
    if (rc) return rc;
    char *base = without_slashes(stem ? stem : dest);
    size_t n = base ? strlen(base) + 16 : 0;
    s->dest = without_slashes(dest);
    s->tmp = base ? malloc(n) : NULL;
    s->whole = whole;
    if (!s->dest || !s->tmp) {
        free(base), free(s->dest), free(s->tmp);
        memset(s, 0, sizeof *s);
        return ns_error(NS_ENOMEM, "%s: out of memory", dest);
    }
    remove_stale_stages(base);
    snprintf(s->tmp, n, "%s.tmp.XXXXXX", base);
    free(base);
    if (!mkdtemp(s->tmp)) {
        rc = ns_error(NS_EIO, "%s: cannot create the staging directory %s: %s", dest, s->tmp, strerror(errno));
        free(s->dest), free(s->tmp);
        memset(s, 0, sizeof *s);
        return rc;
    }
    s->fd = open(s->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->fd >= 0) flock(s->fd, LOCK_EX);
    /* mkdtemp makes it 0700; when renamed into place it is the user's
     * directory, so it gets the mode mkdir would have given it. */
    mode_t mask = umask(0);
    umask(mask);
    chmod(s->tmp, 0777 & ~mask);
    return NS_OK;
}

void ns_gen_stage_path(const ns_gen_stage *s, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", s->tmp, name);
}

static void stage_free(ns_gen_stage *s)
{
    if (s->fd >= 0) close(s->fd); /* and with it the lock */
    free(s->dest), free(s->tmp);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

void ns_gen_stage_abort(ns_gen_stage *s)
{
    if (!s->tmp) return;
    remove_tree(s->tmp, 0);
    stage_free(s);
}

int ns_gen_stage_commit(ns_gen_stage *s)
{
    /* One rename when dest is absent or an empty directory of its own (not
     * a link to one: rename would replace the link). */
    struct stat st;
    int whole = s->whole && (lstat(s->dest, &st) != 0 || S_ISDIR(st.st_mode));
    if (whole && rename(s->tmp, s->dest) == 0) {
        char parent[4096];
        dir_of(parent, sizeof parent, s->dest);
        sync_dir(parent);
        stage_free(s);
        return NS_OK;
    }
    if (whole && errno != ENOTEMPTY && errno != EEXIST && errno != EBUSY && errno != EINVAL) {
        int rc = ns_error(NS_EIO, "%s: cannot rename %s to it: %s", s->dest, s->tmp, strerror(errno));
        ns_gen_stage_abort(s);
        return rc;
    }
    /* dest holds other files: ours go in one by one. */
    DIR *d = opendir(s->tmp);
    if (!d) {
        int rc = ns_error(NS_EIO, "%s: cannot read: %s", s->tmp, strerror(errno));
        ns_gen_stage_abort(s);
        return rc;
    }
    int rc = NS_OK;
    char from[4096], to[4096];
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        ns_gen_stage_path(s, e->d_name, from, sizeof from);
        snprintf(to, sizeof to, "%s/%s", s->dest, e->d_name);
        if (rename(from, to))
            rc = ns_error(NS_EIO, "%s: cannot move %s into place: %s", to, from, strerror(errno));
    }
    closedir(d);
    sync_dir(s->dest);
    ns_gen_stage_abort(s); /* removes what a failed move left, and the directory */
    return rc;
}

/* Repaired packets, in the order given, as a pcap or pcapng. */
static int write_frames(const ns_repair_out *r, int linktype, int format, const char *path)
{
    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    ns_pcap_writer w;
    rc = format == NS_GEN_PCAPNG ? ns_pcapng_writer_begin(&w, o.fp, linktype, 0)
                                 : ns_pcap_writer_begin(&w, o.fp, linktype, 0);
    for (size_t i = 0; i < r->n_pkts && !rc; i++) {
        const ns_repair_pkt *p = &r->pkts[i];
        rc = ns_pcap_write(&w, p->ts_ns, r->bytes + p->off, p->len, p->len);
    }
    if (rc) {
        ns_outfile_abort(&o);
        return ns_error_wrap(rc, "%s", path);
    }
    return ns_outfile_commit(&o);
}

int ns_gen_write_pcap(const ns_gen_flows *g, size_t first, size_t count, const ns_repair_opts *ro, int per_flow,
                      const char *path, uint64_t *written, ns_repair_stats *st)
{
    return ns_gen_write_capture(g, first, count, ro, per_flow, NS_GEN_PCAP, path, written, st);
}

int ns_gen_write_capture(const ns_gen_flows *g, size_t first, size_t count, const ns_repair_opts *ro, int per_flow,
                         int format, const char *path, uint64_t *written, ns_repair_stats *st)
{
    *written = 0;
    if (per_flow && !strcmp(path, "-"))
        return ns_error(NS_EARG, "-: one file per flow cannot go to standard output");
    int rc = ns_repair_check_opts(ro);
    if (rc) return rc;
    ns_repair_out r = {0};
    char name[4096], staged[4096];
    /* One file per flow: all of them or none (see ns_gen_stage). */
    ns_gen_stage stage = {0};
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (per_flow) {
        char dir[4096];
        dir_of(dir, sizeof dir, path);
        if ((rc = ns_gen_stage_open(&stage, dir, path, 0))) return ns_error_wrap(rc, "%s", path);
    }
    for (size_t i = 0; i < count && !rc; i++) {
        size_t f = first + i, at = g->first[f];
        /* The plan index is the flow's index in g, not in this file: the files
         * of one --per-class/--like directory never share a 5-tuple, so they
         * can be merged (eval's compliance does) without colliding. */
        rc = ns_repair_flow(ro, f, g->rows + at * W, g->dir + at, g->iat_ns + at, g->len[f], &r, st);
        if (rc) rc = ns_error_wrap(rc, "%s", path);
        if (rc || !per_flow) continue;
        ns_gen_flow_path(name, sizeof name, base, i);
        ns_gen_stage_path(&stage, name, staged, sizeof staged);
        rc = write_frames(&r, ro->linktype, format, staged);
        *written += r.n_pkts;
        ns_repair_out_clear(&r);
    }
    if (!rc && !per_flow && !(rc = ns_repair_merge(&r))) {
        rc = write_frames(&r, ro->linktype, format, path);
        *written = r.n_pkts;
    }
    ns_repair_out_free(&r);
    if (per_flow && rc) ns_gen_stage_abort(&stage);
    else if (per_flow) rc = ns_gen_stage_commit(&stage);
    return rc;
}

/* ---- a capture written as its flows are generated ---------------------------- */

int ns_gen_capture_open(ns_gen_capture *c, const ns_repair_opts *ro, int format, const char *path)
{
    c->written = c->rows = 0;
    c->pending_max = 0;
    c->ro_ = *ro;
    c->format_ = format;
    c->cont_ = NULL;
    memset(&c->pend_, 0, sizeof c->pend_), memset(&c->keep_, 0, sizeof c->keep_);
    c->last_ts_ = INT64_MIN;
    c->open_ = 0;
    int rc = ns_repair_check_opts(ro);
    if (rc || (rc = ns_outfile_open(&c->out_, path))) return rc;
    rc = format == NS_GEN_PCAPNG ? ns_pcapng_writer_begin(&c->w_, c->out_.fp, ro->linktype, 0)
                                 : ns_pcap_writer_begin(&c->w_, c->out_.fp, ro->linktype, 0);
    if (rc) {
        ns_outfile_abort(&c->out_);
        return ns_error_wrap(rc, "%s", path);
    }
    c->open_ = 1;
    return NS_OK;
}

/* Write the waiting packets earlier than `before` (all with `all`), in
 * order, the timestamps made strictly increasing as ns_repair_merge makes
 * them; the rest wait. Every packet still to come is later than `before`,
 * so what is written is a prefix of the merged order of the whole file. */
static int flush_due(ns_gen_capture *c, int64_t before, int all)
{
    ns_repair_out *p = &c->pend_;
    if (p->n_pkts > c->pending_max) c->pending_max = p->n_pkts;
    if (!p->n_pkts) return NS_OK;   /* pkts may still be NULL, which qsort must not get */
    qsort(p->pkts, p->n_pkts, sizeof *p->pkts, ns_repair_pkt_cmp);   /* as ns_repair_merge orders them */
    size_t i = 0;
    int rc = NS_OK;
    for (; i < p->n_pkts && (all || p->pkts[i].ts_ns < before); i++) {
        int64_t ts = p->pkts[i].ts_ns <= c->last_ts_ ? c->last_ts_ + 1000 : p->pkts[i].ts_ns;
        if ((rc = ns_pcap_write(&c->w_, ts, p->bytes + p->pkts[i].off, p->pkts[i].len, p->pkts[i].len))) 
            return ns_error_wrap(rc, "%s", c->out_.path);
        c->last_ts_ = ts;
        c->written++;
    }
    if (!i) return NS_OK;
    /* The rest, packed into the spare buffer, which then takes turns. */
    ns_repair_out *k = &c->keep_;
    ns_repair_out_clear(k);
    size_t bytes = 0;
    for (size_t j = i; j < p->n_pkts; j++) bytes += p->pkts[j].len;
    if (bytes > k->cap_bytes_) {
        uint8_t *b = realloc(k->bytes, bytes);
        if (!b) return ns_error(NS_ENOMEM, "%s: out of memory for waiting packets", c->out_.path);
        k->bytes = b, k->cap_bytes_ = bytes;
    }
    if (p->n_pkts - i > k->cap_pkts_) {
        ns_repair_pkt *q = realloc(k->pkts, (p->n_pkts - i) * sizeof *q);
        if (!q) return ns_error(NS_ENOMEM, "%s: out of memory for waiting packets", c->out_.path);
        k->pkts = q, k->cap_pkts_ = p->n_pkts - i;
    }
    for (size_t j = i; j < p->n_pkts; j++) {
        ns_repair_pkt q = p->pkts[j];
        memcpy(k->bytes + k->n_bytes, p->bytes + q.off, q.len);
        q.off = k->n_bytes;
        k->n_bytes += q.len;
        k->pkts[k->n_pkts++] = q;
    }
    ns_repair_out t = *p;
    *p = *k, *k = t;
    return rc;
}

int ns_gen_capture_round(void *ctx, const ns_gen_round *r)
{
    ns_gen_capture *c = ctx;
    const ns_gen_flows *v = r->win;
    int rc = NS_OK;
    if (!r->index) {
        if (!(c->cont_ = calloc(r->n + 1, sizeof *c->cont_)))
            return ns_error(NS_ENOMEM, "%s: out of memory for %zu flows", c->out_.path, r->n);
        for (size_t i = 0; i < r->n; i++) c->rows += r->whole[i], c->cont_[i].total = r->whole[i];
        if (c->plan && (rc = c->plan(c->plan_ctx, v, &c->ro_))) return rc;
    }
    int64_t before = INT64_MAX;
    int going = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!v->len[i]) continue;
        size_t at = v->first[i];
        rc = ns_repair_flow_part(&c->ro_, c->flow0 + i, v->rows + at * W, v->dir + at, v->iat_ns + at, v->len[i],
                                 &c->cont_[i], &c->pend_, c->st);
        if (rc) return ns_error_wrap(rc, "%s", c->out_.path);
        /* A flow with rows to come holds back what is later than its latest packet. */
        if (r->done[i] + v->len[i] < r->whole[i] && c->cont_[i].rows && !c->cont_[i].ended) {
            going = 1;
            if (c->cont_[i].ts_ns < before) before = c->cont_[i].ts_ns;
        }
    }
    return flush_due(c, before, !going);
}

int ns_gen_capture_close(ns_gen_capture *c, int ok)
{
    int rc = NS_OK;
    if (c->open_ && ok) rc = flush_due(c, INT64_MAX, 1);
    if (c->open_ && ok && !rc) rc = ns_outfile_commit(&c->out_);
    else if (c->open_) ns_outfile_abort(&c->out_);
    c->open_ = 0;
    free(c->cont_), c->cont_ = NULL;
    ns_repair_out_free(&c->pend_), ns_repair_out_free(&c->keep_);
    return rc;
}

/* ---- a plan's directory ------------------------------------------------------ */

int ns_gen_write_dir(const ns_gen_flows *g, const ns_modelfile *m, const ns_gen_plan *p, const char *source,
                     const ns_repair_opts *ro, int per_flow, const char *dir, uint64_t *written, ns_repair_stats *st)
{
    ns_gen_stage stage;
    int rc = ns_gen_stage_open(&stage, dir, NULL, 1);
    if (rc) return rc;
    char path[4096], name[512];
    ns_gen_stage_path(&stage, "labels.tsv", path, sizeof path);
    ns_outfile tsv;
    if ((rc = ns_outfile_open(&tsv, path))) {
        ns_gen_stage_abort(&stage);
        return rc;
    }
    fputs("path", tsv.fp);
    for (uint32_t a = 0; a < m->n_attrs; a++) fprintf(tsv.fp, "\t%s", m->attr_names[a]);
    fputc('\n', tsv.fp);
    for (size_t k = 0, first = 0; k < p->n && !rc; first += p->req[k].n, k++) {
        const ns_gen_request *q = &p->req[k];
        /* A request of several captures (tmodel.h lays them out): NAME-i.pcap each. */
        size_t caps = per_flow || q->n_caps < 2 ? 1 : q->n_caps, at = first;
        if (written) written[k] = 0;
        for (size_t c = 0; c < caps && !rc; c++) {
            size_t n = caps == 1 ? q->n : q->caps[c];
            snprintf(name, sizeof name, "%s.pcap", q->name);
            if (caps > 1) {
                char base[512];
                snprintf(base, sizeof base, "%s", name);
                ns_gen_flow_path(name, sizeof name, base, c);
            }
            ns_gen_stage_path(&stage, name, path, sizeof path);
            uint64_t n_pkts;
            if ((rc = ns_gen_write_pcap(g, at, n, ro, per_flow, path, &n_pkts, st))) break;
            if (written) written[k] += n_pkts;
            at += n;
            for (size_t f = 0; f < (per_flow ? n : 1); f++) {
                char flow[600];
                if (per_flow) ns_gen_flow_path(flow, sizeof flow, name, f);
                fprintf(tsv.fp, "%s", per_flow ? flow : name);
                for (uint32_t a = 0; a < m->n_attrs; a++)
                    fprintf(tsv.fp, "\t%s", q->labels[a] >= 0 ? ns_modelfile_token_value(m, q->labels[a]) : "");
                fputc('\n', tsv.fp);
            }
        }
    }
    if (rc) ns_outfile_abort(&tsv);
    else rc = ns_outfile_commit(&tsv);
    ns_gen_stage_path(&stage, "synthetic.ds", path, sizeof path);
    if (!rc) rc = ns_gen_write_dataset(g, m, source, path);
    if (rc) {
        ns_gen_stage_abort(&stage);
        return ns_error_wrap(rc, "%s: nothing written", dir);
    }
    return ns_gen_stage_commit(&stage);
}
