/* fuzz_png.c: libFuzzer target for the PNG reader. The input is a whole PNG
 * file, read at the scale it records and at a forced scale of 2; whatever
 * is read must be a ternary matrix within the limits. */
#include <stdint.h>
#include <stdlib.h>

#include "netsynth/error.h"
#include "netsynth/image.h"

static void check(const int8_t *m, int rows, int cols)
{
    if (rows < 1 || rows > NS_IMAGE_MAX_ROWS || cols < 1 || cols > NS_IMAGE_MAX_COLS) abort();
    for (size_t k = 0; k < (size_t)rows * cols; k++)
        if (m[k] < -1 || m[k] > 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int scales[] = {0, 2};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        int8_t *m;
        int rows, cols;
        if (ns_image_read_mem("fuzz.png", data, size, scales[i], &m, &rows, &cols) == NS_OK) {
            check(m, rows, cols);
            free(m);
        } else if (m) {
            abort();
        }
    }
    return 0;
}
