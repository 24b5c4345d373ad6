/* app.c: application payloads for repair (see app.h). */
#include "app.h"

#include <math.h>
#include <string.h>

#include "netsynth/bytes.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"
#include "netsynth/rng.h"

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v); }

/* One splitmix64 step: fill decisions seeded per flow (and query), never drawn from the writer's rng,
 * so that a flow's bytes do not depend on which flows were written before it. */
static uint64_t mix(uint64_t h) { return ns_rng_mix(h + 0x9e3779b97f4a7c15ull); }

/* BOOTP's transaction id: one per exchange, a client's Discover and Request and the server's
 * Offer and ACK alike (RFC 2131 4.1); a generated flow is one exchange. Never 0. */
static uint32_t dhcp_xid(const app_flow *f) { return (uint32_t)(mix(f->seed ^ 0xd4c9) >> 32) | 1; }

/* The message a DHCP packet is (option 53): the client's Discover, its Request once the server has
 * offered; the server's Offer to a Discover, its ACK to a Request. */
static uint8_t dhcp_type(app_flow *f, int from_server)
{
    uint8_t t = from_server ? (f->dhcp_type == 3 || f->dhcp_type == 5 ? 5 : 2)
                            : (f->dhcp_type == 2 || f->dhcp_type == 3 || f->dhcp_type == 5 ? 3 : 1);
    return f->dhcp_type = t;
}

/* Servers whose dissectors reject a payload of zeros (a DNS message needs its
 * header, NTP 48 bytes, DHCP its magic cookie): their payload starts with
 * the smallest valid message, and a shorter (non-empty) one grows to it.
 * Other ports get zeros (or random bytes): most dissectors take them, a few
 * (RIP, OpenVPN, SNMP, ...) would call them malformed. */
enum { APP_DNS, APP_DNS_TCP, APP_NTP, APP_DHCP, APP_COAP, APP_TFTP, APP_SSH, APP_A21, APP_TLS, APP_HTTP, APP_TCP, APP_UDP, APP_OPAQUE, APP_SSDP, APP_MQTT, APP_BER };
struct app {
    uint8_t proto;
    uint16_t port, min;
    int kind;
};

static const app apps[] = {
    {NS_PROTO_UDP, 53, 12, APP_DNS},   {NS_PROTO_UDP, 5353, 12, APP_DNS}, {NS_PROTO_UDP, 5355, 12, APP_DNS}, {NS_PROTO_UDP, 137, 12, APP_DNS},
    {NS_PROTO_TCP, 53, 14, APP_DNS_TCP}, {NS_PROTO_TCP, 5353, 14, APP_DNS_TCP}, {NS_PROTO_TCP, 5355, 14, APP_DNS_TCP},
    {NS_PROTO_UDP, 123, 48, APP_NTP},  {NS_PROTO_TCP, 123, 48, APP_NTP},  {NS_PROTO_UDP, 67, 300, APP_DHCP}, {NS_PROTO_UDP, 68, 300, APP_DHCP},
    {NS_PROTO_UDP, 5683, 4, APP_COAP}, {NS_PROTO_UDP, 69, 4, APP_TFTP},
    {NS_PROTO_TCP, 22, 16, APP_SSH}, /* tshark calls a 1-byte "encrypted packet" malformed */
    {NS_PROTO_UDP, 23272, 9, APP_A21}, /* tshark reads this port (eQ-3 MAX!'s) as 3GPP2 A21 */
    /* no fill: records when the bytes start one. 50443: TP-Link's plugs (flow-services.tsv: TLS by server
     * port 443 1,454 flows, 8443 305, 50443 42, no other port over 8) */
    {NS_PROTO_TCP, 443, 0, APP_TLS},   {NS_PROTO_TCP, 8443, 0, APP_TLS}, {NS_PROTO_TCP, 50443, 0, APP_TLS},
    /* ports whose tshark dissectors took the model's bytes there for a message and found it
     * malformed (DICOM's association items, RADIUS's attributes: one packet each in the IoT run),
     * where repair has no message to write: the fill (zeros, or random bytes) */
    {NS_PROTO_TCP, 104, 0, APP_OPAQUE}, {NS_PROTO_UDP, 1645, 0, APP_OPAQUE}, {NS_PROTO_UDP, 1646, 0, APP_OPAQUE},
    {NS_PROTO_UDP, 1812, 0, APP_OPAQUE}, {NS_PROTO_UDP, 1813, 0, APP_OPAQUE},
    {NS_PROTO_TCP, 210, 0, APP_BER}, /* Z39.50 (BER PDUs): its dissector threw on learned bytes and on zeros alike */
    {NS_PROTO_TCP, 1883, 0, APP_MQTT}, /* tshark reads the port as MQTT: packets framed by mqtt_segment */
    {NS_PROTO_UDP, 1900, 0, APP_SSDP}, /* HTTP over UDP: a start line a few bits off is made SSDP's (ssdp_start) */
    /* tshark's HTTP ports (4.0, `tshark -G decodes`): it reads every segment there as HTTP */
    {NS_PROTO_TCP, 80, 0, APP_HTTP},   {NS_PROTO_TCP, 631, 0, APP_HTTP},  {NS_PROTO_TCP, 1900, 0, APP_HTTP},
    {NS_PROTO_TCP, 2710, 0, APP_HTTP}, {NS_PROTO_TCP, 2869, 0, APP_HTTP}, {NS_PROTO_TCP, 3128, 0, APP_HTTP},
    {NS_PROTO_TCP, 3132, 0, APP_HTTP}, {NS_PROTO_TCP, 3689, 0, APP_HTTP}, {NS_PROTO_TCP, 5985, 0, APP_HTTP},
    {NS_PROTO_TCP, 8080, 0, APP_HTTP}, {NS_PROTO_TCP, 8088, 0, APP_HTTP}, {NS_PROTO_TCP, 11371, 0, APP_HTTP},
};
/* Any other port: framed by what its learned bytes start (a TLS record, an HTTP message, DNS). */
static const app app_tcp = {NS_PROTO_TCP, 0, 0, APP_TCP}, app_udp = {NS_PROTO_UDP, 0, 0, APP_UDP};

/* RFC 6762 18.1: multicast DNS queries and responses carry id 0 (the corpus's do). */
static uint16_t dns_id(const app *a, uint16_t id) { return a->port == 5353 ? 0 : id; }

const app *app_of(uint8_t proto, uint16_t server_port)
{
    for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++)
        if (apps[i].proto == proto && apps[i].port == server_port) return &apps[i];
    return proto == NS_PROTO_TCP ? &app_tcp : proto == NS_PROTO_UDP ? &app_udp : NULL;
}

int app_client_first(const app *a) { return a && (a->kind == APP_TLS || a->kind == APP_HTTP); }

int app_len(const app *a, int len) { return a && len > 0 && len < a->min ? a->min : len; }

/* The application's header over the first bytes of a payload of len >= a->min.
 * id is the DNS transaction id (a fresh one per query, the query's in its
 * answer): with one id for every message tshark took each for a retransmission. */
static void app_fill(const app *a, app_flow *f, uint8_t *p, int len, int from_server, uint16_t id)
{
    switch (a->kind) {
    case APP_DNS:
        memset(p, 0, 12), p[2] = from_server ? 0x80 : 0;                    /* QR; no records */
        if (from_server && a->port == 5353) p[2] = 0x84;                    /* mDNS answers are authoritative */
        put16(p, dns_id(a, id));
        break;
    case APP_COAP:
        p[0] = 0x40, p[1] = from_server ? 0x45 : 0x01, p[2] = p[3] = 0;      /* 2.05 Content / GET */
        if (len > 4) p[4] = 0xff;                                           /* the rest is payload */
        break;
    case APP_DNS_TCP:
        put16(p, (uint32_t)(len - 2));
        memset(p + 2, 0, 12), p[4] = from_server ? 0x80 : 0;
        p[2] = (uint8_t)(id >> 8), p[3] = (uint8_t)id;
        break;
    case APP_TFTP:
        p[0] = 0, p[1] = 3, p[2] = 0, p[3] = 1;                               /* DATA, block 1 */
        break;
    case APP_A21: /* message type 0, a correlation id, then elements that cover the rest exactly */
        memset(p, 0, 7);
        for (int at = 7; at < len;) {
            int rest = len - at - 2, n = rest > 255 ? 255 : rest;
            if (rest - n == 1) n--; /* never leave one byte: no element fits it */
            p[at] = 0, p[at + 1] = (uint8_t)n;
            at += 2 + n;
        }
        break;
    case APP_SSH: /* a binary packet: length of the rest, 4 bytes of padding */
        p[0] = (uint8_t)((len - 4) >> 24), p[1] = (uint8_t)((len - 4) >> 16);
        p[2] = (uint8_t)((len - 4) >> 8), p[3] = (uint8_t)(len - 4), p[4] = 4;
        break;
    case APP_NTP:
        memset(p, 0, 48), p[0] = from_server ? 0x24 : 0x23;                  /* version 4, client / server */
        break;
    case APP_DHCP:
        /* BOOTP's least message, 300 bytes (RFC 1542): nDPI 4.2 takes none under 248 */
        memset(p, 0, a->min);
        p[0] = from_server ? 2 : 1, p[1] = 1, p[2] = 6;                      /* reply / request, Ethernet */
        put32(p + 4, dhcp_xid(f));
        if (f->client) { /* the client's hardware address (its frames' MAC); the server offers it its address */
            p[28] = 0x02, p[29] = 0, put32(p + 30, f->client);
            if (from_server) put32(p + 16, f->client);
        }
        p[236] = 99, p[237] = 130, p[238] = 83, p[239] = 99;               /* magic cookie */
        p[240] = 53, p[241] = 1, p[242] = dhcp_type(f, from_server);
        int at = 243;
        if (f->gw_prefix > 0 && f->gw_prefix < 32 && f->client) { /* the gateway leases: it names itself server,
                                                                   * router and resolver */
            uint32_t mask = f->gw_prefix > 1 ? ~0u << (33 - f->gw_prefix) : 0, gw = (f->client | ~mask) - 1;
            uint32_t opt[5][2] = {{54, gw}, {51, 86400}, {1, mask}, {3, gw}, {6, gw}};
            int n = from_server ? 5 : p[242] == 3 ? 1 : 0;   /* a Request names the server it answers */
            if (p[242] == 3) p[at] = 50, p[at + 1] = 4, put32(p + at + 2, f->client), at += 6;
            for (int i = 0; i < n; i++) p[at] = (uint8_t)opt[i][0], p[at + 1] = 4, put32(p + at + 2, opt[i][1]), at += 6;
        }
        p[at] = 255;
        break;
    }
}

