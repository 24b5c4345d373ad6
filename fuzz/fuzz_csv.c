/* fuzz_csv.c: libFuzzer target for the nPrint CSV reader, and behind it the
 * way back to packets and the encoder. The input is a whole CSV file. Every
 * row it accepts is written again (with its time and payload columns),
 * turned into a packet (with and without Ethernet, with its payload bits,
 * checksums kept or recomputed), and every packet is encoded again with
 * payload and time columns, so hostile bits reach all of them. */
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
    ns_nprint_opts o = {.layers = NS_NP_ALL, .fill = -1, .index = NS_NP_INDEX_FLOW, .rts = 1, .threads = 1,
                        .payload = c.payload_bytes ? c.payload_bytes : 4, .abs_time = 1};
    ns_nprint_writer *w;
    if (ns_nprint_writer_open(&w, sink, "sink", &o) != NS_OK) abort();
    for (size_t i = 0; i < c.rows && i < 64; i++) {
        const int8_t *row = c.bits + i * (size_t)c.width;
        const int8_t *pay = c.payload ? c.payload + i * 8 * (size_t)c.payload_bytes : NULL;
        ns_nprint_csv_write_row_ex(sink, c.index_text + c.index_off[i], c.has_rts ? c.rts[i] : -1,
                                   c.has_abs ? c.abs_us[i] : -1, row, c.layers, pay, c.payload_bytes);
        for (int eth = 0; eth < 2; eth++) {
            size_t len;
            int whole;
            if (ns_nprint_row_to_packet_ex(row, c.layers, pay, c.payload_bytes, eth, eth, pkt, &len, &whole) != NS_OK)
                continue;
            if (len > NS_NP_MAX_PACKET || (whole && !pay)) abort();
            /* tv_sec parses up to INT64_MAX / 1e6: the nanoseconds may not fit (decode refuses those rows) */
            int64_t ns = c.has_abs && c.abs_us[i] <= INT64_MAX / 1000 ? c.abs_us[i] * 1000 : (int64_t)i * 1000;
            ns_frame f = {pkt, (uint32_t)len, (uint32_t)len, ns};
            ns_nprint_writer_frame(w, eth ? DLT_EN10MB : DLT_RAW, &f);
        }
    }
    ns_nprint_writer_finish(w, NULL, NULL);
    ns_nprint_writer_free(w);
    ns_nprint_csv_free(&c);
    return 0;
}
