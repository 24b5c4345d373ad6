/* fuzz_capture.c: libFuzzer target for the capture reader and packet decoder.
 * The input is a whole capture file (pcap or pcapng); every frame is decoded
 * with the file's link type and, to reach the other decoders, with each of
 * the link types netsynth knows; frames go through a flow table (times of
 * any size meet its arithmetic, IPv6 addresses its keys), decoded ones are
 * encoded into model rows (IPv6 extension headers folded away) and rebuilt
 * into packets, and a cut capture's warning is formatted. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdio.h>

#include "netsynth/capture.h"
#include "netsynth/flow.h"
#include "netsynth/nprint.h"
#include "netsynth/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int linktypes[] = {DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP};
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (!fp) return 0;
    ns_capture *c;
    if (ns_capture_fopen(&c, fp, "fuzz", NULL) != 0) {
        fclose(fp);
        return 0;
    }
    ns_frame f;
    ns_skips skips = {{0}};
    ns_flow_table *t = NULL;
    if (ns_flow_table_new(&t, 4, NS_FLOW_DEFAULT_IDLE_NS) != 0) t = NULL;
    while (ns_capture_next(c, &f) == 1) {
        ns_packet p;
        ns_skip_reason why = ns_packet_parse(&p, ns_capture_linktype(c), f.data, f.caplen);
        ns_skips_add(&skips, why);
        if (t) ns_flow_table_add(t, &p, why, f.ts_ns);
        if (why == NS_SKIP_NONE) {
            static int8_t row[NS_NP_MODEL_WIDTH];
            static uint8_t pkt[NS_NP_MAX_PACKET];
            size_t len;
            ns_nprint_encode(&p, NS_NP_MODEL_LAYERS, row);
            ns_nprint_row_to_packet(row, NS_NP_MODEL_LAYERS, 1, pkt, &len);
        }
        for (size_t i = 0; i < sizeof linktypes / sizeof linktypes[0]; i++)
            ns_packet_parse(&p, linktypes[i], f.data, f.caplen);
    }
    char line[256];
    ns_skips_format(&skips, line, sizeof line);
    ns_capture_cut cut;
    ns_capture_cut_info(c, &cut);
    ns_capture_cut_format("fuzz", &cut, line, sizeof line);
    ns_flow_table_free(t);
    ns_capture_close(c);
    return 0;
}
