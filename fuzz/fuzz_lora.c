/* fuzz_lora.c: libFuzzer target for the adapter file reader. The header's
 * CRC stops most mutations early, so each input is also tried with its CRC
 * recomputed: that is what reaches the section and content checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/fileio.h"
#include "netsynth/lora.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_lora m;
    if (ns_lora_parse(&m, data, size, "fuzz") == 0) ns_lora_free(&m);
    if (size < 128) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    memset(copy + 112, 0, 4);
    uint32_t crc = ns_crc32(0, copy, size);
    memcpy(copy + 112, &crc, 4);
    if (ns_lora_parse(&m, copy, size, "fuzz") == 0) ns_lora_free(&m);
    free(copy);
    return 0;
}