/* A name of exactly n bytes (1, the root, or 3 to 255) at q: labels of 3
 * to 12 letters and digits (a letter first, a hyphen now and then inside),
 * drawn from *h, as host names look, then `tail` (a label: "example", a
 * name no one owns, RFC 2606; "local" for mDNS) where it fits. Returns the
 * end. */
static uint8_t *host_name(uint8_t *q, int n, uint64_t *h, const char *tail)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz", digits[] = "0123456789";
    int left = n - 1, t = (int)strlen(tail) + 1;
    int use_tail = left == t || left >= t + 2;   /* never leave 1 byte: no label fits it */
    for (left -= use_tail ? t : 0; left > 0;) {
        *h = mix(*h);
        int label = 3 + (int)(*h % 10);
        if (label > left - 1) label = left - 1;
        if (label > 63) label = 63;
        if (left - 1 - label == 1) label--;
        *q++ = (uint8_t)label;
        for (int c = 0; c < label; c++) {
            uint64_t r = mix(*h + (uint64_t)c + 1);
            int digit = c && r % 5 == 0, hyphen = c && c + 1 < label && r % 17 == 1 && q[-1] != '-';
            *q++ = (uint8_t)(hyphen ? '-' : digit ? digits[r >> 8 & 7] : letters[(r >> 16) % 26]);
        }
        left -= 1 + label;
    }
    if (use_tail) *q++ = (uint8_t)(t - 1), memcpy(q, tail, (size_t)t - 1), q += t - 1;
    *q++ = 0;
    return q;
}

/* DNS-SD service types (RFC 6763) from IANA's Service Name registry, the
 * kinds a device's instance is of (`_name._tcp.local`; the IoT corpus's
 * devices announce `_hap`, `_http`, `_dhnap`, ...: names of the captures'
 * own are not used). */
static const char *const mdns_types[] = {"_http", "_hap", "_homekit", "_airplay", "_raop", "_ipp", "_printer",
                                         "_googlecast", "_spotify-connect", "_device-info", "_daap", "_smb",
                                         "_companion-link", "_mqtt", "_ssh", "_https"};
enum { MDNS_TYPES = (int)(sizeof mdns_types / sizeof mdns_types[0]) };

/* A DNS-SD instance label of n bytes (1 to 63) at q, as devices name
 * themselves: words, then a space and hex digits of its address
 * ("Bridge 2476FF", "Living Room Plug 3F2A"). */
static uint8_t *instance_label(uint8_t *q, int n, uint64_t h)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char *const words[] = {"Bridge", "Camera", "Plug", "Sensor", "Switch", "Light", "Hub",
                                        "Speaker", "Living Room", "Kitchen", "Office", "Hall", "Smart", "Home"};
    enum { WORDS = (int)(sizeof words / sizeof words[0]) };
    char s[64];
    int at = 0;
    int used = 0;
    h = mix(h ^ 0x696e7374);
    for (int tries = 0; tries < 3; tries++) { /* up to three words, each once */
        h = mix(h);
        int wi = (int)(h % WORDS), sep = at > 0, fits = 0;
        for (int k = 0; k < WORDS && !fits; k++, wi = (wi + 1) % WORDS) /* the first that fits, unused */
            fits = !(used >> wi & 1) && at + sep + (int)strlen(words[wi]) + 3 <= n;
        wi = (wi + WORDS - 1) % WORDS;
        if (!fits || (tries && n - at < 12)) break; /* room left for " " and hex digits */
        const char *w = words[wi];
        int l = (int)strlen(w);
        used |= 1 << wi;
        if (sep) s[at++] = ' ';
        memcpy(s + at, w, (size_t)l), at += l;
    }
    if (at && at < n) {
        char c = n - at >= 2 ? ' ' : hex[h >> 8 & 15];
        s[at++] = c;
    }
    for (int c = 0; at < n; c++) s[at++] = hex[mix(h + (uint64_t)c) % 16];
    *q++ = (uint8_t)n, memcpy(q, s, (size_t)n);
    return q + n;
}

/* A TXT record's data of exactly n bytes (1 or more) at q: DNS-SD's
 * key=value strings (RFC 6763 6) with hex values, an empty string for a
 * single byte. */
static uint8_t *txt_strings(uint8_t *q, int n, uint64_t h)
{
    static const char hex[] = "0123456789abcdef";
    static const char *const keys[] = {"txtvers=", "id=", "md=", "pv=", "sf=", "ci=", "s#=", "c#=", "ff=", "sh="};
    for (int k = 0; n > 0; k++) {
        int len = n - 1 <= 40 ? n - 1 : 3 + (int)(mix(h + (uint64_t)k) % 24);
        const char *key = keys[k % 10];
        int kl = (int)strlen(key) < len ? (int)strlen(key) : 0;
        *q++ = (uint8_t)len, memcpy(q, key, (size_t)kl);
        for (int c = kl; c < len; c++) q[c] = (uint8_t)hex[mix(h ^ (uint64_t)(k << 8 | c)) % 16];
        q += len, n -= 1 + len;
    }
    return q;
}

/* A header-only mDNS message over len bytes (12 of header) as devices send
 * them (RFC 6762 8, RFC 6763): a device probes for its DNS-SD instance
 * (`Bridge 2476FF._hap._tcp.local`, the service type from IANA's
 * registry) three times, asking ANY for it with the records it claims in
 * the authority section (SRV to its host name under `local.`, TXT), then
 * announces them in responses (PTR from the type, SRV, TXT); the TXT
 * record's key=value strings, else the instance label, take the bytes the
 * rows give. mdns_n: the flow's mDNS messages before this one. 0 when len
 * has no room for it (the caller asks host names, as for unicast DNS). */
static int mdns_message(uint8_t *msg, int len, uint64_t h, int mdns_n)
{
    int announce = mdns_n >= 3;
    h = mix(h ^ 0x6d646e73);
    const char *t = mdns_types[h % MDNS_TYPES];
    int lt = (int)strlen(t), tname = 1 + lt + 12;
    /* the first part: a question for the instance, or a PTR record from the type to it (n = 1) */
    int first = announce ? tname + 10 + 2 + 2 : 2 + tname + 4, srv = 2 + 10 + 6 + 1 + 10 + 2, txt = 2 + 10 + 1;
    int r = len - 12 - first, n = 1, with_srv = r >= srv + txt, with_txt = r >= txt;
    if (r < 0) return 0;
    r -= (with_srv ? srv : 0) + (with_txt ? txt : 0);
    if (!with_txt) { /* the instance label takes the rest, up to 24 bytes */
        if (r > 23) return 0;
        n += r, r = 0;
    } else { /* an instance label of 6 to 19 bytes where the TXT strings leave room */
        int more = 5 + (int)((h >> 32) % 14);
        if (more > r) more = r;
        n += more, r -= more;
    }
    uint8_t *q = msg + 12;
    int type_at, inst_at, local_at;
    memset(msg + 2, 0, 10);
    if (announce) {
        msg[2] = 0x84; /* a response, authoritative */
        type_at = 12;
        *q++ = (uint8_t)lt, memcpy(q, t, (size_t)lt), q += lt;
        local_at = (int)(q - msg) + 5;
        memcpy(q, "\4_tcp\5local", 12), q += 12;
        put16(q, 12), put16(q + 2, 1), put32(q + 4, 4500), put16(q + 8, (uint32_t)(1 + n + 2)), q += 10;
        inst_at = (int)(q - msg);
        q = instance_label(q, n, h);
        put16(q, 0xc000u | (uint32_t)type_at), q += 2;
        put16(msg + 6, (uint32_t)(1 + with_srv + with_txt));
    } else {
        inst_at = 12;
        q = instance_label(q, n, h);
        *q++ = (uint8_t)lt, memcpy(q, t, (size_t)lt), q += lt;
        local_at = (int)(q - msg) + 5;
        memcpy(q, "\4_tcp\5local", 12), q += 12;
        put16(q, 255), put16(q + 2, 1), q += 4; /* ANY, IN */
        put16(msg + 4, 1), put16(msg + 8, (uint32_t)(with_srv + with_txt));
    }
    if (with_srv) { /* priority, weight, the service's port; the host: a word and hex under local. */
        put16(q, 0xc000u | (uint32_t)inst_at), put16(q + 2, 33), put16(q + 4, 1), put32(q + 6, 120);
        put16(q + 10, 6 + 11 + 2), put16(q + 12, 0), put16(q + 14, 0), put16(q + 16, 80 + (uint32_t)(h >> 40) % 8000);
        q = instance_label(q + 18, 10, h ^ 0x686f7374);
        for (uint8_t *c = q - 10; c < q; c++) if (*c == ' ') *c = '-';
        put16(q, 0xc000u | (uint32_t)local_at), q += 2;
    }
    if (with_txt) {
        put16(q, 0xc000u | (uint32_t)inst_at), put16(q + 2, 16), put16(q + 4, 1), put32(q + 6, 4500);
        put16(q + 10, (uint32_t)(r + 1)), q = txt_strings(q + 12, r + 1, h);
    }
    return (int)(q - msg);
}

/* Questions that cover a header-only DNS message's bytes past its header
 * (msg, len bytes, the header's counts zero): k of them, type A class IN,
 * each name host_name's, at most 255 bytes (36 for mDNS), so that tshark
 * dissects the whole message instead of noting "Extraneous data" after an
 * empty header (122 notes in one IoT capture). Fewer than 5 bytes past the header stay
 * zeros, and the last of 6. Returns the end of the questions. */
static int dns_questions(uint8_t *msg, int len, uint64_t h, const char *tail)
{
    int rest = len - 12;
    if (rest < 5) return 12;
    /* a question takes 5 (the root's) to 259 bytes; mDNS asks many at once, of short names */
    int most = strcmp(tail, "local") ? 259 : 40;
    int k = (rest + most - 1) / most;
    msg[4] = (uint8_t)(k >> 8), msg[5] = (uint8_t)k;
    uint8_t *q = msg + 12;
    for (int i = 0; i < k; i++) {
        int size = rest / (k - i);
        if (size == 6) size = 5;   /* no name is 2 bytes long (one label needs 3): its last byte stays zero */
        rest -= size;
        q = host_name(q, size - 4, &h, tail);
        q[0] = 0, q[1] = 1, q[2] = 0, q[3] = 1, q += 4;   /* A, IN */
    }
    return (int)(q - msg);
}

/* The records that cover the rest bytes of a header-only response at msg +
 * at, past its query's questions: A records of documentation addresses
 * (RFC 5737) for the first question's name, after a CNAME whose own name
 * takes what is not a multiple of an A record's 16 bytes (3 to 34 bytes;
 * alone when the rest holds no A record after it);
 * 11 bytes an EDNS OPT record. Returns 0 for a rest no records cover (1 to
 * 10, 12 to 14 bytes). */
