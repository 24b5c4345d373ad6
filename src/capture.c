/* capture.c: pcap/pcapng reading through libpcap, classic pcap writing. */
#include "netsynth/capture.h"

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netsynth/error.h"

struct ns_capture {
    pcap_t *pcap;
    char *path;
    uint64_t truncated_records;
    uint64_t packets;        /* records read whole */
    int64_t good_end;        /* file offset after the last whole record; -1 unknown */
    int64_t lost_bytes;      /* from good_end to the end of the file, at a cut; -1 unknown */
    int garbled;             /* the cut record's header made no sense (not merely short) */
};

/* libpcap says "truncated dump file" or "unknown file format" in its own
 * words; turn the common ones into a message a user can act on. */
static int open_error(const char *path, const char *why)
{
    if (strstr(why, "unknown file format") || strstr(why, "bad dump file format"))
        return ns_error(NS_EFORMAT, "%s: not a pcap or pcapng capture", path);
    if (strstr(why, "truncated dump file") || strstr(why, "file header bytes, only got"))
        return ns_error(NS_ETRUNC, "%s: empty, or truncated inside the capture file header", path);
    if (strstr(why, "No such file") || strstr(why, "Permission denied") || strstr(why, "Is a directory")) {
        /* libpcap's text already starts with the path ("x.pcap: No such file ..."). */
        size_t n = strlen(path);
        if (!strncmp(why, path, n) && why[n] == ':') return ns_error(NS_EIO, "%s", why);
        return ns_error(NS_EIO, "%s: %s", path, why);
    }
    return ns_error(NS_EFORMAT, "%s: cannot read as a capture: %s", path, why);
}

/* Where libpcap's stream stands: the end of the last record it read. */
static int64_t stream_offset(const ns_capture *c)
{
    FILE *fp = pcap_file(c->pcap);
    long at = fp ? ftell(fp) : -1;
    return at >= 0 ? (int64_t)at : -1;
}

/* Common to both openers: filter, then wrap. `p` is closed on failure. */
static int capture_wrap(ns_capture **out, pcap_t *p, const char *name, const char *filter)
{
    if (filter && *filter) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            int rc = ns_error(NS_EARG, "%s: bad filter '%s': %s", name, filter, pcap_geterr(p));
            pcap_close(p);
            return rc;
        }
        int set = pcap_setfilter(p, &prog);
        pcap_freecode(&prog);
        if (set != 0) {
            int rc = ns_error(NS_EARG, "%s: cannot apply filter '%s': %s", name, filter, pcap_geterr(p));
            pcap_close(p);
            return rc;
        }
    }
    ns_capture *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(name))) {
        free(c);
        pcap_close(p);
        return ns_error(NS_ENOMEM, "%s: out of memory", name);
    }
    c->pcap = p;
    c->lost_bytes = -1;
    c->good_end = stream_offset(c);   /* after the file header libpcap has read */
    *out = c;
    return NS_OK;
}

int ns_capture_open(ns_capture **out, const char *path, const char *filter)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    *out = NULL;
    if (!strcmp(path, "-")) return ns_capture_fopen(out, stdin, "stdin", filter);
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) return open_error(path, errbuf);
    return capture_wrap(out, p, path, filter);
}

int ns_capture_fopen(ns_capture **out, FILE *fp, const char *name, const char *filter)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    *out = NULL;
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) return open_error(name, errbuf);
    return capture_wrap(out, p, name, filter);
}

/* Nanoseconds since 1970 kept within +-2^62 (the years 1823 to 2116, which
 * hold every classic pcap time), so that the difference of any two, which
 * flows and nPrint's rts take, cannot overflow either. */
#define TS_LIMIT_NS (INT64_C(1) << 62)

