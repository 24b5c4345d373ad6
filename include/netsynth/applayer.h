/* applayer.h: what DPI and a dissector make of each class's content (issue 17).
 *
 * Per class of the first label, the real test captures against the synthetic
 * ones, both given as tables of captures (labels.tsv):
 *   - nDPI (`ndpiReader -d`: deep inspection only, no guess by port), run on
 *     each capture alone: its flows, and those it gives the class's protocol,
 *     the one it names most often among the class's real test flows (a flow
 *     counts when any name of its protocol is that one: "TLS.Google" is TLS);
 *   - tshark with TCP reassembly off (each segment read alone), one run
 *     over all captures of a side (each run costs tshark's start; a packet's
 *     class is known by its frame number): per class, packets with transport
 *     payload, and those whose application layer it dissects (the first
 *     layer past TCP or UDP is not "data", the packet is not malformed, and
 *     on HTTP, where tshark reads every segment as HTTP, it is a request or
 *     a status line); the class's protocol is the commonest such layer of
 *     its real test packets. The compliance table (report.h) runs tshark
 *     over the synthetic captures again, as it must: with reassembly on, as
 *     Wireshark shows them (off, the real IoT captures' expert warnings
 *     double, 11,094 to 21,160, mostly TLS records split across segments),
 *     and tshark takes one set of preferences a run.
 * Packets a snapshot length cut are zero-filled to their length on the wire
 * first (in copies under $TMPDIR): ndpiReader skips cut packets, and the
 * zeros make the real side what a model of the captured bytes could give at
 * most. The lab corpus keeps headers and at least 64 payload bytes. */
#ifndef NETSYNTH_APPLAYER_H
#define NETSYNTH_APPLAYER_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#include "netsynth/trace.h"

enum { NS_APPLAYER_REAL = 0, NS_APPLAYER_SYNTH = 1 };
#define NS_APPLAYER_CLASSES 64

typedef struct ns_applayer_class {
    char value[64];        /* the class: the first label's value */
    char ndpi[32];         /* nDPI's commonest protocol of its real test flows; "" when all were Unknown */
    char dissector[32];    /* tshark's commonest application layer of its real test packets; "" none */
    uint64_t flows[2], recognised[2];  /* nDPI: flows; flows given `ndpi` ([NS_APPLAYER_REAL], [NS_APPLAYER_SYNTH]) */
    uint64_t payload[2], dissected[2]; /* tshark: packets with transport payload; those with an application layer */
    uint64_t captures[2];
} ns_applayer_class;

typedef struct ns_applayer {
    char label[64];        /* the first label's name */
    size_t n_classes;      /* in order of first appearance, real test rows first */
    ns_applayer_class cls[NS_APPLAYER_CLASSES];
    uint64_t classes_left_out;  /* rows of classes past NS_APPLAYER_CLASSES */
    int has_ndpi, has_tshark;   /* which tool ran (the other's columns are 0) */
} ns_applayer;

/* real: the real test captures (a table and, when split is set, only its rows
 * of that split); synth: every row of the synthetic table. label: the first
 * of a comma-separated list is the class. NS_EIO when neither ndpiReader nor
 * tshark can run, or one fails on a capture. */
int ns_applayer_run(ns_applayer *a, const ns_trace_source *real, const ns_trace_source *synth, const char *labels);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