static int dns_answers(uint8_t *msg, int at, int rest, uint64_t h, const char *tail)
{
    if (rest == 11) { /* the root's OPT: 1,232-byte UDP payload (DNS flag day 2020), no options */
        uint8_t *r = msg + at;
        memset(r, 0, 11), r[2] = 41, put16(r + 3, 1232);
        msg[11] = 1;
        return 1;
    }
    if (rest && rest < 15) return 0;
    int cname = 0, owner = 12;   /* the first question's name */
    if (rest % 16) {
        cname = (rest - 12) % 16;
        if (cname < 3) cname += 16;
        if (cname < 20 && cname + 16 <= rest - 12 - 16) cname += 16;   /* room left for an A record */
    }
    int n = 0;
    uint32_t ttl = 60 + (uint32_t)(mix(h ^ 0x77) % 3540);
    uint8_t *r = msg + at;
    if (cname) {
        put16(r, 0xc000u | 12), put16(r + 2, 5), put16(r + 4, 1), put32(r + 6, ttl), put16(r + 10, (uint32_t)cname);
        owner = (int)(r + 12 - msg);
        r = host_name(r + 12, cname, &h, tail), n++;
    }
    for (; r < msg + at + rest; n++, r += 16) {
        h = mix(h);
        static const uint8_t nets[3][3] = {{192, 0, 2}, {198, 51, 100}, {203, 0, 113}};
        const uint8_t *net = nets[h % 3];
        put16(r, 0xc000u | (uint32_t)owner), put16(r + 2, 1), put16(r + 4, 1), put32(r + 6, ttl), put16(r + 10, 4);
        memcpy(r + 12, net, 3), r[15] = (uint8_t)(1 + (h >> 8) % 254);
    }
    put16(msg + 6, (uint32_t)n);
    return 1;
}

/* A header-only DNS message (len bytes at msg, its header written): a
 * query's questions; a response repeats its query's (the flow's latest,
 * whose id it carries, when it has room for them) and answers it in the
 * bytes past them, else has questions of its own. Names seeded by the flow
 * and the query's id, so that the response writes the query's again. */
static void dns_message(const app *a, app_flow *f, uint8_t *msg, int len, int from_server, uint16_t id)
{
    const char *tail = a->port == 5353 ? "local" : "example";
    uint64_t seed = mix(f->seed ^ (uint64_t)id << 20);
    if (a->port == 5353 && mdns_message(msg, len, mix(f->seed ^ 0x6d6473), from_server ? 3 : f->mdns_n++)) return;
    if (!from_server) {
        dns_questions(msg, len, seed, tail);
        f->dns_qlen = (uint16_t)len;
        return;
    }
    if (f->dns_qlen && f->dns_qlen <= len) {
        int at = dns_questions(msg, f->dns_qlen, seed, tail);
        if (at == f->dns_qlen && dns_answers(msg, at, len - at, seed, tail)) return;
        memset(msg + 4, 0, (size_t)len - 4);   /* no records fit: questions of its own, as before */
    }
    dns_questions(msg, len, mix(seed ^ 1), tail);
}

/* Over generated bytes, the fields that tie a message to its packet and its
 * flow, as checksums do: DNS over TCP's length prefix (the segment's
 * length), a DNS transaction id (the query's in its answer). */
static void app_restamp(const app *a, const app_flow *f, uint8_t *p, int len, int learned, uint16_t id)
{
    if (a->kind == APP_DNS && learned >= 2) {
        put16(p, dns_id(a, id));
    } else if (a->kind == APP_DHCP && learned >= 8) {
        put32(p + 4, dhcp_xid(f));
    } else if (a->kind == APP_DNS_TCP && learned >= 2) {
        put16(p, (uint32_t)(len - 2));
        if (learned >= 4) p[2] = (uint8_t)(id >> 8), p[3] = (uint8_t)id;
    }
}

/* A DNS name at *at of msg (labels, or a pointer back into the message to
 * a name that parses: a generated answer's "c0 00", a pointer to the
 * header's first byte, 0x4c, no label, was malformed to tshark). */
static int dns_name_in(ns_bytes msg, size_t *at, int depth)
{
    for (int labels = 0; labels < 128; labels++) {
        uint8_t n;
        if (!ns_get_u8(msg, *at, &n)) return 0;
        if (n == 0) return ++*at, 1;
        if ((n & 0xc0) == 0xc0) {
            uint8_t lo;
            if (!ns_get_u8(msg, *at + 1, &lo)) return 0;
            size_t to = (size_t)((n & 0x3f) << 8 | lo);
            /* backward, and a few deep: a pointer into the labels before it loops back to itself */
            if (to >= *at || depth >= 16 || !dns_name_in(msg, &to, depth + 1)) return 0;
            return *at += 2, 1;
        }
        if (n > 63 || !ns_bytes_has(msg, *at + 1, n)) return 0;
        *at += 1 + (size_t)n;
    }
    return 0;
}

static int dns_name(ns_bytes msg, size_t *at) { return dns_name_in(msg, at, 0); }

/* Whether a DNS message parses whole: its questions and records inside it,
 * names well formed, the fixed-size data of A and AAAA records right. */
static int dns_ok(ns_bytes msg)
{
    uint16_t count[4];
    for (int i = 0; i < 4; i++)
        if (!ns_get_be16(msg, 4 + 2 * (size_t)i, &count[i])) return 0;
    size_t at = 12;
    for (int q = 0; q < count[0]; q++)
        if (!dns_name(msg, &at) || !ns_bytes_has(msg, at, 4)) return 0;
        else at += 4;
    for (int r = 0; r < count[1] + count[2] + count[3]; r++) {
        uint16_t type, rdlen;
        if (!dns_name(msg, &at) || !ns_get_be16(msg, at, &type) || !ns_get_be16(msg, at + 8, &rdlen)) return 0;
        at += 10;
        if (!ns_bytes_has(msg, at, rdlen) || (type == 1 && rdlen != 4) || (type == 28 && rdlen != 16)) return 0;
        /* data that holds a name (NS, MD, MF, CNAME, MB, MG, MR, PTR), or one after 2 bytes (MX) or 6
         * (SRV): tshark reads it so (a generated mDNS answer of type MD whose data was no name was
         * malformed) */
        int name_at = type == 15 ? 2 : type == 33 ? 6 : (type >= 2 && type <= 5) || (type >= 7 && type <= 9) || type == 12 ? 0 : -1;
        if (name_at >= 0 && rdlen > name_at) { /* (empty data tshark shows as such) */
            size_t n_at = at + (size_t)name_at;
            if (!dns_name(msg, &n_at) || n_at > at + rdlen) return 0;
        }
        at += rdlen;
    }
    return 1;
}

/* Whether a TFTP message parses whole: an opcode tshark knows, and for a
 * request (read, write, options acknowledged) NUL-terminated printable
 * strings to its end, a known transfer mode second (generated requests
 * without their terminating NULs were malformed to tshark). */
static int tftp_ok(ns_bytes msg)
{
    uint16_t op;
    if (!ns_get_be16(msg, 0, &op) || op < 1 || op > 6) return 0;
    if (op == 3 || op == 4) return msg.len >= 4;
    if (op == 5) { /* error code, then its message */
        uint8_t c;
        if (msg.len < 5 || !ns_get_u8(msg, msg.len - 1, &c) || c) return 0;
        for (size_t i = 4; i + 1 < msg.len; i++)
            if (!ns_get_u8(msg, i, &c) || c < 0x20 || c > 0x7e) return 0;
        return 1;
    }
    size_t at = 2;
    int k;
    for (k = 0; at < msg.len; k++) {
        size_t start = at;
        uint8_t c = 1;
        while (ns_get_u8(msg, at, &c) && c) {
            if (c < 0x20 || c > 0x7e) return 0;
            at++;
        }
        if (c) return 0; /* no NUL before the end */
        if (k == 1 && op != 6) {
            static const char *const modes[] = {"netascii", "octet", "mail"};
            int known = 0;
            for (int m = 0; m < 3; m++) {
                size_t n = strlen(modes[m]), j = 0;
                uint8_t ch;
                while (j < n && start + j < at && ns_get_u8(msg, start + j, &ch) && (ch | 0x20) == modes[m][j]) j++;
                known |= j == n && start + n == at;
            }
            if (!known) return 0;
        }
        at++;
    }
    return op == 6 || k >= 2; /* a request names a file and a mode */
}

/* Whether generated bytes at the start of a payload make a message the
 * application's dissectors take; when not, the fill's smallest message
 * stands in (a DNS message whose counts promise records its bytes do not
 * hold is malformed to tshark and unknown to nDPI, where the minimal
 * message is neither). */
static int app_valid(const app *a, const uint8_t *p, int len)
{
    ns_bytes b = ns_bytes_make(p, (size_t)len);
    switch (a->kind) {
    case APP_DNS: return dns_ok(b);
    case APP_DNS_TCP: return dns_ok(ns_bytes_tail(b, 2));
    case APP_NTP: return (p[0] >> 3 & 7) >= 1 && (p[0] >> 3 & 7) <= 4 && (p[0] & 7) >= 1 && (p[0] & 7) <= 5;
    case APP_DHCP: return (p[0] == 1 || p[0] == 2) && p[1] == 1 && p[2] == 6;
    case APP_TFTP: return tftp_ok(b);
    default: return 1;
    }
}

static void put24(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 16), put16(p + 1, v); }

/* TLS. The model learns a record's first bytes (N of them); its lengths are
 * bits like any other and rarely agree with the segment the packet length
 * made, and what lies past N is fill. tshark then reassembles records across
 * segments that never complete them ("Zero-length Handshake fragments",
 * failed assertions) and nDPI, which wants a hello whose record and message
 * lengths hold, sees none. So the records of a segment that starts with one
 * are laid out to cover it exactly, as a checksum covers it: a record length
 * stays when the learned bytes agree with it (the segment ends there, or a
 * learned record header follows), another reaches to the segment's end; a
 * record whose header lies in the fill is application data (opaque, as the
 * fill is), and so is one whose handshake message cannot be made whole. */
static int tls_type_ok(uint8_t t) { return t >= 20 && t <= 23; }

/* Whether the learned bytes (known of them) of a record header are one. */
static int tls_header_agrees(ns_bytes r, int known)
{
    uint8_t t, major, minor;
    if (known >= 1 && (!ns_get_u8(r, 0, &t) || !tls_type_ok(t))) return 0;
    if (known >= 2 && (!ns_get_u8(r, 1, &major) || major != 3)) return 0;
    if (known >= 3 && (!ns_get_u8(r, 2, &minor) || minor > 4)) return 0;
    return 1;
}

/* What a handshake message of type t needs to parse, past its own length:
 * 1 its body as it is (opaque to tshark without keys, or zeros parse), 2 a
 * hello, 3 a certificate list, 4 a TLS 1.2 session ticket, 5 an extension
 * list; 0 for a type tshark knows but repair cannot make whole (the record
 * becomes application data); -1 for a type tshark does not know (it shows an
 * encrypted message: its body left as generated). */
