/* fuzz_labels.c: libFuzzer target for the tab-separated table parser (label
 * and flow tables). Every cell of an accepted table is read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    ns_labels t;
    if (ns_labels_parse(&t, text, size, "fuzz") != 0) return 0;
    volatile size_t sink = 0;
    for (size_t c = 0; c < t.n_cols; c++) sink += strlen(t.cols[c]) + (size_t)ns_labels_column(&t, t.cols[c]);
    for (size_t r = 0; r < t.n_rows; r++) {
        sink += t.lines[r];
        for (size_t c = 0; c < t.n_cols; c++) sink += strlen(ns_labels_cell(&t, r, (int)c));
    }
    ns_labels_free(&t);
    return 0;
}
