/* image.c: ternary matrices <-> PNG through libpng (see image.h).
 *
 * libpng reports errors by longjmp. Each function that calls setjmp() keeps
 * everything it allocates in a struct owned by its caller, so nothing it
 * needs after the jump lives in a local variable that the jump may clobber. */
#include "netsynth/image.h"

#include <errno.h>
#include <inttypes.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/bytes.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"

/* Palette index = value + 1. */
static const png_color colours[3] = {{128, 128, 128}, {0, 255, 0}, {255, 0, 0}};
#define SCALE_KEY "netsynth scale"

/* The value nearest to the mean colour (r, g, b) / n, compared exactly as
 * squared distances between the sums and n times each colour. */
static int8_t snap_sum(int64_t r, int64_t g, int64_t b, int64_t n)
{
    int8_t best = 1;
    int64_t best_d = INT64_MAX;
    for (int v = 1; v >= -1; v--) {  /* ties: 1, then 0 */
        const png_color *c = &colours[v + 1];
        int64_t dr = r - n * c->red, dg = g - n * c->green, db = b - n * c->blue;
        int64_t d = dr * dr + dg * dg + db * db;
        if (d < best_d) {
            best_d = d;
            best = (int8_t)v;
        }
    }
    return best;
}

int8_t ns_image_snap(uint8_t r, uint8_t g, uint8_t b) { return snap_sum(r, g, b, 1); }

/* What libpng's callbacks share with us: the source bytes and what went wrong. */
struct io {
    const char *name;
    const uint8_t *mem;    /* bytes served first: all of a memory input, */
    size_t len, pos;
    FILE *fp;              /* then the rest of a file */
    int eof, err;          /* the input ended early / errno of a failed read */
    char msg[200];         /* libpng's error message */
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct io *io = png_get_error_ptr(png);
    snprintf(io->msg, sizeof io->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep out, size_t n)
{
    struct io *io = png_get_io_ptr(png);
    size_t got = 0;
    if (io->pos < io->len) {
        got = io->len - io->pos < n ? io->len - io->pos : n;
        memcpy(out, io->mem + io->pos, got);
        io->pos += got;
    }
    if (got < n && io->fp) {
        errno = 0;
        got += fread(out + got, 1, n - got, io->fp);
        if (ferror(io->fp)) {
            io->err = errno ? errno : EIO;
            png_error(png, "read failed");
        }
    }
    if (got < n) {
        io->eof = 1;
        png_error(png, "unexpected end of file");
    }
}

/* The code and message for a libpng error that jumped back to us. */
static int io_error(const struct io *io, const char *doing)
{
    if (io->err) return ns_error(NS_EIO, "%s: %s: %s", io->name, doing, strerror(io->err));
    if (io->eof) return ns_error(NS_ETRUNC, "%s: truncated PNG: the file ends early", io->name);
    return ns_error(NS_EFORMAT, "%s: bad PNG: %s", io->name, io->msg);
}

/* ---- reading ---- */

struct reader {
    png_structp png;
    png_infop info;
    uint8_t *pixels;       /* RGB8, h rows of 3 * w bytes */
    png_bytep *rowp;
    uint32_t w, h;
    int scale;
};

/* The size in the IHDR, checked before libpng allocates anything. */
static int check_header(const struct io *io)
{
    ns_bytes b = ns_bytes_make(io->mem, io->len);
    if (io->len > 0 && io->len < 8 && !png_sig_cmp(io->mem, 0, io->len))
        return ns_error(NS_ETRUNC, "%s: truncated PNG: the file ends inside its signature", io->name);
    if (io->len < 8 || png_sig_cmp(io->mem, 0, 8)) return ns_error(NS_EFORMAT, "%s: not a PNG file", io->name);
    uint32_t w, h;
    if (!ns_get_be32(b, 16, &w) || !ns_get_be32(b, 20, &h))
        return ns_error(NS_ETRUNC, "%s: truncated PNG: the file ends inside its header", io->name);
    if (memcmp(io->mem + 12, "IHDR", 4)) return NS_OK;  /* libpng says what is wrong */
    if (w > NS_IMAGE_MAX_COLS * NS_IMAGE_MAX_SCALE || h > NS_IMAGE_MAX_ROWS * NS_IMAGE_MAX_SCALE ||
        (uint64_t)w * h > NS_IMAGE_MAX_PIXELS)
        return ns_error(NS_ERANGE, "%s: a %" PRIu32 "x%" PRIu32 " pixel image is over the limit "
                        "(%d x %d bits at scale up to %d, %ld pixels in all)", io->name, w, h,
                        NS_IMAGE_MAX_COLS, NS_IMAGE_MAX_ROWS, NS_IMAGE_MAX_SCALE, NS_IMAGE_MAX_PIXELS);
    return NS_OK;
}

/* The value of the tEXt chunk `key`, as (bytes, length), or NULL. libpng
 * hands tEXt over as a raw chunk (see decode()): "key\0value". */
static const char *text_value(const png_unknown_chunk *ch, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    if (memcmp(ch->name, "tEXt", 4) || ch->size <= klen || memcmp(ch->data, key, klen) || ch->data[klen])
        return NULL;
    *len = ch->size - klen - 1;
    return (const char *)ch->data + klen + 1;
}

/* The scale recorded by ns_image_write(), 1 when there is none. */
static int scale_from_text(const struct io *io, struct reader *r)
{
    png_unknown_chunkp chunks;
    int n = png_get_unknown_chunks(r->png, r->info, &chunks);
    r->scale = 1;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *t = text_value(&chunks[i], SCALE_KEY, &len);
        if (!t) continue;
        if (len != 1 || t[0] < '1' || t[0] > '0' + NS_IMAGE_MAX_SCALE)
            return ns_error(NS_EFORMAT, "%s: bad '" SCALE_KEY "' text '%.*s' (expected 1 to %d)", io->name,
                            (int)(len < 20 ? len : 20), t, NS_IMAGE_MAX_SCALE);
        r->scale = t[0] - '0';
    }
    return NS_OK;
}

