/* fuzz_csv.c: libFuzzer target for the nPrint CSV reader, and behind it the
 * way back to packets and the encoder. The input is a whole CSV file. Every
 * row it accepts is turned into a packet (with and without Ethernet), and
 * every packet is encoded again, so hostile bits reach all three. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "netsynth/error.h"
#include "netsynth/nprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *pkt;
    static FILE *sink;
    if (!pkt) pkt = malloc(NS_NP_MAX_PACKET);
    if (!sink) sink = fopen("/dev/null", "w");
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (!fp) return 0;
    ns_nprint_csv c;
    int rc = ns_nprint_csv_read_stream(fp, "fuzz.csv", &c);
    fclose(fp);
    if (rc != NS_OK) {
        /* Every failure says where: "fuzz.csv: ..." */
        if (ns_errmsg()[0] != 'f' && rc != NS_ENOMEM) abort();
        return 0;
    }
    ns_nprint_opts o = {.layers = NS_NP_ALL, .fill = -1, .index = NS_NP_INDEX_FLOW, .rts = 1, .threads = 1};
    ns_nprint_writer *w;
    if (ns_nprint_writer_open(&w, sink, "sink", &o) != NS_OK) abort();
    for (size_t i = 0; i < c.rows && i < 64; i++) {
        const int8_t *row = c.bits + i * (size_t)c.width;
        ns_nprint_csv_write_row(sink, c.index_text + c.index_off[i], c.has_rts ? c.rts[i] : -1, row, c.layers);
        for (int eth = 0; eth < 2; eth++) {
            size_t len;
            if (ns_nprint_row_to_packet(row, c.layers, eth, pkt, &len) != NS_OK) continue;
            if (len > NS_NP_MAX_PACKET) abort();
            ns_frame f = {pkt, (uint32_t)len, (uint32_t)len, (int64_t)i * 1000};
            ns_nprint_writer_frame(w, eth ? DLT_EN10MB : DLT_RAW, &f);
        }
    }
    ns_nprint_writer_finish(w, NULL, NULL);
    ns_nprint_writer_free(w);
    ns_nprint_csv_free(&c);
    return 0;
}
