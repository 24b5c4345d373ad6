/* capture.h: reading pcap/pcapng files (libpcap underneath) and writing pcap.
 *
 * The reader hands out frames one at a time, with the file's link type; the
 * packet module (packet.h) decodes the link layer. A file that is not a
 * capture is NS_EFORMAT with a message naming the file. A record cut short at
 * the end of a file ends the capture and is counted in `truncated_records`
 * rather than failing: the packets before it are still good. */
#ifndef NETSYNTH_CAPTURE_H
#define NETSYNTH_CAPTURE_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stdint.h>
#include <stdio.h>

typedef struct ns_capture ns_capture;

typedef struct ns_frame {
    const uint8_t *data;   /* valid until the next ns_capture_next() */
    uint32_t caplen;       /* bytes captured, the only bytes that may be read */
    uint32_t wirelen;      /* bytes on the wire */
    int64_t ts_ns;         /* nanoseconds since the Unix epoch */
} ns_frame;

/* Open path ("-" is stdin) with an optional tcpdump-style BPF filter (NULL or "" for none). */
int ns_capture_open(ns_capture **out, const char *path, const char *filter);
/* The same over an open stream (closed by ns_capture_close); name is for messages. */
int ns_capture_fopen(ns_capture **out, FILE *fp, const char *name, const char *filter);
/* 1: *f holds the next frame; 0: end of capture; <0: error (message set),
 * e.g. NS_ERANGE for a timestamp outside the years 1823 to 2116 (pcapng
 * can say any 64-bit time; netsynth keeps nanoseconds in 64 bits). */
int ns_capture_next(ns_capture *c, ns_frame *f);
int ns_capture_linktype(const ns_capture *c);      /* a DLT_* value */
/* Records cut short or garbled (libpcap cannot resynchronise, so the
 * capture ends at the first one: 0 or 1). */
uint64_t ns_capture_truncated_records(const ns_capture *c);

/* What a capture's cut-short or garbled record cost, once ns_capture_next
 * has returned 0. */
typedef struct ns_capture_cut {
    uint64_t records;     /* records cut short or garbled: 0 or 1 */
    uint64_t packets;     /* whole packets read (and used) before it */
    int64_t bytes_lost;   /* from the end of the last whole record to the end of the file; -1 unknown (a pipe) */
    int garbled;          /* 1: a record header that makes no sense, the rest of the file (packets unknown)
                           * is lost; 0: the last record ends early, one packet is lost */
} ns_capture_cut;
void ns_capture_cut_info(const ns_capture *c, ns_capture_cut *cut);
/* The warning for a cut (snprintf's contract; "" when cut->records is 0):
 * "PATH: truncated capture: the last record (packet 13) is cut short;
 * 1 packet (37 bytes) lost, the 12 before it used". */
int ns_capture_cut_format(const char *path, const ns_capture_cut *cut, char *buf, size_t size);
void ns_capture_close(ns_capture *c);

/* Link types as written in pcap file headers (LINKTYPE_*, not DLT_*). */
enum { NS_LINKTYPE_ETHERNET = 1, NS_LINKTYPE_RAW = 101, NS_LINKTYPE_IPV4 = 228 };

/* Classic pcap writer, microsecond or nanosecond timestamps. */
typedef struct ns_pcap_writer {
    FILE *fp;
    int nanosecond;
} ns_pcap_writer;

/* Writes the file header (linktype: a LINKTYPE_* value) to an open stream
 * (see fileio.h for atomic files). */
int ns_pcap_writer_begin(ns_pcap_writer *w, FILE *fp, int linktype, int nanosecond);
int ns_pcap_write(ns_pcap_writer *w, int64_t ts_ns, const uint8_t *data, uint32_t caplen, uint32_t wirelen);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