/* Ask libpng for 8-bit RGB whatever the file holds. */
static void want_rgb8(png_structp png, png_infop info)
{
    int ctype = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (!(ctype & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
    if (depth == 16) png_set_scale_16(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

static int decode(struct io *io, struct reader *r, int scale)
{
    if (!(r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, io, on_error, on_warning)) ||
        !(r->info = png_create_info_struct(r->png)))
        return ns_error(NS_ENOMEM, "%s: out of memory", io->name);
    if (setjmp(png_jmpbuf(r->png))) return io_error(io, "read failed");
    png_set_user_limits(r->png, NS_IMAGE_MAX_COLS * NS_IMAGE_MAX_SCALE, NS_IMAGE_MAX_ROWS * NS_IMAGE_MAX_SCALE);
    /* libpng allocates a known ancillary chunk's claimed length (up to 2 GiB)
     * before reading it, and only warns that it is over the limit. So every
     * ancillary chunk is skipped unread (colour management, zTXt, ...: none
     * changes what a pixel means here) except tEXt, taken as a raw chunk,
     * which libpng does cap at chunk_malloc_max. */
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_ALWAYS, (png_const_bytep) "tEXt", 1);
    png_set_chunk_cache_max(r->png, 32);          /* tEXt chunks kept */
    png_set_chunk_malloc_max(r->png, 1 << 16);    /* bytes per kept chunk */
    png_set_read_fn(r->png, io, on_read);
    png_read_info(r->png, r->info);

    r->w = png_get_image_width(r->png, r->info);
    r->h = png_get_image_height(r->png, r->info);
    if ((uint64_t)r->w * r->h > NS_IMAGE_MAX_PIXELS)
        return ns_error(NS_ERANGE, "%s: %" PRIu32 "x%" PRIu32 " pixels is over the limit of %ld",
                        io->name, r->w, r->h, NS_IMAGE_MAX_PIXELS);
    int rc = scale ? NS_OK : scale_from_text(io, r);
    if (rc) return rc;
    if (scale) r->scale = scale;
    if (r->w % r->scale || r->h % r->scale)
        return ns_error(NS_ERANGE, "%s: %" PRIu32 "x%" PRIu32 " pixels is not a whole number of %dx%d blocks",
                        io->name, r->w, r->h, r->scale, r->scale);
    if (r->h / r->scale > NS_IMAGE_MAX_ROWS || r->w / r->scale > NS_IMAGE_MAX_COLS)
        return ns_error(NS_ERANGE, "%s: %" PRIu32 " rows x %" PRIu32 " columns (scale %d) is over the limit "
                        "of %d x %d", io->name, r->h / r->scale, r->w / r->scale, r->scale,
                        NS_IMAGE_MAX_ROWS, NS_IMAGE_MAX_COLS);

    want_rgb8(r->png, r->info);
    if (png_get_color_type(r->png, r->info) != PNG_COLOR_TYPE_RGB || png_get_bit_depth(r->png, r->info) != 8 ||
        png_get_rowbytes(r->png, r->info) != (size_t)r->w * 3)
        return ns_error(NS_EFORMAT, "%s: libpng could not convert the image to 8-bit RGB", io->name);
    r->pixels = malloc((size_t)r->w * r->h * 3);
    r->rowp = malloc(r->h * sizeof *r->rowp);
    if (!r->pixels || !r->rowp) return ns_error(NS_ENOMEM, "%s: out of memory for the image", io->name);
    for (uint32_t y = 0; y < r->h; y++) r->rowp[y] = r->pixels + (size_t)y * r->w * 3;
    png_read_image(r->png, r->rowp);
    png_read_end(r->png, NULL);
    return NS_OK;
}

/* Each scale x scale block of pixels becomes the value nearest its mean colour. */
static void snap_blocks(const struct reader *r, int8_t *m, int rows, int cols)
{
    int s = r->scale;
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
            int64_t sum[3] = {0, 0, 0};
            for (int y = i * s; y < (i + 1) * s; y++) {
                const uint8_t *p = r->rowp[y] + (size_t)j * s * 3;
                for (int x = 0; x < s; x++, p += 3) {
                    sum[0] += p[0];
                    sum[1] += p[1];
                    sum[2] += p[2];
                }
            }
            m[(size_t)i * cols + j] = snap_sum(sum[0], sum[1], sum[2], (int64_t)s * s);
        }
    }
}