static int tls_hs_kind(uint8_t t)
{
    switch (t) {
    case 0: case 12: case 14: case 16: case 20: return 1;
    case 1: case 2: return 2;
    case 11: return 3;
    case 4: return 4;
    case 8: return 5;
    case 3: case 5: case 6: case 13: case 15: case 21: case 22: case 23: case 24: case 25: case 67: case 254: return 0;
    default: return -1;
    }
}

static int bits_off(uint8_t a, uint8_t b)
{
    int n = 0;
    for (unsigned x = (unsigned)(a ^ b); x; x &= x - 1) n++;
    return n;
}

/* The version minor (of the n in pref: 3.0 to 3.3) nearest m in bits, in
 * the order of pref on ties (the commonest first); its distance in *off. */
static uint8_t tls_minor_near(uint8_t m, const uint8_t *pref, int n, int *off)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (bits_off(m, pref[i]) < bits_off(m, pref[best])) best = i;
    *off = bits_off(m, pref[best]);
    return pref[best];
}

/* The body of a ClientHello (client) or ServerHello of n bytes, lb of them
 * learned: random as generated, version TLS 1.0 to 1.2 (the nearest to the
 * generated one, ver: else as generated), then each field the learned
 * bytes give when it fits, else the smallest fill (no session id, one cipher
 * suite, null compression), and the rest of the body as one padding
 * extension (RFC 7685), zeros. Returns 0 when no hello fits in n bytes.
 * Every hello of the IoT corpus's real test captures says 3.1 or 3.3
 * (ClientHellos and ServerHellos 174 and 92 each); the payload model's
 * said 3.0, 0.0, 1.0, 0x4100 in half of them (BENCHMARK.md, "tshark's bars
 * (session 14)"): bit by bit, a version the stacks no longer speak. */
static int tls_hello(uint8_t *b, int n, int lb, int client, int ver)
{
    static const uint8_t pref[3] = {1, 3, 2}; /* on ties the commoner first, on both sides */
    ns_bytes m = ns_bytes_make(b, (size_t)n);
    if (n < 35 + (client ? 2 + 2 + 1 + 1 : 2 + 1)) return 0;
    int o;
    if (ver) b[0] = 3, b[1] = tls_minor_near(b[1], pref, 3, &o);
    uint8_t u8;
    uint16_t u16;
    int sid = lb > 34 && ns_get_u8(m, 34, &u8) && u8 <= 32 ? u8 : -1; /* -1: fill */
    int at = 35 + (sid > 0 ? sid : 0);
    if (client) {
        int suites = lb >= at + 2 && ns_get_be16(m, (size_t)at, &u16) && u16 >= 2 && !(u16 & 1) && at + 2 + u16 + 2 <= n ? u16 : -1;
        if (suites < 0) {
            if (at + 2 + 2 + 2 > n) return 0;
            suites = 2, put16(b + at, 2), b[at + 2] = b[at + 3] = 0;
        }
        at += 2 + suites;
        int comp = lb > at && ns_get_u8(m, (size_t)at, &u8) && u8 >= 1 && at + 1 + u8 <= n ? u8 : -1;
        if (comp < 0) comp = 1, b[at] = 1, b[at + 1] = 0;
        at += 1 + comp;
    } else {
        if (at + 3 > n) return 0;
        if (lb <= at + 2) b[at + 2] = 0; /* null compression unless learned */
        at += 3;
    }
    int rest = n - at;
    if (rest == 1 || (rest >= 3 && rest <= 5)) { /* too short for an extension: a fill session id takes it */
        if (sid >= 0) return 0;
        memmove(b + 35 + rest, b + 35, (size_t)(at - 35)); /* all fill: nothing learned lies past byte 34 */
        memset(b + 35, 0, (size_t)rest);
        sid = rest, at += rest, rest = 0;
        b[34] = (uint8_t)sid;
    } else if (sid < 0) {
        b[34] = 0;
    }
    if (rest >= 2) {
        put16(b + at, (uint32_t)(rest - 2));
        if (rest >= 6) put16(b + at + 2, 21), put16(b + at + 4, (uint32_t)(rest - 6)), memset(b + at + 6, 0, (size_t)(rest - 6));
    }
    return 1;
}

/* A handshake record's body of n bytes, lb learned: one message that fills
 * it. Returns 0 when none fits (the record is then application data). */
static int tls_handshake(uint8_t *b, int n, int lb, int ver)
{
    uint8_t t;
    if (!ns_get_u8(ns_bytes_make(b, (size_t)n), 0, &t)) return 0;
    int kind = tls_hs_kind(t);
    if (kind == 0 || n < 4) return 0;
    put24(b + 1, (uint32_t)(n - 4));
    if (kind < 0) return 1; /* its length too: one past the record opened a fragment tshark failed to join ("fh") */
    switch (kind) {
    case 2: return tls_hello(b + 4, n - 4, lb - 4, t == 1, ver);
    case 3: /* a certificate of fill would be malformed DER: an empty list, the fill past it */
        if (n < 7) return 0;
        put24(b + 4, 0);
        break;
    case 4: /* lifetime, then the ticket to the end */
        if (n < 10) return 0;
        put16(b + 8, (uint32_t)(n - 10));
        break;
    case 5: /* the extension list: one padding extension of fill */
        if (n != 6 && n < 10) return 0;
        put16(b + 4, (uint32_t)(n - 6));
        if (n >= 10) put16(b + 6, 21), put16(b + 8, (uint32_t)(n - 10)), memset(b + 10, 0, (size_t)(n - 10));
        break;
    }
    return 1;
}

/* The records of a segment of len bytes whose first learned bytes start one;
 * ver: hellos' versions made TLS's (tls_hello). */
static void tls_frame(uint8_t *p, int len, int learned, int ver)
{
    if (learned < 2 || p[1] != 3) p[1] = 3; /* on a TLS port a record type is taken with any version */
    if (learned < 3 || p[2] > 4) p[2] = 3;
    uint8_t major = p[1], minor = p[2];
    for (int at = 0; len - at >= 5;) {
        uint8_t *r = p + at;
        int known = learned - at, rest = len - at - 5;
        if (!tls_header_agrees(ns_bytes_make(r, 5), known < 3 ? known : 3)) known = 0; /* not a header: fill */
        if (known < 1) r[0] = 23;
        if (known < 2) r[1] = major;
        if (known < 3) r[2] = minor;
        int n = -1;
        uint16_t u16;
        if (known >= 5 && ns_get_be16(ns_bytes_make(r, 5), 3, &u16)) n = u16;
        if (r[0] == 20) { /* a change of cipher spec is one byte; what follows it is another record */
            n = 1;
            if (rest != 1 && (rest < 1 || rest - 1 < 6)) r[0] = 23; /* no room for either: application data */
        }
        int next = at + 5 + n, left = len - next;
        int keeps = n >= 1 && n <= rest &&
                    (left == 0 || (left >= 6 && learned > next && tls_header_agrees(ns_bytes_make(p + next, (size_t)left), learned - next)));
        if (r[0] == 20) keeps = 1;
        if (!keeps) n = rest;
        if (n == 0) r[0] = 23; /* a 5-byte segment: only application data may be empty */
        put16(r + 3, (uint32_t)n);
        if (r[0] == 20 && n >= 1) r[5] = 1;
        if (r[0] == 22 && !tls_handshake(r + 5, n, learned - at - 5, ver)) r[0] = 23;
        at += 5 + n;
    }
}

/* Whether a payload's learned start is a TLS record header. */
static int tls_starts(const uint8_t *p, int learned)
{
    return learned >= 5 && tls_header_agrees(ns_bytes_make(p, (size_t)learned), 3);
}

/* Near misses. The model writes a protocol's constants bit by bit, each bit
 * the majority of the messages a row may be (0x16 handshake and 0x17
 * application data give 0x14 to 0x17, "GET " and "POST " give "CER\0";
 * BENCHMARK.md, "Payload starts (session 8)"), so a message start comes out
 * a few bits off the one valid there. Where a stream admits one message
 * only (its first record in each direction is a hello; a request starts
 * with a method, an SSDP datagram with its start line) a constant near the
 * valid value nearest it becomes that value, as a checksum is recomputed:
 * a hello's 48 constant bits at most 1 in NEAR_TLS off (3; 4 would make
 * hellos of real application data records whose bytes are zeros), a text
 * at most 1 in NEAR_TEXT (4 bits of "GET ", 19 of "M-SEARCH * HTTP/1.1").
 * Chosen on the IoT run: BENCHMARK.md, "Payload structure for DPI (session
 * 10)". Bytes farther from every valid start stay as generated: repair
 * writes no message from nothing (random bytes land within 4 bits of a
 * 4-byte constant once in 100,000).
 * A flow that opens with TCP's three-way handshake says more: its client's
 * first data can only be the protocol's opening (on a TLS port a
 * ClientHello, on an HTTP port a request) and its server's first data the
 * answer's (a ServerHello, a status line). On the IoT corpus's training
 * rows this holds for every flow with a SYN (1,036 ClientHellos, 46 of
 * them SSLv2's, 1,082 ServerHellos; 4,606 requests and 4,603 status lines,
 * none from the server first), and the application data that 4 bits would
 * have made hellos all lie in flows captured mid-way, without one. There a
 * text one bit in NEAR_TEXT_OPENED off is made exact (BENCHMARK.md, "Whole
 * messages for DPI (session 11)"), and on an HTTP port a start farther
 * from every text still becomes one (AT_ANY: the class's likeliest method,
 * or "HTTP/1."): 532 of nDPI's missed HTTP flows in session 11's run
 * started more than one bit in 4 off (BENCHMARK.md, "HTTP and SSDP for DPI
 * (session 12)"). On a TLS port the direction's first learned record is
 * its hello at any distance too (its content type, versions and handshake
 * type; session 11 allowed one bit in 3): the payload model's opened flows
 * whose client began with an application-data record (0x17 0x03 0x03, a
 * resumed session's shape no real opened flow has) were 123 of nDPI's TLS
 * misses (BENCHMARK.md, "Lengths that hold the message (session 13)").
 * Without a handshake a hello keeps its reach: past it the starts are
 * other records, and 48 random bits would too often be a hello. */
enum { NEAR_TLS = 16, NEAR_TEXT = 8, NEAR_TEXT_OPENED = 4, AT_ANY = 0 };

/* Whether p[0, learned) starts an SSLv2 ClientHello (a 2-byte record
 * header, message type 1, version SSL 2 or 3.x): how older stacks open TLS
 * (46 of the IoT training split's ClientHellos), 9+ bits off a TLS hello's
 * constants but a hello all the same. */
