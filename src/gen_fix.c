/* gen_fix.c: constraints on generated rows (gen_fix.h) and the clamps that
 * hold sampled rows to them and to control maps (gen_clamp.h). */
#include "netsynth/gen_fix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen_clamp.h"
#include "netsynth/error.h"
#include "netsynth/packet.h"

void ns_gen_fix_init(ns_gen_fix *f)
{
    f->n = 0;
    memset(f->col, NS_GEN_FREE, sizeof f->col);
}

/* Column c of direction d takes v, when it agrees with what is there. */
static int fix_put(ns_gen_fix *f, int d, int c, int v)
{
    int8_t *at = &f->col[d][c];
    if (*at == NS_GEN_FREE || *at == v || (*at == NS_GEN_PRESENT && v >= 0)) *at = (int8_t)v;
    else if (!(v == NS_GEN_PRESENT && *at >= 0)) return 0;
    return 1;
}

/* The same value v in width columns from c, both directions; 0 on a contradiction. */
static int fix_span(ns_gen_fix *f, int c, int width, int v)
{
    int ok = 1;
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < width; k++) ok &= fix_put(f, d, c + k, v);
    return ok;
}

/* The number `value` in width columns from c (most significant first) of direction d. */
static int fix_number(ns_gen_fix *f, int d, int c, int width, uint64_t value)
{
    int ok = 1;
    for (int k = 0; k < width; k++) {
        int shift = width - 1 - k;
        ok &= fix_put(f, d, c + k, shift < 64 ? (int)(value >> shift & 1) : 0);
    }
    return ok;
}

/* IPv4 with this transport: its fixed header present, the others absent. */
static int fix_proto(ns_gen_fix *f, int proto)
{
    static const struct { int col, bits, proto, fixed_bits; } l4[3] = {
        {NS_NP_COL_TCP, NS_NP_BITS_TCP, NS_PROTO_TCP, NS_NP_COL_TCP_OPT - NS_NP_COL_TCP},
        {NS_NP_COL_UDP, NS_NP_BITS_UDP, NS_PROTO_UDP, NS_NP_BITS_UDP},
        {NS_NP_COL_ICMP, NS_NP_BITS_ICMP, NS_PROTO_ICMP, NS_NP_BITS_ICMP}};
    int ok = fix_span(f, NS_NP_COL_IPV4, NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4, NS_GEN_PRESENT);
    for (int d = 0; d < 2; d++) ok &= fix_number(f, d, NS_NP_COL_IPV4_PROTO, NS_NP_BITS_IPV4_PROTO, (uint64_t)proto);
    for (int i = 0; i < 3; i++) {
        if (l4[i].proto == proto) ok &= fix_span(f, l4[i].col, l4[i].fixed_bits, NS_GEN_PRESENT);
        else ok &= fix_span(f, l4[i].col, l4[i].bits, -1);
    }
    return ok;
}

static int parse_proto(const char *v)
{
    return !strcmp(v, "tcp") || !strcmp(v, "6") ? 6 : !strcmp(v, "udp") || !strcmp(v, "17") ? 17
           : !strcmp(v, "icmp") || !strcmp(v, "1") ? 1 : -1;
}

int ns_gen_fix_add(ns_gen_fix *f, const char *text)
{
    static const ns_nprint_field_id by_repair[] = {NS_NPF_IPV4_SRC,   NS_NPF_IPV4_DST,  NS_NPF_IPV4_CKSUM,
                                                   NS_NPF_TCP_CKSUM,  NS_NPF_UDP_CKSUM, NS_NPF_ICMP_CKSUM,
                                                   NS_NPF_TCP_SPRT,   NS_NPF_UDP_SPORT};
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1])
        return ns_error(NS_EARG, "--fix %s: expected FIELD=VALUE, e.g. tcp_dprt=443 or proto=udp", text);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(eq - text) < 63 ? (int)(eq - text) : 63, text);
    const char *value = eq + 1;
    ns_gen_fix next = *f;
    int ok;
    if (!strcmp(name, "proto")) {
        int proto = parse_proto(value);
        if (proto < 0) return ns_error(NS_EARG, "--fix %s: proto is tcp, udp or icmp", text);
        ok = fix_proto(&next, proto);
    } else {
        int id = ns_nprint_field_find(name);
        int col = id < 0 ? -1 : ns_nprint_field_col(NS_NP_MODEL_LAYERS, id);
        if (col < 0) return ns_error(NS_EARG, "--fix %s: no field '%s' in the model's rows (ipv4, tcp, udp, icmp)", text, name);
        size_t n;
        const ns_nprint_field *fd = &ns_nprint_fields(&n)[id];
        /* A fix holds rows to IPv4 (its protocol and header present): an
         * IPv6 field would ask for both headers at once. */
        if (fd->layer == NS_NP_IPV6)
            return ns_error(NS_EARG, "--fix %s: fixed rows are IPv4; ipv6 fields are the model's to choose", text);
        for (size_t i = 0; i < sizeof by_repair / sizeof by_repair[0]; i++)
            if (id == (int)by_repair[i])
                return ns_error(NS_EARG, "--fix %s: repair sets %s itself (addresses from --client-net/--server-net, "
                                         "checksums, the client's ephemeral port)", text, name);
        char *end;
        errno = 0;
        int hex = value[0] == '0' && (value[1] == 'x' || value[1] == 'X');
        unsigned long long v = strtoull(value, &end, hex ? 16 : 10);
        if (end == value || *end || errno || value[0] == '-')
            return ns_error(NS_EARG, "--fix %s: '%s' is not a number", text, value);
        if (fd->width < 64 && v >> fd->width)
            return ns_error(NS_EARG, "--fix %s: %llu does not fit %s's %d bits", text, v, name, fd->width);
        if (id == NS_NPF_IPV4_TTL && !v) return ns_error(NS_EARG, "--fix %s: a packet with TTL 0 is never sent", text);
        if (id == NS_NPF_IPV4_VER && v != 4) return ns_error(NS_EARG, "--fix %s: the model's rows are IPv4", text);
        ok = fd->layer == NS_NP_TCP ? fix_proto(&next, NS_PROTO_TCP) : fd->layer == NS_NP_UDP ? fix_proto(&next, NS_PROTO_UDP)
             : fd->layer == NS_NP_ICMP ? fix_proto(&next, NS_PROTO_ICMP)
             : fix_span(&next, NS_NP_COL_IPV4, NS_NP_COL_IPV4_OPT - NS_NP_COL_IPV4, NS_GEN_PRESENT);
        /* A server->client row has the server's port as its source. */
        int back = id == NS_NPF_TCP_DPRT ? NS_NP_COL_TCP_SPRT : id == NS_NPF_UDP_DPORT ? NS_NP_COL_UDP_SPORT : col;
        ok &= fix_number(&next, 0, col, fd->width, v) & fix_number(&next, 1, back, fd->width, v);
    }
    if (!ok) return ns_error(NS_EARG, "--fix %s contradicts an earlier --fix", text);
    next.n++;
    *f = next;
    return NS_OK;
}