int ns_capture_next(ns_capture *c, ns_frame *f)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int r = pcap_next_ex(c->pcap, &h, &data);
    if (r == 1) {
        /* pcapng holds 64-bit times in any unit: tv_sec can be anything. */
        int64_t sec = (int64_t)h->ts.tv_sec, frac = (int64_t)h->ts.tv_usec, ns; /* tv_usec holds ns here */
        if (__builtin_mul_overflow(sec, INT64_C(1000000000), &ns) || __builtin_add_overflow(ns, frac, &ns) ||
            ns > TS_LIMIT_NS || ns < -TS_LIMIT_NS)
            return ns_error(NS_ERANGE, "%s: packet %" PRIu64 ": timestamp %" PRId64 " s is outside the years "
                            "1823 to 2116 that netsynth handles", c->path, c->packets + 1, sec);
        f->data = data;
        f->caplen = h->caplen;
        f->wirelen = h->len;
        f->ts_ns = ns;
        c->packets++;
        c->good_end = stream_offset(c);
        return 1;
    }
    if (r == PCAP_ERROR_BREAK) return 0; /* end of file */
    /* A record cut short or garbled: libpcap cannot resynchronise inside a
     * file, so the capture ends here; the packets before it are good. What
     * was lost: the rest of the file, when it is a file. */
    if (!c->truncated_records) {
        const char *why = pcap_geterr(c->pcap);
        c->garbled = !strstr(why, "truncated");
        FILE *fp = pcap_file(c->pcap);
        struct stat st;
        if (fp && c->good_end >= 0 && fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
            st.st_size >= c->good_end)
            c->lost_bytes = (int64_t)st.st_size - c->good_end;
    }
    c->truncated_records++;
    return 0;
}

void ns_capture_cut_info(const ns_capture *c, ns_capture_cut *cut)
{
    cut->records = c->truncated_records;
    cut->packets = c->packets;
    cut->bytes_lost = c->truncated_records ? c->lost_bytes : 0;
    cut->garbled = c->truncated_records && c->garbled;
}

int ns_capture_cut_format(const char *path, const ns_capture_cut *cut, char *buf, size_t size)
{
    if (!cut->records) return size ? (buf[0] = 0) : 0;
    char bytes[64];
    if (cut->bytes_lost >= 0) snprintf(bytes, sizeof bytes, "%" PRId64 " bytes", cut->bytes_lost);
    else snprintf(bytes, sizeof bytes, "the rest of the stream");
    if (cut->garbled)
        return snprintf(buf, size, "%s: truncated capture: a garbled record after packet %" PRIu64 " ends it; %s "
                        "(an unknown number of packets) not read, the %" PRIu64 " packets before it used",
                        path, cut->packets, bytes, cut->packets);
    return snprintf(buf, size, "%s: truncated capture: the last record (packet %" PRIu64 ") is cut short; 1 packet "
                    "(%s) lost, the %" PRIu64 " before it used", path, cut->packets + 1, bytes, cut->packets);
}

int ns_capture_linktype(const ns_capture *c) { return pcap_datalink(c->pcap); }

uint64_t ns_capture_truncated_records(const ns_capture *c) { return c->truncated_records; }

void ns_capture_close(ns_capture *c)
{
    if (!c) return;
    pcap_close(c->pcap); /* also closes a stream given to ns_capture_fopen */
    free(c->path);
    free(c);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

enum { PCAP_SNAPLEN = 262144 };

int ns_pcap_writer_begin(ns_pcap_writer *w, FILE *fp, int linktype, int nanosecond)
{
    uint8_t h[24];
    put_le32(h, nanosecond ? 0xa1b23c4du : 0xa1b2c3d4u);
    h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0; /* version 2.4 */
    put_le32(h + 8, 0);                     /* thiszone */
    put_le32(h + 12, 0);                    /* sigfigs */
    put_le32(h + 16, PCAP_SNAPLEN);
    put_le32(h + 20, (uint32_t)linktype);
    w->fp = fp;
    w->nanosecond = nanosecond;
    if (fwrite(h, 1, sizeof h, fp) != sizeof h) return ns_error(NS_EIO, "write failed: %s", strerror(errno));
    return NS_OK;
}

int ns_pcap_write(ns_pcap_writer *w, int64_t ts_ns, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    if (ts_ns < 0) return ns_error(NS_ERANGE, "negative packet timestamp");
    int64_t sec = ts_ns / 1000000000, frac = ts_ns % 1000000000;
    if (sec > UINT32_MAX) return ns_error(NS_ERANGE, "packet timestamp past 2106");
    if (caplen > PCAP_SNAPLEN) return ns_error(NS_ERANGE, "packet of %u bytes exceeds the snapshot length", caplen);
    uint8_t h[16];
    put_le32(h, (uint32_t)sec);
    put_le32(h + 4, (uint32_t)(w->nanosecond ? frac : frac / 1000));
    put_le32(h + 8, caplen);
    put_le32(h + 12, wirelen < caplen ? caplen : wirelen);
    if (fwrite(h, 1, sizeof h, w->fp) != sizeof h || fwrite(data, 1, caplen, w->fp) != caplen)
        return ns_error(NS_EIO, "write failed: %s", strerror(errno));
    return NS_OK;
}