static int sslv2_hello(const uint8_t *p, int learned)
{
    return learned >= 5 && (p[0] & 0x80) && p[2] == 1 && ((p[3] == 3 && p[4] <= 3) || (p[3] == 0 && p[4] == 2));
}

/* The first record of a direction of a TLS stream, learned bytes p[0,
 * learned) of a segment of len: a hello whose constants (content type 22,
 * record version 3.x, handshake type 1 or 2, the hello's version 3.x when
 * learned) are at most one bit in NEAR_TLS off (at any distance where the
 * flow opened with a handshake and this is the direction's first data:
 * opened) is made exact; lengths are tls_frame's. The hello is the
 * direction's (a ClientHello from the client) unless the bytes are nearer
 * the other's and no handshake says who the client is: a real ClientHello
 * from the side repair calls the server stays one. Only where the hello
 * fits the segment (tls_hello's least), else the record is application
 * data anyway. Returns the bits changed (0: none). */
static int tls_hello_near(uint8_t *p, int len, int learned, int client, int opened)
{
    static const uint8_t pref[2][4] = {{1, 3, 2, 0}, {3, 1, 2, 0}}; /* records: 3.1 before a ClientHello, 3.3 a ServerHello */
    uint8_t type = client ? 1 : 2, other = client ? 2 : 1;
    if (learned < 6 || sslv2_hello(p, learned)) return 0;
    if (!opened && bits_off(p[5], other) < bits_off(p[5], type)) type = other;
    if (len < 9 + (type == 1 ? 41 : 38)) return 0;
    int off, o;
    uint8_t minor = tls_minor_near(p[2], pref[type == 2], 4, &off), hminor = 0;
    off += bits_off(p[0], 22) + bits_off(p[1], 3) + bits_off(p[5], type);
    if (learned > 10) hminor = tls_minor_near(p[10], pref[1], 4, &o), off += o + bits_off(p[9], 3);
    if (off == 0 || (!opened && off > (learned > 10 ? 48 : 32) / NEAR_TLS)) return 0;
    p[0] = 22, p[1] = 3, p[2] = minor, p[5] = type;
    if (learned > 10) p[9] = 3, p[10] = hminor;
    return off;
}

/* HTTP (and SSDP, HTTP over UDP). The learned bytes start a request or
 * status line and end N bytes in, mid-line; past them tshark read fill as
 * header names ("Illegal characters found in header name", malformed) and
 * nDPI found no " HTTP/1.x" to end the request line. So a message that starts
 * with a method or "HTTP/1." keeps its learned lines as far as they are
 * well formed, has the line the learned bytes stop in completed (the request
 * line's version, a header line's end), and ends its header there: the rest
 * of the segment is its body, of the fill, with the Content-Length that says
 * so (a header of spaces when the rest is too short for one). */
static const char *const http_methods[] = {"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ",
                                           "CONNECT ", "NOTIFY ", "M-SEARCH ", "SUBSCRIBE ", "UNSUBSCRIBE "};
enum { HTTP_HEAD_MAX = 160 }; /* learned bytes (at most a row's 64) and what completes their line */
_Static_assert(sizeof http_methods / sizeof http_methods[0] == NS_REPAIR_METHODS, "ns_repair_plan.methods: one per method");

static int http_tchar(uint8_t c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c && strchr("!#$%&'*+-.^_`|~", c)); }
static int http_vchar(uint8_t c) { return (c >= 0x20 && c < 0x7f) || c == '\t'; }
static int http_namechar(uint8_t c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-'; }

/* Which of the n texts p[0, learned) starts near (at most one bit in den
 * off: NEAR_TEXT, NEAR_TEXT_OPENED; 0 where the stream admits nothing else,
 * at any distance: AT_ANY; the nearest, the first on ties), or -1; a near
 * one is written whole. */
static int near_text(uint8_t *p, int learned, const char *const *texts, int n, int den)
{
    int best = -1, off = 0;
    for (int t = 0; t < n; t++) {
        int k = (int)strlen(texts[t]), o = 0;
        if (learned < k) continue;
        for (int i = 0; i < k; i++) o += bits_off(p[i], (uint8_t)texts[t][i]);
        if ((den == AT_ANY || o <= 8 * k / den) && (best < 0 || o < off)) best = t, off = o;
    }
    if (best >= 0 && off > 0) memcpy(p, texts[best], strlen(texts[best]));
    return best;
}

/* A garbled method near several (a blend of "GET " and "POST " is 2 to 4
 * bits off the 4-byte "PUT "): the likeliest of those within reach (one
 * bit in den) given the class's first requests (prior, NS_REPAIR_METHODS
 * counts), each bit off as likely as one in 8 (the near-miss rule's
 * own): a method one bit farther needs 7 times the requests. Nearest
 * alone, "PUT " took 8% of the IoT run's first requests (real 1.7%;
 * BENCHMARK.md, "Whole messages for DPI (session 11)"). Without a prior
 * (a header-only model's, a trace model before version 6), near_text's
 * nearest. Returns the method's index, or -1. */
static int near_method(uint8_t *p, int learned, const uint16_t *prior, int den)
{
    int n = (int)(sizeof http_methods / sizeof http_methods[0]), have = 0;
    for (int t = 0; prior && t < n; t++) have |= prior[t] > 0;
    if (!have) return near_text(p, learned, http_methods, den == AT_ANY ? 2 : n, den); /* at any distance: GET or POST */
    int best = -1, off = 0;
    double score = 0;
    for (int t = 0; t < n; t++) {
        int k = (int)strlen(http_methods[t]), o = 0;
        if (learned < k) continue;
        for (int i = 0; i < k; i++) o += bits_off(p[i], (uint8_t)http_methods[t][i]);
        if (den != AT_ANY && o > 8 * k / den) continue;
        double sc = log(prior[t] + 0.5) - o * log(7.0);
        if (best < 0 || sc > score) best = t, score = sc, off = o;
    }
    if (best >= 0 && off > 0) memcpy(p, http_methods[best], strlen(http_methods[best]));
    return best;
}

int app_method(const uint8_t *p, int n)
{
    for (int t = 0; t < NS_REPAIR_METHODS; t++) {
        size_t k = strlen(http_methods[t]);
        if ((size_t)n >= k && !memcmp(p, http_methods[t], k)) return t;
    }
    return -1;
}

/* The length of the method and its space a learned start begins with, 0
 * for a status line's "HTTP/" (its version is made 1.x), -1 for neither. */
static int http_starts(const uint8_t *p, int learned)
{
    for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++) {
        size_t n = strlen(http_methods[i]);
        if ((size_t)learned >= n && !memcmp(p, http_methods[i], n)) return (int)n;
    }
    return learned >= 7 && !memcmp(p, "HTTP/", 5) ? 0 : -1; /* its version made 1.x (tshark took "HTTP/1&1" for one) */
}

static int http_put(uint8_t *h, int w, const char *text)
{
    size_t n = strlen(text);
    if (w + (int)n > HTTP_HEAD_MAX) return HTTP_HEAD_MAX + 1;
    memcpy(h + w, text, n);
    return w + (int)n;
}

/* Whether the header line at h[ls, e) names a length of the body (Content-Length,
 * Transfer-Encoding): the body is the fill's, so such a line is dropped. */
static int http_names_length(const uint8_t *h, int ls, int e)
{
    static const char *const names[] = {"content-length:", "transfer-encoding:"};
    for (int k = 0; k < 2; k++) {
        int n = (int)strlen(names[k]), i = 0;
        while (i < n && ls + i < e && (h[ls + i] | 0x20) == (names[k][i] | 0x20)) i++;
        if (i == n) return 1;
    }
    return 0;
}

static int http_lines(uint8_t *h, int i, int learned, int plain);

/* The head of the message at h[0, learned) made whole (start line and the
 * header lines that are well formed, the last one completed); returns its
 * length, without the empty line that ends it. */
static int http_head(uint8_t *h, int learned, int method)
{
    int i, w;
    if (method > 0) { /* request line: method, target, version */
        for (i = method; i < learned && h[i] > 0x20 && h[i] < 0x7f; i++) {}
        w = i;
        if (w == method) w = http_put(h, w, "/");
        static const char v[] = " HTTP/1.1";
        int j = 0;
        if (i < learned && h[i] == ' ')
            while (j < 9 && i + j < learned && (h[i + j] == v[j] || (j == 8 && h[i + j] == '0'))) j++;
        if (j < 9) return http_put(h, http_put(h, w + j, v + j), "\r\n"); /* completed: nothing learned after it is kept */
        i = w = w + 9;
    } else { /* status line: version, code, reason */
        static const char v[] = "HTTP/1.1 200 ";
        for (i = 7; i < 13 && i < learned; i++)
            if (!(i == 7 ? h[i] == '0' || h[i] == '1' : i == 8 || i == 12 ? h[i] == ' ' : h[i] >= '0' && h[i] <= '9')) break;
        if (i < 13) {
            return http_put(h, http_put(h, i, v + i), "\r\n");
        } else {
            for (; i < learned && http_vchar(h[i]); i++) {}
            w = i;
        }
    }
    /* w: the start line's end, before its CRLF; i: where the learned bytes go on */
    if (i + 1 < learned && h[i] == '\r' && h[i + 1] == '\n') {
        i += 2;
    } else {
        return http_put(h, w, "\r\n");
    }
    return http_lines(h, i, learned, 0);
}

/* The header lines of h[i, learned) that are well formed, the one the
 * learned bytes stop in completed; returns where the head is ended (after
 * the last line's CRLF), without the empty line that ends it. plain: names
 * of letters, digits and '-' only, as real ones are (the bytes of a head's
 * second segment are the model's mix more often than lines: tshark called
 * "bacagabcndronrrhd2p`gs'.`fg-spkq" an illegal name). */
static int http_lines(uint8_t *h, int i, int learned, int plain)
{
    for (int ls = i; ls < learned; ls = i) {
        for (i = ls; i < learned && (plain ? http_namechar(h[i]) : http_tchar(h[i])); i++) {}
        if (i == learned) return i > ls ? http_put(h, i, ":\r\n") : ls;     /* a name cut by N */
        if (h[i] != ':' || i == ls) return ls;                               /* not a header line: dropped */
        for (i++; i < learned && http_vchar(h[i]); i++) {}
        if (http_names_length(h, ls, i)) return ls;
        if (i + 1 < learned && h[i] == '\r' && h[i + 1] == '\n') {
            i += 2;
            continue;
        }
        return http_put(h, i, "\r\n");                                       /* a value cut by N, or garbled */
    }
    return learned;
}