static int read_png(struct io *io, int scale, int8_t **m, int *rows, int *cols)
{
    *m = NULL;
    if (scale < 0 || scale > NS_IMAGE_MAX_SCALE)
        return ns_error(NS_EARG, "%s: scale %d is not in [0, %d]", io->name, scale, NS_IMAGE_MAX_SCALE);
    int rc = check_header(io);
    if (rc) return rc;
    struct reader r = {0};
    rc = decode(io, &r, scale);
    if (rc == NS_OK) {
        int nr = (int)(r.h / r.scale), nc = (int)(r.w / r.scale);
        if (!(*m = malloc((size_t)nr * nc))) {
            rc = ns_error(NS_ENOMEM, "%s: out of memory", io->name);
        } else {
            snap_blocks(&r, *m, nr, nc);
            *rows = nr;
            *cols = nc;
        }
    }
    png_destroy_read_struct(&r.png, &r.info, NULL);
    free(r.pixels);
    free(r.rowp);
    return rc;
}

int ns_image_read_mem(const char *name, const uint8_t *data, size_t len, int scale, int8_t **m, int *rows,
                      int *cols)
{
    struct io io = {.name = name, .mem = data, .len = len};
    return read_png(&io, scale, m, rows, cols);
}

int ns_image_read(const char *path, int scale, int8_t **m, int *rows, int *cols)
{
    *m = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[24];      /* signature and the start of IHDR, for check_header() */
    size_t n = fread(head, 1, sizeof head, fp);
    int rc;
    if (ferror(fp)) {
        rc = ns_error(NS_EIO, "%s: read failed: %s", path, strerror(errno));
    } else {
        struct io io = {.name = path, .mem = head, .len = n, .fp = fp};
        rc = read_png(&io, scale, m, rows, cols);
    }
    fclose(fp);
    return rc;
}

