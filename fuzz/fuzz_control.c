/* fuzz_control.c: libFuzzer target for the two control inputs a user hands
 * to generate: the control branch file and the CSV template. Every input is
 * tried as both. The file's CRC stops most mutations early, so it is also
 * tried with its CRC recomputed, which reaches the header and count checks,
 * and where the header points at a provenance section (bytes 96..111) once
 * more with that section's own CRC recomputed, to reach its text checks.
 * A template that parses must give maps within the length asked for, and
 * every template error must name the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/control.h"
#include "netsynth/controlnet.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_control_maps m = {0};
    int rc = ns_control_maps_parse_csv(&m, (const char *)data, size, "fuzz.csv", 16);
    if (rc == NS_OK) {
        for (size_t i = 0; i < m.n_maps; i++)
            if (m.len[i] < 1 || m.len[i] > 16 || m.first[i] + m.len[i] > m.n_rows) abort();
        for (size_t k = 0; k < m.n_rows; k++)
            if (m.rows[k].size >= NS_CONTROL_SIZE_BUCKETS || m.rows[k].dir > 1) abort();
    } else if (rc != NS_ENOMEM && strncmp(ns_errmsg(), "fuzz.csv", 8)) {
        abort();
    }
    ns_control_maps_free(&m);

    ns_controlnet c;
    if (ns_controlnet_parse(&c, data, size, "fuzz") == 0) ns_controlnet_free(&c);
    if (size < 128) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    memset(copy + 88, 0, 4);
    uint32_t crc = ns_crc32(0, copy, size);
    memcpy(copy + 88, &crc, 4);
    if (ns_controlnet_parse(&c, copy, size, "fuzz") == 0) ns_controlnet_free(&c);
    uint64_t off = ns_load_le64(copy + 96), len = ns_load_le64(copy + 104);
    if (len >= 16 && off <= size && len <= size - off) {
        crc = ns_crc32(0, copy + off + 16, (size_t)len - 16);
        memcpy(copy + off + 12, &crc, 4);
        memset(copy + 88, 0, 4);
        crc = ns_crc32(0, copy, size);
        memcpy(copy + 88, &crc, 4);
        if (ns_controlnet_parse(&c, copy, size, "fuzz") == 0) ns_controlnet_free(&c);
    }
    free(copy);
    return 0;
}