/* A datagram of len bytes too short for the whole head h[0, w) and a body
 * with its length: the datagram's end bounds the message, so the head keeps
 * its whole lines that fit with room for the empty line (the start line at
 * least, cut if it must be), ends there, and the bytes after it are its
 * body. Left as generated, a head with no room for its end threw in tshark
 * (3 SSDP datagrams of 22-23 bytes, "NOTIFY * HTTP/1.1\r\x0b...", in the
 * payload model's run: BENCHMARK.md, "tshark's bars (session 14)"); a head
 * cut at the end of its last line, or in the empty line, it reads whole. */
static void http_datagram(uint8_t *p, int len, const uint8_t *h, int w)
{
    int start = 0, k = w;
    while (start + 1 < w && !(h[start] == '\r' && h[start + 1] == '\n')) start++;
    start += 2; /* the start line and its CRLF */
    while (k > start && k + 2 > len) { /* the previous line's end */
        k -= 2;
        while (k > start && !(h[k - 2] == '\r' && h[k - 1] == '\n')) k--;
    }
    if (k > len) k = len; /* the start line alone does not fit: cut */
    memcpy(p, h, (size_t)k);
    if (len - k >= 1) p[k] = '\r';
    if (len - k >= 2) p[k + 1] = '\n';
}

/* The end of a head at e, rest bytes (2, or 6 and more) before the
 * segment's end: the empty line alone, or a header of spaces and the empty
 * line, or the Content-Length that makes the rest of the segment its body. */
static void http_end(uint8_t *e, int rest)
{
    if (rest == 2) {
        memcpy(e, "\r\n", 2);
    } else if (rest < 21) {
        memcpy(e, "X:", 2), memset(e + 2, ' ', (size_t)(rest - 6)), memcpy(e + rest - 4, "\r\n\r\n", 4);
    } else { /* "Content-Length: " K "\r\n\r\n", then K bytes: K's d digits (zero-padded) count too */
        int d = 1;
        for (long lim = 10; rest - 20 - d >= lim; lim *= 10) d++;
        int k = rest - 20 - d;
        memcpy(e, "Content-Length: ", 16);
        for (int i = d - 1, v = k; i >= 0; i--, v /= 10) e[16 + i] = (uint8_t)('0' + v % 10);
        memcpy(e + 16 + d, "\r\n\r\n", 4);
    }
}

/* The lines whose ends a segment can leave for the next: a request line
 * completed after its method, a status line, a header line. */
static const char *const head_tail[] = {"/ HTTP/1.1\r\n", "HTTP/1.1 200 \r\n", ":\r\n"};

/* Heads longer than their segment. A response's status line often comes
 * alone ("HTTP/1.1 200 OK\r\n", 17 bytes: the real first segment of the
 * HueBridge classes' responses), a request's "POST " alone in 5 bytes, and
 * the model writes such segments; their head then goes on in the
 * direction's next segment, where tshark reassembles it and counts the
 * message once it ends. Left as generated, the next segment's bytes (the
 * model's, a body's, zeros) never ended it: 3,628 status lines and 425
 * requests of the payload model's run that tshark dissected as no message
 * at all (BENCHMARK.md, "The asked-for service (session 15)"). So the
 * segment carries the head h[0, w) as far as it fits, a line cut at its end
 * (or a padding header line begun in the bytes past a whole line), and the
 * flow keeps the rest of that line for the next segment (head_rest).
 * Returns 0 where that rest is no end of a line repair completes
 * (head_tail; the segment is then left as generated). */
static int http_open(app_flow *f, int d, uint8_t *p, int len, const uint8_t *h, int w)
{
    static const char *const pad[] = {"", "X", "X:", "X: ", "X:  ", "X:   "};
    const uint8_t *rest = w < len ? (const uint8_t *)(len - w == 1 ? ":\r\n" : "\r\n") : h + len;
    int k = w < len ? (int)strlen((const char *)rest) : w - len, t = 0;
    /* the rest of a line repair completed is the end of one of head_tail's texts */
    while (t < 3 && ((int)strlen(head_tail[t]) < k || memcmp(head_tail[t] + strlen(head_tail[t]) - k, rest, (size_t)k))) t++;
    if (t == 3) return 0;
    if (w >= len) memcpy(p, h, (size_t)len);
    else memcpy(p, h, (size_t)w), memcpy(p + w, pad[len - w], (size_t)(len - w));
    f->head[d] = (uint8_t)(1 + k), f->line[d] = (uint8_t)t;
    return 1;
}

/* The direction's next segment p[0, len) (learned bytes of it) after a head
 * http_open left open: the rest of the cut line, the learned header lines
 * that are well formed after it, and the head's end (http_end), the rest of
 * the segment its body; where the segment is too short for the end, the
 * head stays open for the next one. */
static void head_rest(app_flow *f, int d, uint8_t *p, int len, int learned)
{
    uint8_t h[HTTP_HEAD_MAX + 1];
    int k = f->head[d] - 1, n = learned < HTTP_HEAD_MAX ? learned : HTTP_HEAD_MAX;
    const char *pend = head_tail[f->line[d]] + strlen(head_tail[f->line[d]]) - k;
    f->head[d] = 0;
    if (len <= k) { /* the cut line's rest goes on past this segment too */
        memcpy(p, pend, (size_t)len);
        f->head[d] = (uint8_t)(1 + k - len);
        return;
    }
    if (n < k) n = k;
    memcpy(h, p, (size_t)n), memcpy(h, pend, (size_t)k);
    int w = http_lines(h, k, n, 1), rest = len - w;
    if (w <= HTTP_HEAD_MAX && !(rest < 2 || (rest > 2 && rest < 6))) {
        memcpy(p, h, (size_t)w), http_end(p + w, rest);
    } else if (w > HTTP_HEAD_MAX || !http_open(f, d, p, len, h, w)) {
        memcpy(p, pend, (size_t)k); /* the line's rest at least */
    }
}

/* A message of len bytes whose learned start (learned bytes) is an HTTP
 * start line; method as http_starts gives it; dgram: a datagram's (the
 * message ends with it), else a segment of a stream, of direction d of f
 * (NULL: a segment alone; its head ends in it or it is left as generated). */
static void http_frame(app_flow *f, int d, uint8_t *p, int len, int learned, int method, int dgram)
{
    uint8_t h[HTTP_HEAD_MAX + 1];
    int n = learned < HTTP_HEAD_MAX ? learned : HTTP_HEAD_MAX;
    memcpy(h, p, (size_t)n);
    if (!method) h[5] = '1', h[6] = '.';
    int w = http_head(h, n, method);
    int rest = len - w;
    if (w > HTTP_HEAD_MAX || rest < 2 || (rest > 2 && rest < 6)) { /* no whole head fits */
        if (w <= HTTP_HEAD_MAX && dgram) http_datagram(p, len, h, w);
        else if (w <= HTTP_HEAD_MAX && f && !(f->off & APP_OFF_HEADCONT)) http_open(f, d, p, len, h, w);
        return; /* else a stream's segment: left as generated */
    }
    memcpy(p, h, (size_t)w);
    http_end(p + w, rest);
}

/* SSDP's start lines as the model garbles them ("NOTIBY * HTTP/1.1",
 * "M-SEARCH . HTTP/1.1", "m-SEARCH * HTTP/q&1"): every datagram on UDP 1900
 * starts with one, and nDPI 4.2 reads SSDP only from a request line exact;
 * one near it (one bit in NEAR_TEXT) is written whole, so that the head
 * can be framed. A datagram to port 1900 can be nothing but a request: in
 * the IoT corpus all 4,619 are (4,580 to 239.255.255.250 or ff02::c, 39
 * unicast; NOTIFY 4,214, M-SEARCH 405), and all 30 from it are "HTTP/1.1
 * 200" answers. So one farther from both lines than that becomes the one
 * fewer bits off (NOTIFY on ties, the commoner; counting bits, not bits per
 * byte, leans to the shorter NOTIFY as the corpus does: per byte, bytes of
 * other protocols split half and half and M-SEARCH took 24% of requests,
 * real 9%), an answer's start "HTTP/1." (BENCHMARK.md, "HTTP and SSDP for
 * DPI (session 12)"):
 * the model's bytes after the line are framed as a request's are, and
 * bytes that are another protocol's (32 of 43 misses of session 11's run
 * were 39+ bits off) would be SSDP to no one. */
static void ssdp_start(uint8_t *p, int learned, int from_server)
{
    static const char *const lines[] = {"M-SEARCH * HTTP/1.1", "NOTIFY * HTTP/1.1"}, *const status[] = {"HTTP/1."};
    static const char *const far[] = {"NOTIFY * HTTP/1.1", "M-SEARCH * HTTP/1.1"};
    if (from_server) near_text(p, learned, status, 1, AT_ANY);
    else if (near_text(p, learned, lines, 2, NEAR_TEXT) < 0) near_text(p, learned, far, 2, AT_ANY);
}

/* tshark's DNS heuristic (UDP, any port): a header whose counts a message
 * could have (a standard query of one question, or a response of at most
 * one question and a few records). Generated bytes shaped so on a port that
 * is not DNS's were malformed to it when the records ran past the datagram
 * (28 packets of the IoT run, ports 17 to 39852). */
static int dns_looks(ns_bytes b)
{
    uint16_t flags, c[4];
    if (b.len <= 12 || !ns_get_be16(b, 2, &flags)) return 0;
    for (int i = 0; i < 4; i++)
        if (!ns_get_be16(b, 4 + 2 * (size_t)i, &c[i])) return 0;
    if (flags >> 11 & 15 || c[0] > 1 || c[1] > 100 || c[2] > 10 || c[3] > 10 || c[0] + c[1] == 0) return 0;
    return flags >> 15 || (c[0] == 1 && c[1] == 0);
}

/* Whether the first line of p[0, n) (to its CR or LF) holds a NUL: no start
 * line nor header line, text to no one. */
static int binary_line(const uint8_t *p, int n)
{
    for (int i = 0; i < n && p[i] != '\r' && p[i] != '\n'; i++)
        if (!p[i]) return 1;
    return 0;
}

/* g_ascii_isprint, what tshark's HTTP asks of a segment's first byte. */
static int http_printable(uint8_t c) { return c >= 0x20 && c < 0x7f; }

/* Whether tshark's HTTP heuristic (TCP, any port) takes p[0, len) for HTTP
 * and with it the rest of the flow: its first line, ended by CR or LF, starts
 * with "HTTP/1." or ends with it and one more byte (garbled SSDP on TCP 9292
 * in the IoT run: "NOT}~ * HTTP/1.1"). */
static int http_heuristic(const uint8_t *p, int len)
{
    int n = 0;
    while (n < len && p[n] != '\r' && p[n] != '\n') n++;
    if (n == len || n == 8) return 0;
    static const char v[] = "http/1.";
    int head = 1, tail = n >= 8;
    for (int i = 0; i < 7; i++) {
        head = head && (p[i] | 0x20) == (uint8_t)v[i];
        tail = tail && (p[n - 8 + i] | 0x20) == (uint8_t)v[i];
    }
    return head || tail;
}

