/* image.h: ternary matrices <-> PNG images, the paper's picture of a flow.
 *
 * A matrix is rows x cols int8 values, row-major, each 1, 0 or -1 (nPrint
 * bits: one row per packet, one column per header bit). Its image has a
 * pixel per bit, optionally drawn as a scale x scale block for viewing:
 *     1 red (255,0,0)   0 green (0,255,0)   -1 grey (128,128,128)
 * Images are written as 2-bit palette PNGs (exact colours, small files) with
 * the scale in a "netsynth scale" tEXt chunk before the image data.
 *
 * Reading accepts any PNG libpng decodes: palette, grey, grey+alpha, RGB,
 * RGBA, 1 to 16 bits, interlaced or not. Alpha, gamma, colour profiles and
 * every other ancillary chunk but tEXt are ignored; each pixel (each
 * block's mean colour when scaled) snaps to the nearest of the three colours
 * (Euclidean distance in RGB; ties go to 1, then 0), so a blurred or
 * re-encoded image still reads back.
 *
 * PNGs are hostile input: sizes are checked from the header before libpng
 * allocates anything, so a 100-byte file claiming 2^31 x 2^31 pixels costs
 * nothing. The limits:
 *   - at most 1024 rows: the paper's flow images hold up to 1024 packets;
 *   - at most 4096 columns: the widest nPrint row (all six layers) is 1520
 *     bits; 4096 leaves room for other bit layouts;
 *   - scale at most 8, and at most 16 Mi pixels per image (48 MiB decoded as
 *     RGB), which bounds the memory of any one read.
 * Errors name the file: NS_EFORMAT (not a PNG, or libpng refused it, with its
 * reason), NS_ETRUNC (the file ends early, IEND included), NS_ERANGE (over a
 * limit, or not a whole number of scale blocks), NS_EIO, NS_ENOMEM, NS_EARG. */
#ifndef NETSYNTH_IMAGE_H
#define NETSYNTH_IMAGE_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#define NS_IMAGE_MAX_ROWS 1024
#define NS_IMAGE_MAX_COLS 4096
#define NS_IMAGE_MAX_SCALE 8
#define NS_IMAGE_MAX_PIXELS (1L << 24)

/* Write m[rows * cols] to path ("-" is stdout) through ns_outfile (temp +
 * rename), each value as a scale x scale block (scale 1..NS_IMAGE_MAX_SCALE).
 * NS_EARG for a value other than 1, 0, -1, naming its row and column. */
int ns_image_write(const char *path, const int8_t *m, int rows, int cols, int scale);

/* Read a PNG into a malloc'd matrix *m (*rows x *cols; free() it). scale 0
 * takes the image's "netsynth scale" chunk, or 1 without one; 1..8 forces it.
 * On error *m is NULL. */
int ns_image_read(const char *path, int scale, int8_t **m, int *rows, int *cols);

/* The same from memory; name is used in messages. */
int ns_image_read_mem(const char *name, const uint8_t *data, size_t len, int scale, int8_t **m,
                      int *rows, int *cols);

/* The value whose colour is nearest to (r, g, b). */
int8_t ns_image_snap(uint8_t r, uint8_t g, uint8_t b);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
