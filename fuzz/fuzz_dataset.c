/* fuzz_dataset.c: libFuzzer target for the dataset reader. The input is a
 * whole dataset file; whatever the reader accepts is then walked the way a
 * trainer would (every row unpacked, every label and name looked at), so a
 * check the reader forgot shows up as an out-of-bounds read here. Each input
 * is tried as given and with its checksum made right. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/dataset.h"
#include "netsynth/fileio.h"

static void walk(const uint8_t *data, size_t size, int fix_crc)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return;
    memcpy(buf, data, size);
    if (fix_crc && size >= 20) {   /* the CRC at offset 16, computed with itself zero */
        memset(buf + 16, 0, 4);
        uint32_t crc = ns_crc32(0, buf, size);
        for (int i = 0; i < 4; i++) buf[16 + i] = (uint8_t)(crc >> 8 * i);
    }
    ns_dataset ds;
    if (ns_dataset_parse(&ds, buf, size, "fuzz") != 0) return;
    int8_t *m = malloc((size_t)ds.max_packets * ds.width);
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < ds.n_flows && m; i++) {
        const ns_ds_flow *f = &ds.flows[i];
        ns_dataset_flow_matrix(&ds, i, m);
        for (uint32_t k = 0; k < f->n_packets; k++)
            sink += (uint64_t)ds.iat_ns[f->first + k] + ds.dir[f->first + k] + (uint8_t)m[k * ds.width];
        sink += strlen(ds.files[f->file]);
        for (uint32_t a = 0; a < ds.n_attrs; a++) {
            int32_t t = ds.labels[i * ds.n_attrs + a];
            if (t >= 0) sink += strlen(ds.tokens[t]) + (ns_dataset_token(&ds, ds.tokens[t]) == t);
        }
    }
    for (uint32_t a = 0; a < ds.n_attrs; a++) sink += strlen(ds.attr_names[a]) + ds.attr_first[a + 1];
    free(m);
    ns_dataset_free(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(data, size, 0);
    walk(data, size, 1);
    return 0;
}