/* The rest of an application-data header begun in earlier segments of
 * direction d (f->tls_hdr[d] bytes of it), written at the start of p[0, len):
 * tshark joins a segment shorter than a header to the next (a zero-filled
 * 4-byte segment took 4 bytes of the next record with it: "Ignored Unknown
 * Record"), so the header goes on here, its length covering this segment's
 * rest. Returns the bytes it wrote; the record's body is f->tls_rem[d]. */
static int tls_header_rest(app_flow *f, int d, uint8_t *p, int len)
{
    int at = 0, n = -1;
    for (int have = f->tls_hdr[d]; have < 5 && at < len; have++, at++) {
        int rest = len - at - (5 - have); /* the bytes after the header here, once it is whole */
        if (have == 3 && at + 1 < len) n = rest < 1 ? 1 : rest; /* both length bytes here */
        else if (have == 4 && n < 0) n = rest < 1 ? 1 : rest <= 255 ? rest : rest - 255 >= 6 ? 255 : rest - 6;
        p[at] = have == 0 ? 23 : have == 1 ? 3 : have == 2 ? (uint8_t)(f->tls - 1) : have == 3 ? (uint8_t)(n < 0 ? 0 : n >> 8) : (uint8_t)n;
    }
    f->tls_hdr[d] = (uint8_t)((f->tls_hdr[d] + at) % 5);
    if (!f->tls_hdr[d]) f->tls_rem[d] = (uint32_t)n;
    return at;
}

/* Over the fill, p[0, len) (len >= 10) one handshake record of message type `type` in the flow's version. */
static void fill_handshake(const app_flow *f, uint8_t *p, int len, uint8_t type)
{
    p[0] = 22, p[1] = 3, p[2] = (uint8_t)(f->tls ? f->tls - 1 : 3), put16(p + 3, (uint32_t)(len - 5)), p[5] = type;
    tls_frame(p, len, 6, !(f->off & APP_OFF_HELLOVER)); /* the header and type written count as learned */
}

/* A TLS client's data after the two hellos, in a flow that opened with
 * TCP's handshake: on the IoT corpus's training captures the first record
 * there is a ClientKeyExchange (895 flows) or, resuming a session, a
 * ChangeCipherSpec (187), never anything else (`tls2.py`, BENCHMARK.md,
 * "The asked-for service (session 15)"); the payload model wrote
 * application data there in 661 of 1,475 such flows (a second ClientHello
 * in 90), so tshark found no key exchange and the flows' handshakes ended
 * at the hellos. A record that is no ChangeCipherSpec becomes a handshake
 * record of one ClientKeyExchange (content type 22, message type 16, nearer
 * application data's 23 than ChangeCipherSpec's 20 is); its body, opaque
 * to tshark without the keys, is the learned bytes as generated (or the
 * fill, where the row has none: its own hello's length again, mostly), and
 * tls_frame frames the lengths (a segment too short for the message makes
 * it application data again). */
static int key_exchange(const app_flow *f, uint8_t *p, int len, int lb)
{
    if (lb > 0) { /* the learned record, tls_records frames it */
        p[0] = 22;
        if (len > 5) p[5] = 16;
        return 0;
    }
    if (len < 10) return 0; /* no message fits: application data of the fill, as before */
    fill_handshake(f, p, len, 16);
    return 1;
}

static void tls_records(app_flow *f, int d, uint8_t *p, int len, int lb, int on_port);

/* A TLS server's data at a record boundary after its hello and before the
 * client's data after both hellos, in a flow that opened with TCP's
 * handshake: on the IoT corpus's training captures its records there are
 * the server's flight (bench/tls_flight.py, BENCHMARK.md, "The server's
 * flight (session 15)": segments starting a Certificate 222, a
 * ServerKeyExchange 221, a ServerHelloDone 223, and 1,929 continuing the
 * hello's or the certificate's record; a ChangeCipherSpec, resuming, 24;
 * application data and alerts never), the payload model wrote application
 * data there in 619 records and alerts (0x15, a bit from 0x17) in 43, so
 * tshark found no handshake past the hellos. A record the learned bytes
 * make neither a handshake nor a ChangeCipherSpec becomes a handshake
 * record (content type 22): the first the server sends after its hello a
 * Certificate (message type 11; tls_handshake makes its list empty, the
 * learned body past it), the later ones a ServerKeyExchange (12, its body
 * opaque without the keys) that ends in a
 * ServerHelloDone where the record is the segment's and holds both, as the
 * real servers' last segment of the flight does. Of the fill where the row
 * has no learned bytes; tls_frame frames the lengths (a record too short
 * for its message is application data again). Returns whether it wrote
 * the segment's records. */
static int server_flight(app_flow *f, int d, uint8_t *p, int len, int lb)
{
    int later = f->flight & 8;
    f->flight |= 8;
    if (lb > 0 && (p[0] == 20 || p[0] == 22)) return 0; /* the learned record: tls_records frames it */
    if (!lb && len < 10) return 0; /* no message fits: application data of the fill, as before */
    uint8_t type = later ? 12 : 11;
    if (lb > 0) {
        p[0] = 22;
        if (len > 5) p[5] = type;
        tls_records(f, d, p, len, lb, 1);
    } else {
        fill_handshake(f, p, len, type);
        if (!f->tls) f->tls = (uint8_t)(p[2] + 1);
    }
    uint16_t n;
    if (type == 12 && len >= 5 + 8 && p[0] == 22 && p[5] == 12 && ns_get_be16(ns_bytes_make(p, 5), 3, &n) && n == len - 5) {
        put24(p + 6, (uint32_t)(n - 8)); /* the key exchange, then a ServerHelloDone of no body */
        p[len - 4] = 14, put24(p + len - 3, 0);
    }
    return 1;
}

/* The segment p[0, len) of a TLS stream at a record boundary, its learned
 * bytes lb, of direction d of the flow f. Leaves in f a record it opens and
 * leaves open (a record header alone in 5 bytes, as some stacks send it; a
 * header begun in a segment too short for it). */
static void tls_records(app_flow *f, int d, uint8_t *p, int len, int lb, int on_port)
{
    int starts = lb > 0 && (on_port || f->tls ? tls_type_ok(p[0]) : tls_starts(p, lb));
    if (len >= 6 && starts) {
        tls_frame(p, len, lb, !(f->off & APP_OFF_HELLOVER));
    } else if (len >= 6 && (f->tls || (on_port && lb > 0))) {
        /* the rest of a record the model began in an earlier segment (ciphertext; zeros where a
         * row had no bytes of its own), of a stream already TLS: application data to the end */
        p[0] = 23, p[1] = 3, p[2] = f->tls ? (uint8_t)(f->tls - 1) : 3, put16(p + 3, (uint32_t)(len - 5));
    } else if (len == 5 && (starts || f->tls)) {
        /* a header alone, its record in the next segments: application data (a 5-byte handshake
         * header would promise a message the next bytes do not make) of the learned length */
        uint16_t n = 0;
        if (!starts || lb < 5 || !ns_get_be16(ns_bytes_make(p, 5), 3, &n)) n = 0;
        if (!starts || lb < 3 || p[2] > 4) p[2] = f->tls ? (uint8_t)(f->tls - 1) : 3;
        p[0] = 23, p[1] = 3;
        if (n == 0) n = 1, put16(p + 3, 1); /* tshark calls an empty one malformed */
        f->tls = (uint8_t)(p[2] + 1), f->tls_rem[d] = n;
        return;
    } else if (len >= 1 && len < 5 && (starts || f->tls)) {
        if (!f->tls) f->tls = 4; /* TLS 1.2 */
        tls_header_rest(f, d, p, len);
        return;
    } else {
        return; /* nothing learned, in a stream not TLS (yet) */
    }
    if (!f->tls) f->tls = (uint8_t)(p[2] + 1);
}

/* Z39.50 on TCP 210: no IoT class speaks it, but a generated server port
 * can come out there (a WeMoSwitch flow of the payload model's run), and
 * tshark's dissector, which reads BER PDUs of at least 8 bytes (identifier
 * and length), threw on the learned bytes and on zeros alike (8 malformed
 * segments; BENCHMARK.md, "tshark's bars (session 14)"). So each segment is
 * one BER element that covers it (a SEQUENCE, learned bytes kept past its
 * header), which the dissector takes for a PDU it does not know and shows
 * as such; a segment under 8 bytes, which tshark joins to the next, is the
 * element's identifier begun (0xff, a tag continued: the next segment's
 * 0x30 ends it), so the joined bytes are still one element. */
static void ber_segment(uint8_t *p, int len)
{
    if (len < 8) {
        memset(p, 0xff, (size_t)(len > 0 ? len : 0));
    } else if (len - 2 < 128) {
        p[0] = 0x30, p[1] = (uint8_t)(len - 2);
    } else if (len - 3 < 256) {
        p[0] = 0x30, p[1] = 0x81, p[2] = (uint8_t)(len - 3);
    } else {
        p[0] = 0x30, p[1] = 0x82, put16(p + 2, (uint32_t)(len - 4));
    }
}

/* MQTT (3.1.1, the lab corpus's broker): every segment of a stream written
 * with learned bytes is framed as whole MQTT packets that tile it, since
 * tshark reassembles by the remaining length and a length past the segment
 * swallowed the flow's next segments (61 malformed packets of the lab p32
 * demo: a CONNECT whose name length ran past its packet, a PUBACK of
 * length 0). The learned type and lengths are kept where they hold. */
static int mqtt_min(int type, int flags)
{
    switch (type) {
    case 1: return 12;                         /* name "MQTT", level, flags, keep-alive, client id length */
    case 3: return flags & 6 ? 4 : 2;          /* topic length, a packet id from QoS 1 on */
    case 8: return 5;                          /* packet id, one filter's length and its QoS */
    case 9: return 3;                          /* packet id, one return code */
    case 10: return 4;                         /* packet id, one filter's length */
    case 2: case 4: case 5: case 6: case 7: case 11: return 2;
    default: return 0;
    }
}

/* The varint at p[0, n): its value and length in *used, or -1. */
static int mqtt_varint(const uint8_t *p, int n, int *used)
{
    int v = 0;
    for (int i = 0; i < 4 && i < n; i++) {
        v |= (p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) return *used = i + 1, v;
    }
    return -1;
}

