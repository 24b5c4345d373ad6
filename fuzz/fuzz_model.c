/* fuzz_model.c: libFuzzer target for the model file reader. The header's
 * CRC stops most mutations early, so each input is also tried with its CRC
 * recomputed: that is what reaches the section and content checks; and
 * where the header points at a provenance section (bytes 184..199), once
 * more with that section's own CRC recomputed, so that mutations of its
 * text reach the text checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/fileio.h"
#include "netsynth/modelfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_modelfile m;
    if (ns_modelfile_parse(&m, data, size, "fuzz") == 0) ns_modelfile_free(&m);
    if (size < 256) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    memset(copy + 144, 0, 4);
    uint32_t crc = ns_crc32(0, copy, size);
    memcpy(copy + 144, &crc, 4);
    if (ns_modelfile_parse(&m, copy, size, "fuzz") == 0) ns_modelfile_free(&m);
    uint64_t off = ns_load_le64(copy + 184), len = ns_load_le64(copy + 192);
    if (len >= 16 && off <= size && len <= size - off) {
        crc = ns_crc32(0, copy + off + 16, (size_t)len - 16);
        memcpy(copy + off + 12, &crc, 4);
        memset(copy + 144, 0, 4);
        crc = ns_crc32(0, copy, size);
        memcpy(copy + 144, &crc, 4);
        if (ns_modelfile_parse(&m, copy, size, "fuzz") == 0) ns_modelfile_free(&m);
    }
    free(copy);
    return 0;
}