/* ---- clamps ------------------------------------------------------------- */

void gen_clamp_init(gen_clamp *cl, const ns_gen_fix *fix, const ns_repr *r)
{
    for (int c = 0; c < NS_NP_MODEL_WIDTH; c++) cl->jof[c] = -1;
    for (int j = 0; j < r->n_bits; j++) cl->jof[r->cols[j]] = j;
    for (int d = 0; d < 2; d++) {
        cl->n[d] = 0;
        for (int c = 0; fix && c < NS_NP_MODEL_WIDTH; c++)
            if (fix->col[d][c] != NS_GEN_FREE && cl->jof[c] >= 0)
                cl->j[d][cl->n[d]] = cl->jof[c], cl->v[d][cl->n[d]++] = fix->col[d][c];
    }
}

/* Inpainting: the clamped values of an x_0 estimate row (direction from its own channel) set to their encodings. */
void gen_clamp_x0(const gen_clamp *cl, int K, float *x)
{
    int d = x[2 * K + 1] > 0;
    for (int i = 0; i < cl->n[d]; i++) {
        int j = cl->j[d][i], v = cl->v[d][i];
        x[2 * j] = v == -1 ? -1.0f : 1.0f;
        if (v != NS_GEN_PRESENT) x[2 * j + 1] = v == 1 ? 1.0f : v == 0 ? -1.0f : 0.0f;
    }
}

/* The constraints on a decoded row; a "present" value decoded absent takes its likelier bit. */
void gen_clamp_row(const gen_clamp *cl, const ns_gen_fix *fix, const float *out, int8_t *row, int d)
{
    for (int c = 0; c < NS_NP_MODEL_WIDTH; c++) {
        int v = fix->col[d][c], j = cl->jof[c];
        if (v == NS_GEN_FREE || (v == NS_GEN_PRESENT && row[c] >= 0)) continue;
        if (v == NS_GEN_PRESENT) row[c] = (int8_t)(j >= 0 && out[3 * j + 2] > out[3 * j + 1]);
        else row[c] = (int8_t)v;
    }
}

void gen_hard_init(gen_hard *h, const ns_repr *r)
{
    static const int protos[3] = {NS_PROTO_TCP, NS_PROTO_UDP, NS_PROTO_ICMP};
    for (int i = 0; i < 3; i++) {
        ns_gen_fix_init(&h->fix[i]);
        fix_proto(&h->fix[i], protos[i]);
        gen_clamp_init(&h->cl[i], &h->fix[i], r);
    }
    h->flag_col = NS_NP_COL_TCP_CWR;
}

static int hard_index(const ns_control_row *m) { return m->proto == 6 ? 0 : m->proto == 17 ? 1 : m->proto == 1 ? 2 : -1; }

/* The x_0 estimate of one row held to its map row. */
void gen_hard_x0(const gen_hard *h, const ns_control_row *m, int K, float *x)
{
    x[2 * K + 1] = m->dir ? 1.0f : -1.0f;
    int i = hard_index(m);
    if (i < 0) return;
    gen_clamp_x0(&h->cl[i], K, x);
    for (int k = 0; i == 0 && k < 8; k++) {
        int j = h->cl[0].jof[h->flag_col + k];
        if (j >= 0) x[2 * j] = 1.0f, x[2 * j + 1] = m->flags >> (7 - k) & 1 ? 1.0f : -1.0f;
    }
}

/* A decoded row held to its map row. */
void gen_hard_row(const gen_hard *h, const ns_control_row *m, const float *out, int8_t *row, uint8_t *dir)
{
    *dir = m->dir;
    int i = hard_index(m);
    if (i < 0) return;
    gen_clamp_row(&h->cl[i], &h->fix[i], out, row, m->dir);
    for (int k = 0; i == 0 && k < 8; k++) row[h->flag_col + k] = (int8_t)(m->flags >> (7 - k) & 1);
}