/* The body p[0, r) of a packet of the given type: its inner lengths made to hold. */
static void mqtt_body(uint8_t *p, int r, int type, int qos)
{
    if (type == 1) { /* a CONNECT names its protocol: 3.1.1's, no will, user or password, the client id to the end */
        static const uint8_t head[7] = {0, 4, 'M', 'Q', 'T', 'T', 4};
        memcpy(p, head, 7);
        p[7] &= 0x02;
        put16(p + 10, (uint32_t)(r - 12));
    } else if (type == 3) { /* a topic past the packet: the learned topic's text (the model garbles its length, not its name) */
        int room = r - mqtt_min(3, qos), tl = p[0] << 8 | p[1], n = 0;
        if (tl > room || tl == 0) { /* 3.1.1 has no empty topic (tshark: "Length cannot be 0") */
            while (n < room && p[2 + n] >= 0x20 && p[2 + n] < 0x7f) n++;
            if (n || tl) put16(p, (uint32_t)n);
        }
    } else if (type == 8) {
        put16(p + 2, (uint32_t)(r - 5));
        if (p[r - 1] > 2) p[r - 1] &= 1;
    } else if (type == 10) {
        put16(p + 2, (uint32_t)(r - 4));
    }
}

/* The segment p[0, len) of an MQTT stream; opening: the direction's first learned bytes. */
static void mqtt_segment(uint8_t *p, int len, int from_server, int opening)
{
    /* a stream opens with a CONNECT alone in its segment, answered by a CONNACK of 4 bytes (the lab
     * corpus's every flow): a type byte a few bits off theirs is made theirs ("Near misses"), and
     * the packet covers its segment (a learned CONNECT of 17 in 21 bytes left 2 for a PINGREQ) */
    int whole = 0;
    if (opening && !from_server && len >= 14 && bits_off(p[0], 0x10) <= 2) p[0] = 0x10, whole = 1;
    if (opening && from_server && len == 4 && bits_off(p[0], 0x20) <= 2) p[0] = 0x20, whole = 1;
    for (int at = 0; len - at >= 2;) {
        int rest = len - at, used = 0;
        int r = mqtt_varint(p + at + 1, rest - 1, &used);
        int type = p[at] >> 4, end = r < 0 ? -1 : at + 1 + used + r;
        if (type == 3 && (p[at] & 6) == 6) p[at] &= (uint8_t)~4;   /* QoS 3 does not exist: 1 */
        /* the learned length holds when the packet ends in this segment leaving no lone byte and
         * is long enough for its type (the fill after it, zeros, is packets of length 0 as before) */
        int keep = r >= 0 && end <= len && len - end != 1 && r >= mqtt_min(type, p[at] & 15) && !(whole && end != len);
        if (!keep) {
            used = rest - 2 <= 127 ? 1 : 2, r = rest - 1 - used;
            if (r < mqtt_min(type, p[at] & 15)) { /* too short for its type: a packet that fits */
                if (r < 2) p[at] = from_server ? 0xd0 : 0xc0; /* PINGRESP / PINGREQ */
                else p[at] = 0x40;                            /* PUBACK */
                type = p[at] >> 4;
            }
            if (used == 1) p[at + 1] = (uint8_t)r;
            else p[at + 1] = (uint8_t)(0x80 | (r & 0x7f)), p[at + 2] = (uint8_t)(r >> 7);
        }
        /* the flag bits 3.1.1 fixes: 0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE, else 0000 but PUBLISH's */
        if (type != 3) p[at] = (uint8_t)(type << 4 | (type == 6 || type == 8 || type == 10 ? 2 : 0));
        mqtt_body(p + at + 1 + used, r, type, p[at] & 6);
        at += 1 + used + r;
    }
}

void app_write(const app *a, app_flow *f, uint8_t *data, int len, int from_server, uint16_t id, const uint8_t *pay, int n_pay)
{
    if (!a) a = &app_tcp; /* no port given: framed by what the bytes start, as on any TCP port */
    app_flow alone;
    if (!f) memset(&alone, 0, sizeof alone), f = &alone;
    if (len >= a->min) app_fill(a, f, data, len, from_server, id);
    /* The generated bytes win over the fill; what lies past them stays filled. */
    int learned = n_pay < len ? n_pay : len;
    if (learned < 0) learned = 0;
    /* Names only under no learned bytes: a learned message's own questions must parse over zeros as before. */
    if (!learned && len >= a->min && a->port != 137) {   /* NetBIOS names are not labels of letters */
        if (a->kind == APP_DNS) dns_message(a, f, data, len, from_server, id);
        else if (a->kind == APP_DNS_TCP) dns_message(a, f, data + 2, len - 2, from_server, id);
    }
    uint8_t keep[NS_NP_BITS_PAY / 8];   /* the fill under the learned bytes (n_pay <= a row's bytes) */
    if (learned) memcpy(keep, data, (size_t)learned), memcpy(data, pay, (size_t)learned); /* pay may be NULL when none */
    if (a->kind == APP_BER) { /* every segment, learned or fill */
        if (!(f->off & APP_OFF_BER)) ber_segment(data, len);
        return;
    }
    if (a->kind == APP_MQTT) {
        /* a stream's segments from its first learned bytes on (header-only rows stay as they were) */
        int d = !!from_server;
        int opening = f != &alone && learned > 0 && !f->began[d];
        if (learned > 0) f->began[d] = 1;
        if (f->began[d]) mqtt_segment(data, len, from_server, opening);
        return;
    }
    if (a->kind == APP_TLS || a->kind == APP_HTTP || a->kind == APP_TCP) {
        int d = !!from_server, at = 0;
        /* a flow's first learned bytes in a direction (a segment written alone has no stream to start) */
        int stream_start = f != &alone && learned > 0 && !f->began[d];
        /* ... and its first data after a handshake: the protocol's opening ("Near misses") */
        int opening = stream_start && f->opened && !f->data[d];
        if (learned > 0) f->began[d] = 1;
        if (len > 0) f->data[d] = 1;
        if (f->tls_hdr[d]) { /* a header begun earlier, then its record's body */
            at = tls_header_rest(f, d, data, len);
            if (at == len) return;
        }
        if (f->tls_rem[d]) { /* the open record's bytes come first */
            int body = f->tls_rem[d] < (uint32_t)(len - at) ? (int)f->tls_rem[d] : len - at;
            f->tls_rem[d] -= (uint32_t)body, at += body;
            if (at == len) return;
        }
        if (f->head[d] && !at) { /* a head an earlier segment began goes on here */
            head_rest(f, d, data, len, learned);
            return;
        }
        int lb = learned > at ? learned - at : 0, http_port = a->kind == APP_HTTP;
        /* the direction's first bytes start its stream: a hello, a request line, a status line */
        if (stream_start && !at && http_port) {
            static const char *const status[] = {"HTTP/1."};
            int den = opening ? NEAR_TEXT_OPENED : NEAR_TEXT;
            /* an opened flow's first data can be nothing but its request or status line ("Near misses") */
            if (from_server) {
                if (near_text(data, learned, status, 1, den) < 0 && opening) near_text(data, learned, status, 1, AT_ANY);
            } else if (near_method(data, learned, f->methods, den) < 0 && opening) {
                near_method(data, learned, f->methods, AT_ANY);
            }
        }
        int method = lb > 0 && !at ? http_starts(data, learned) : -1;
        if (stream_start && !at && method < 0 && !http_port && (a->kind == APP_TLS || tls_starts(data, lb)))
            tls_hello_near(data, len, lb, !from_server, opening && a->kind == APP_TLS);
        /* on a TLS port, a flow the model began in plain HTTP (a status line on 443) stays HTTP
         * until a record starts: tshark's HTTP heuristic reads it so */
        if (!http_port && (f->tls || (lb >= 5 && tls_starts(data + at, lb)) || (a->kind == APP_TLS && method < 0 && !f->http))) {
            if (a->kind == APP_TLS && f->opened && !from_server && len > 0 && !stream_start && (f->flight & 7) == 3) {
                f->flight |= 4; /* the client's first data after both hellos */
                if (!at && (!lb || data[0] != 20) && !(f->off & APP_OFF_KEYX) && key_exchange(f, data, len, lb)) return;
            }
            if (a->kind == APP_TLS && f->opened && from_server && len > at && !stream_start && (f->flight & 7) == 3 &&
                !(f->off & APP_OFF_SRVFLIGHT) && server_flight(f, d, data + at, len - at, lb))
                return;
            tls_records(f, d, data + at, len - at, lb, a->kind == APP_TLS);
            if (a->kind == APP_TLS && f != &alone && stream_start && !at && len > 5 && data[0] == 22 && data[5] == 1 + d)
                f->flight |= (uint8_t)(1 + d); /* the direction's hello */
        } else if (method >= 0) {
            http_frame(f != &alone ? f : NULL, d, data, len, learned, method, 0);
            f->http = 1;
        } else if (http_port && len >= 5 && tls_starts(data, learned)) {
            /* tshark reads HTTP on its port whatever the bytes: a record framed alone, as before
             * (its first byte is not printable), the flow's next messages still HTTP's */
            tls_frame(data, len, learned, !(f->off & APP_OFF_HELLOVER));
        } else if (lb > 0 && a->kind == APP_TCP && !f->http && http_heuristic(data, len)) {
            f->http = 1; /* no message repair can frame (a garbled method), but tshark's from here on */
        } else if (lb > 0 && (a->kind == APP_HTTP || f->http) && http_printable(data[0])) {
            /* bytes that start no message in an HTTP stream (a body's, the model's mix): tshark reads a
             * segment starting with a printable byte as a head, gathering segments until a line ends,
             * and threw on what it gathered (75 packets of the IoT run). A first byte that is not
             * printable makes it a continuation, as a body's is when tshark knows its length. */
            data[0] = http_printable(keep[0]) ? (uint8_t)(keep[0] | 0x80) : keep[0];
        }
        return;
    }
    if (learned <= 0) return;
    if (a->kind == APP_OPAQUE) {
        memcpy(data, keep, (size_t)learned);
        return;
    }
    if (a->kind == APP_UDP || a->kind == APP_SSDP) {
        if (a->kind == APP_SSDP) ssdp_start(data, learned, from_server);
        int method = http_starts(data, learned);
        if (method >= 0) http_frame(NULL, 0, data, len, learned, method, !(f->off & APP_OFF_DGRAMHEAD));
        else if (dns_looks(ns_bytes_make(data, (size_t)len)) && !dns_ok(ns_bytes_make(data, (size_t)len)))
            memcpy(data, keep, (size_t)learned); /* no message the fill could stand in for: the fill */
        else if (a->kind == APP_SSDP && http_printable(data[0]) && binary_line(data, learned))
            /* tshark reads every datagram on 1900 as HTTP: binary bytes that start with a printable one
             * ("VB\x10L\0...:\n") were lines of a head to it, malformed ("Illegal characters found in
             * header name", 2 datagrams of the IoT run); a first byte that is not printable makes them
             * a continuation. Lines of text, garbled or not, stay as generated. */
            data[0] = (uint8_t)(data[0] | 0x80);
        return;
    }
    app_restamp(a, f, data, len, learned, id);
    if (len >= a->min && !app_valid(a, data, len)) memcpy(data, keep, (size_t)learned);
}