/* ---- writing ---- */

struct writer {
    png_structp png;
    png_infop info;
    uint8_t *row;          /* one packed row of 2-bit palette indices */
};

static int encode(struct io *io, struct writer *w, FILE *fp, const int8_t *m, int rows, int cols, int scale)
{
    if (!(w->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, io, on_error, on_warning)) ||
        !(w->info = png_create_info_struct(w->png)))
        return ns_error(NS_ENOMEM, "%s: out of memory", io->name);
    if (setjmp(png_jmpbuf(w->png))) return ns_error(NS_EIO, "%s: cannot write PNG: %s", io->name, io->msg);
    png_init_io(w->png, fp);
    png_set_IHDR(w->png, w->info, (png_uint_32)(cols * scale), (png_uint_32)(rows * scale), 2,
                 PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_PLTE(w->png, w->info, colours, 3);
    char scale_text[2] = {(char)('0' + scale), 0};
    png_text text[2] = {
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Software", .text = "netsynth"},
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = SCALE_KEY, .text = scale_text},
    };
    png_set_text(w->png, w->info, text, 2);
    png_write_info(w->png, w->info);
    size_t row_bytes = ((size_t)cols * scale + 3) / 4;
    for (int i = 0; i < rows; i++) {
        memset(w->row, 0, row_bytes);
        for (int j = 0; j < cols * scale; j++) {
            unsigned idx = (unsigned)(m[(size_t)i * cols + j / scale] + 1);
            w->row[j / 4] |= (uint8_t)(idx << (6 - 2 * (j % 4)));
        }
        for (int k = 0; k < scale; k++) png_write_row(w->png, w->row);
    }
    png_write_end(w->png, NULL);
    return NS_OK;
}

int ns_image_write(const char *path, const int8_t *m, int rows, int cols, int scale)
{
    if (rows < 1 || rows > NS_IMAGE_MAX_ROWS || cols < 1 || cols > NS_IMAGE_MAX_COLS)
        return ns_error(NS_ERANGE, "%s: cannot draw %d rows x %d columns (1 to %d x %d)", path, rows, cols,
                        NS_IMAGE_MAX_ROWS, NS_IMAGE_MAX_COLS);
    if (scale < 1 || scale > NS_IMAGE_MAX_SCALE || (long)rows * cols * scale * scale > NS_IMAGE_MAX_PIXELS)
        return ns_error(NS_ERANGE, "%s: scale %d is not in [1, %d] or makes the image over %ld pixels", path,
                        scale, NS_IMAGE_MAX_SCALE, NS_IMAGE_MAX_PIXELS);
    for (size_t k = 0; k < (size_t)rows * cols; k++)
        if (m[k] < -1 || m[k] > 1)
            return ns_error(NS_EARG, "%s: value %d at row %zu, column %zu is not 1, 0 or -1", path, m[k],
                            k / (size_t)cols, k % (size_t)cols);

    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    struct io io = {.name = path};
    struct writer w = {0};
    if (!(w.row = malloc(((size_t)cols * scale + 3) / 4)))
        rc = ns_error(NS_ENOMEM, "%s: out of memory", path);
    else
        rc = encode(&io, &w, o.fp, m, rows, cols, scale);
    png_destroy_write_struct(&w.png, &w.info);
    free(w.row);
    if (rc) {
        ns_outfile_abort(&o);
        return rc;
    }
    return ns_outfile_commit(&o);
}
