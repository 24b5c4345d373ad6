/* test_image.c: ternary matrices <-> PNG, snapping, foreign PNG flavours, hostile files. */
#include "testutil.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/image.h"
#include "netsynth/nprint.h"

/* A small deterministic generator (xorshift32). */
static uint32_t rng = 2463534242u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int8_t *random_matrix(int rows, int cols)
{
    int8_t *m = malloc((size_t)rows * cols);
    assert_non_null(m);
    for (size_t k = 0; k < (size_t)rows * cols; k++) m[k] = (int8_t)((int)(next_rand() % 3) - 1);
    return m;
}

/* A PNG of any kind, written with libpng directly: rows[y] hold packed
 * samples as the PNG stores them (16-bit samples big-endian). */
struct raw_png {
    int w, h, ctype, depth, interlace;
    const png_color *palette;
    int npalette;
    const png_byte *trns;
    int ntrns;
};

static void write_raw_png(const char *path, const struct raw_png *p, png_bytep *rows)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng could not write the test image %s", path);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)p->w, (png_uint_32)p->h, p->depth, p->ctype, p->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (p->palette) png_set_PLTE(png, info, p->palette, p->npalette);
    if (p->trns) png_set_tRNS(png, info, p->trns, p->ntrns, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    assert_int_equal(fclose(fp), 0);
}

static void read_ok(const char *path, int scale, int8_t **m, int *rows, int *cols)
{
    int rc = ns_image_read(path, scale, m, rows, cols);
    if (rc != NS_OK) fail_msg("%s", ns_errmsg());
}

/* Reading fails with code, and the message names the file and contains what. */
static void read_fails(const char *path, int code, const char *what)
{
    int8_t *m = (int8_t *)1;
    int rows, cols;
    int rc = ns_image_read(path, 0, &m, &rows, &cols);
    if (rc != code) fail_msg("%s: expected %d, got %d (%s)", path, code, rc, ns_errmsg());
    assert_null(m);
    assert_non_null(strstr(ns_errmsg(), path));
    if (!strstr(ns_errmsg(), what)) fail_msg("message '%s' lacks '%s'", ns_errmsg(), what);
}

static void test_round_trip_is_exact(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const int sizes[][3] = {{1, 1, 1}, {1, 1088, 1}, {37, 1088, 1}, {5, 3, 1}, {7, 13, 2},
                            {16, 1520, 3}, {1024, 1088, 1}, {3, 4096, 1}, {2, 5, 8}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int rows = sizes[t][0], cols = sizes[t][1], scale = sizes[t][2];
        int8_t *m = random_matrix(rows, cols);
        const char *path = tu_path(dir, "rt.png");
        assert_int_equal(ns_image_write(path, m, rows, cols, scale), NS_OK);
        int8_t *back;
        int r, c;
        read_ok(path, 0, &back, &r, &c);   /* the scale comes from the file */
        assert_int_equal(r, rows);
        assert_int_equal(c, cols);
        assert_memory_equal(back, m, (size_t)rows * cols);
        free(back);
        if (scale > 1 && cols * scale > NS_IMAGE_MAX_COLS) {
            assert_int_equal(ns_image_read(path, 1, &back, &r, &c), NS_ERANGE);
        } else if (scale > 1) {            /* forced scale 1: one value per pixel */
            read_ok(path, 1, &back, &r, &c);
            assert_int_equal(r, rows * scale);
            assert_int_equal(c, cols * scale);
            assert_int_equal(back[(size_t)(scale * rows - 1) * c + scale * cols - 1], m[(size_t)rows * cols - 1]);
            free(back);
        }
        /* The same bytes read from memory. */
        uint8_t *data;
        size_t len;
        assert_int_equal(ns_read_file(path, &data, &len), NS_OK);
        assert_int_equal(ns_image_read_mem("mem", data, len, 0, &back, &r, &c), NS_OK);
        assert_memory_equal(back, m, (size_t)rows * cols);
        free(back);
        free(data);
        free(m);
    }
}

static void test_paper_colours(void **state)
{
    (void)state;
    /* The writer's pixels, as any reader sees them: read at the PNG level. */
    const char *path = tu_path(tu_tmpdir(), "c.png");
    const int8_t m[3] = {1, 0, -1};
    assert_int_equal(ns_image_write(path, m, 1, 3, 1), NS_OK);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    img.format = PNG_FORMAT_RGB;
    uint8_t px[9];
    assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
    const uint8_t want[9] = {255, 0, 0, 0, 255, 0, 128, 128, 128};
    assert_memory_equal(px, want, 9);
}

static void test_snap_to_nearest(void **state)
{
    (void)state;
    assert_int_equal(ns_image_snap(255, 0, 0), 1);
    assert_int_equal(ns_image_snap(0, 255, 0), 0);
    assert_int_equal(ns_image_snap(128, 128, 128), -1);
    assert_int_equal(ns_image_snap(200, 30, 20), 1);
    assert_int_equal(ns_image_snap(40, 180, 60), 0);
    assert_int_equal(ns_image_snap(100, 120, 110), -1);
    assert_int_equal(ns_image_snap(0, 0, 0), -1);
    assert_int_equal(ns_image_snap(255, 255, 255), -1);
    /* Yellow is as far from red as from green, and nearer to grey. */
    assert_int_equal(ns_image_snap(255, 255, 0), -1);
}

static void test_off_colours_in_rgb_file(void **state)
{
    (void)state;
    const char *path = tu_path(tu_tmpdir(), "off.png");
    uint8_t row[12] = {200, 30, 20, 10, 230, 40, 140, 120, 130, 250, 5, 5};
    png_bytep rows[1] = {row};
    struct raw_png p = {.w = 4, .h = 1, .ctype = PNG_COLOR_TYPE_RGB, .depth = 8};
    write_raw_png(path, &p, rows);
    int8_t *m;
    int r, c;
    read_ok(path, 0, &m, &r, &c);
    assert_int_equal(r, 1);
    assert_int_equal(c, 4);
    const int8_t want[4] = {1, 0, -1, 1};
    assert_memory_equal(m, want, 4);
    free(m);
}

static void test_blurred_blocks_snap_by_mean(void **state)
{
    (void)state;
    /* Two 4x4 blocks: 10 red pixels with 6 grey ones, 11 grey with 5 green. */
    const char *path = tu_path(tu_tmpdir(), "blur.png");
    uint8_t px[4][8 * 3];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 8; x++) {
            uint8_t *p = &px[y][x * 3];
            int odd = (x + y) % 3 == 0;
            if (x < 4) { p[0] = odd ? 128 : 240; p[1] = odd ? 128 : 10; p[2] = odd ? 128 : 10; }
            else { p[0] = odd ? 0 : 128; p[1] = odd ? 255 : 128; p[2] = odd ? 0 : 128; }
        }
    png_bytep rows[4] = {px[0], px[1], px[2], px[3]};
    struct raw_png p = {.w = 8, .h = 4, .ctype = PNG_COLOR_TYPE_RGB, .depth = 8};
    write_raw_png(path, &p, rows);
    int8_t *m;
    int r, c;
    read_ok(path, 4, &m, &r, &c);
    assert_int_equal(r, 1);
    assert_int_equal(c, 2);
    assert_int_equal(m[0], 1);
    assert_int_equal(m[1], -1);
    free(m);
    /* Forcing a scale that does not divide the image is an error. */
    int8_t *none;
    assert_int_equal(ns_image_read(path, 3, &none, &r, &c), NS_ERANGE);
    assert_null(none);
    assert_non_null(strstr(ns_errmsg(), "3x3 blocks"));
}

static void test_palette_file(void **state)
{
    (void)state;
    /* 8-bit palette in another order, with unused entries and transparency. */
    const char *path = tu_path(tu_tmpdir(), "pal.png");
    const png_color pal[5] = {{0, 0, 0}, {130, 125, 128}, {250, 10, 0}, {0, 250, 10}, {255, 255, 255}};
    const png_byte trns[3] = {0, 128, 255};
    uint8_t row0[6] = {2, 3, 1, 2, 2, 3}, row1[6] = {1, 1, 3, 3, 2, 1};
    png_bytep rows[2] = {row0, row1};
    struct raw_png p = {.w = 6, .h = 2, .ctype = PNG_COLOR_TYPE_PALETTE, .depth = 8,
                        .palette = pal, .npalette = 5, .trns = trns, .ntrns = 3};
    write_raw_png(path, &p, rows);
    int8_t *m;
    int r, c;
    read_ok(path, 0, &m, &r, &c);
    assert_int_equal(r, 2);
    assert_int_equal(c, 6);
    const int8_t want[12] = {1, 0, -1, 1, 1, 0, -1, -1, 0, 0, 1, -1};
    assert_memory_equal(m, want, 12);
    free(m);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void test_16_bit_rgba_interlaced_file(void **state)
{
    (void)state;
    const char *path = tu_path(tu_tmpdir(), "deep.png");
    enum { W = 9, H = 5 };
    uint8_t px[H][W * 8];
    int8_t want[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int v = (x * 7 + y * 3) % 3 - 1;
            want[y * W + x] = (int8_t)v;
            unsigned r = v == 1 ? 0xF000 : v == 0 ? 0x0800 : 0x8080;
            unsigned g = v == 1 ? 0x1000 : v == 0 ? 0xFF00 : 0x7F00;
            unsigned b = v == 1 ? 0x0000 : v == 0 ? 0x0100 : 0x8000;
            uint8_t *p = &px[y][x * 8];
            put16(p, r);
            put16(p + 2, g);
            put16(p + 4, b);
            put16(p + 6, (unsigned)(x * 7000));   /* alpha is ignored */
        }
    png_bytep rows[H];
    for (int y = 0; y < H; y++) rows[y] = px[y];
    struct raw_png p = {.w = W, .h = H, .ctype = PNG_COLOR_TYPE_RGB_ALPHA, .depth = 16,
                        .interlace = PNG_INTERLACE_ADAM7};
    write_raw_png(path, &p, rows);
    int8_t *m;
    int r, c;
    read_ok(path, 0, &m, &r, &c);
    assert_int_equal(r, H);
    assert_int_equal(c, W);
    assert_memory_equal(m, want, sizeof want);
    free(m);
}

static void test_grey_files(void **state)
{
    (void)state;
    /* Grey has no red or green: every pixel is nearest to grey, at any depth. */
    const char *dir = tu_tmpdir();
    const int depths[] = {1, 2, 4, 8, 16};
    for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
        const char *path = tu_path(dir, "grey.png");
        uint8_t row[16] = {0xA5, 0x5A, 0xFF, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0};
        png_bytep rows[2] = {row, row};
        struct raw_png p = {.w = 4, .h = 2, .ctype = PNG_COLOR_TYPE_GRAY, .depth = depths[d]};
        write_raw_png(path, &p, rows);
        int8_t *m;
        int r, c;
        read_ok(path, 0, &m, &r, &c);
        assert_int_equal(r * c, 8);
        for (int k = 0; k < 8; k++) assert_int_equal(m[k], -1);
        free(m);
        p.ctype = PNG_COLOR_TYPE_GRAY_ALPHA;
        if (depths[d] < 8) continue;
        write_raw_png(path, &p, rows);
        read_ok(path, 0, &m, &r, &c);
        assert_int_equal(r * c, 8);
        free(m);
    }
}

static void test_truncated_files(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *path = tu_path(dir, "whole.png");
    int8_t *m = random_matrix(20, 64);
    assert_int_equal(ns_image_write(path, m, 20, 64, 1), NS_OK);
    free(m);
    uint8_t *data;
    size_t len;
    assert_int_equal(ns_read_file(path, &data, &len), NS_OK);
    /* Every cut, IEND included, is "truncated", from memory and from a file. */
    for (size_t n = 1; n < len; n++) {
        int8_t *back = (int8_t *)1;
        int r, c;
        int rc = ns_image_read_mem("cut.png", data, n, 0, &back, &r, &c);
        if (rc != NS_ETRUNC) fail_msg("cut at %zu of %zu: %d (%s)", n, len, rc, ns_errmsg());
        assert_null(back);
    }
    const char *cut = tu_path(dir, "cut.png");
    assert_int_equal(tu_write_file(cut, data, len / 2), 0);
    read_fails(cut, NS_ETRUNC, "truncated");
    assert_int_equal(tu_write_file(cut, data, 0), 0);
    read_fails(cut, NS_EFORMAT, "not a PNG");
    free(data);
}

static void test_not_png(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *path = tu_path(dir, "flows.csv");
    const char *text = "src_ip,ipv4_ver_0,ipv4_ver_1\n10.0.0.1,0,1\n";
    assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
    read_fails(path, NS_EFORMAT, "not a PNG");
    read_fails(tu_path(dir, "absent.png"), NS_EIO, "cannot open");
}

static void test_corrupt_chunk(void **state)
{
    (void)state;
    const char *path = tu_path(tu_tmpdir(), "crc.png");
    int8_t *m = random_matrix(4, 40);
    assert_int_equal(ns_image_write(path, m, 4, 40, 1), NS_OK);
    free(m);
    uint8_t *data;
    size_t len;
    assert_int_equal(ns_read_file(path, &data, &len), NS_OK);
    data[19] ^= 0x01;      /* the IHDR width, 40 -> 41: its CRC no longer matches */
    assert_int_equal(tu_write_file(path, data, len), 0);
    free(data);
    read_fails(path, NS_EFORMAT, "bad PNG");
}

/* A PNG's signature and IHDR claiming w x h, with a correct CRC. */
static size_t fake_header(uint8_t *out, uint32_t w, uint32_t h)
{
    const uint8_t sig[8] = {137, 'P', 'N', 'G', 13, 10, 26, 10};
    uint8_t ihdr[17] = {'I', 'H', 'D', 'R', (uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8),
                        (uint8_t)w, (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                        8, PNG_COLOR_TYPE_RGB, 0, 0, 0};
    memcpy(out, sig, 8);
    const uint8_t len[4] = {0, 0, 0, 13};
    memcpy(out + 8, len, 4);
    memcpy(out + 12, ihdr, 17);
    uint32_t crc = ns_crc32(0, ihdr, 17);
    const uint8_t c[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    memcpy(out + 29, c, 4);
    return 33;
}

static void test_over_limit(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    /* Claims refused from the header alone, before any allocation. */
    const uint32_t claims[][2] = {{2147483647u, 2147483647u}, {40000, 1}, {1, 9000}, {8000, 8000}};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        uint8_t hdr[33];
        size_t n = fake_header(hdr, claims[i][0], claims[i][1]);
        const char *path = tu_path(dir, "huge.png");
        assert_int_equal(tu_write_file(path, hdr, n), 0);
        read_fails(path, NS_ERANGE, "over the limit");
    }
    /* A real image one row over the limit at scale 1. */
    const char *path = tu_path(dir, "tall.png");
    uint8_t row[3] = {255, 0, 0};
    png_bytep *rows = malloc((NS_IMAGE_MAX_ROWS + 1) * sizeof *rows);
    assert_non_null(rows);
    for (int y = 0; y <= NS_IMAGE_MAX_ROWS; y++) rows[y] = row;
    struct raw_png p = {.w = 1, .h = NS_IMAGE_MAX_ROWS + 1, .ctype = PNG_COLOR_TYPE_RGB, .depth = 8};
    write_raw_png(path, &p, rows);
    free(rows);
    read_fails(path, NS_ERANGE, "1025 rows");
    /* And the writer refuses what the reader would. */
    int8_t *m = calloc((size_t)(NS_IMAGE_MAX_ROWS + 1) * 2, 1);
    assert_non_null(m);
    assert_int_equal(ns_image_write(tu_path(dir, "w.png"), m, NS_IMAGE_MAX_ROWS + 1, 2, 1), NS_ERANGE);
    assert_int_equal(ns_image_write(tu_path(dir, "w.png"), m, 1, 2, NS_IMAGE_MAX_SCALE + 1), NS_ERANGE);
    assert_int_equal(ns_image_write(tu_path(dir, "w.png"), m, 0, 2, 1), NS_ERANGE);
    free(m);
}

static void test_ancillary_chunks(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    /* Chunks that do not change a pixel's meaning are skipped, even compressed text. */
    const char *path = tu_path(dir, "anc.png");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) fail();
    png_init_io(png, fp);
    png_set_IHDR(png, info, 2, 1, 8, PNG_COLOR_TYPE_RGB, 0, 0, 0);
    png_set_gAMA(png, info, 1.0);
    png_set_pHYs(png, info, 2835, 2835, PNG_RESOLUTION_METER);
    png_text t[2] = {{.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Comment", .text = "a flow"},
                     {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "netsynth scale", .text = "2"}};
    png_set_text(png, info, t, 2);
    png_write_info(png, info);
    uint8_t row[6] = {255, 0, 0, 0, 255, 0};
    png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    int8_t *m;
    int r, c;
    assert_int_equal(ns_image_read(path, 0, &m, &r, &c), NS_ERANGE);  /* 2x1 pixels at scale 2 */
    assert_non_null(strstr(ns_errmsg(), "2x2 blocks"));
    read_ok(path, 1, &m, &r, &c);
    assert_int_equal(c, 2);
    assert_int_equal(m[0], 1);
    assert_int_equal(m[1], 0);
    free(m);

    /* A tEXt chunk claiming 2 GiB in a tiny file: libpng would allocate the
     * claim before reading; the reader must not (the fuzzer found this). */
    uint8_t hdr[33 + 12];
    fake_header(hdr, 4, 4);
    const uint8_t text[8] = {0x7f, 0xff, 0xff, 0xf0, 't', 'E', 'X', 't'};
    memcpy(hdr + 33, text, 8);
    memset(hdr + 41, 'x', 4);
    const char *huge = tu_path(dir, "huge-text.png");
    assert_int_equal(tu_write_file(huge, hdr, sizeof hdr), 0);
    read_fails(huge, NS_ETRUNC, "truncated");
}

static void test_write_errors(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *path = tu_path(dir, "bad.png");
    const int8_t bad[4] = {1, 0, 2, -1};
    assert_int_equal(ns_image_write(path, bad, 2, 2, 1), NS_EARG);
    assert_non_null(strstr(ns_errmsg(), "row 1, column 0"));
    assert_int_equal(tu_system("test ! -e '%s'", path), 0);
    const int8_t ok[2] = {1, 0};
    assert_int_equal(ns_image_write("/nonexistent-dir/x.png", ok, 1, 2, 1), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "/nonexistent-dir/x.png"));
    /* Nothing but the destination is left behind. */
    assert_int_equal(ns_image_write(path, ok, 1, 2, 1), NS_OK);
    assert_int_equal(tu_system("test $(ls '%s' | wc -l) -eq 1", dir), 0);
}

static void test_bad_scale_text(void **state)
{
    (void)state;
    /* A "netsynth scale" chunk that is not 1..8 is reported, not trusted. */
    const char *path = tu_path(tu_tmpdir(), "scale.png");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) fail();
    png_init_io(png, fp);
    png_set_IHDR(png, info, 2, 2, 8, PNG_COLOR_TYPE_RGB, 0, 0, 0);
    png_text t = {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "netsynth scale", .text = "99"};
    png_set_text(png, info, &t, 1);
    png_write_info(png, info);
    uint8_t row[6] = {0};
    png_write_row(png, row);
    png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    read_fails(path, NS_EFORMAT, "'99'");
    int8_t *m;
    int r, c;
    read_ok(path, 2, &m, &r, &c);     /* an explicit scale overrides it */
    assert_int_equal(r * c, 1);
    free(m);
}

/* ---- the render and unrender verbs ---- */

/* An nPrint CSV of the model's layers: row i has index keys[i]. */
static void write_csv(const char *path, const int8_t *m, int rows, const char *const *keys)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(ns_nprint_csv_write_header(fp, "flow", 0, NS_NP_MODEL_LAYERS), NS_OK);
    for (int i = 0; i < rows; i++)
        assert_int_equal(ns_nprint_csv_write_row(fp, keys[i], -1, m + (size_t)i * NS_NP_MODEL_WIDTH,
                                                 NS_NP_MODEL_LAYERS), NS_OK);
    assert_int_equal(fclose(fp), 0);
}

static void image_equals(const char *path, const int8_t *want, int rows, int cols)
{
    int8_t *m;
    int r, c;
    read_ok(path, 0, &m, &r, &c);
    assert_int_equal(r, rows);
    assert_int_equal(c, cols);
    assert_memory_equal(m, want, (size_t)rows * cols);
    free(m);
}

static void test_cli_csv_round_trip(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir(), *bin = tu_netsynth_bin();
    enum { ROWS = 5, W = NS_NP_MODEL_WIDTH };
    int8_t *m = random_matrix(ROWS, W);
    const char *keys[ROWS] = {"a", "b/x", "a", "b/x", "a"};
    const char *csv = tu_path(dir, "in.csv");
    write_csv(csv, m, ROWS, keys);

    /* CSV -> PNG -> CSV: the same bits under the same column names. */
    for (int scale = 1; scale <= 3; scale += 2) {
        assert_int_equal(tu_system("%s render -i %s -o %s/all.png --scale %d", bin, csv, dir, scale), 0);
        image_equals(tu_path(dir, "all.png"), m, ROWS, W);
        assert_int_equal(tu_system("%s unrender %s/all.png -o %s/back.csv", bin, dir, dir), 0);
        ns_nprint_csv back;
        assert_int_equal(ns_nprint_csv_read(tu_path(dir, "back.csv"), &back), NS_OK);
        /* The payload layer comes back as -p 64's columns, read apart from the headers. */
        assert_int_equal(back.layers, NS_NP_MODEL_LAYERS & ~NS_NP_PAY);
        assert_int_equal(back.payload_bytes, NS_NP_BITS_PAY / 8);
        assert_int_equal(back.rows, ROWS);
        for (int i = 0; i < ROWS; i++) {
            assert_memory_equal(back.bits + (size_t)i * NS_NP_COL_PAY, m + (size_t)i * W, NS_NP_COL_PAY);
            assert_memory_equal(back.payload + (size_t)i * NS_NP_BITS_PAY, m + (size_t)i * W + NS_NP_COL_PAY,
                                NS_NP_BITS_PAY);
        }
        assert_string_equal(back.index_name, "src_ip");
        ns_nprint_csv_free(&back);
    }
    assert_int_equal(tu_system("head -1 %s/back.csv | grep -q '^src_ip,ipv4_ver_0,ipv4_ver_1,'", dir), 0);

    /* One image per index value, in order of first row, names made safe. */
    assert_int_equal(tu_system("%s render -i %s --per-flow -o %s/flows 2>/dev/null", bin, csv, dir), 0);
    int8_t *a = malloc(3 * W), *b = malloc(2 * W);
    assert_non_null(a);
    assert_non_null(b);
    for (int i = 0; i < 3; i++) memcpy(a + i * W, m + (2 * i) * W, W);
    for (int i = 0; i < 2; i++) memcpy(b + i * W, m + (2 * i + 1) * W, W);
    image_equals(tu_path(dir, "flows/0_a.png"), a, 3, W);
    image_equals(tu_path(dir, "flows/1_b-x.png"), b, 2, W);
    assert_int_equal(tu_system("%s render -i %s --per-flow -n 1 -o %s/one 2>/dev/null && test $(ls %s/one | wc -l) -eq 1",
                               bin, csv, dir, dir), 0);
    free(a);
    free(b);
    free(m);

    /* Other widths get generic names; --layers names them. */
    int8_t narrow[2 * 64];
    for (int k = 0; k < 128; k++) narrow[k] = (int8_t)(k % 3 - 1);
    assert_int_equal(ns_image_write(tu_path(dir, "udp.png"), narrow, 2, 64, 1), NS_OK);
    assert_int_equal(tu_system("%s unrender %s/udp.png | head -1 | grep -q '^src_ip,bit_0,bit_1,'", bin, dir), 0);
    assert_int_equal(tu_system("%s unrender %s/udp.png --layers udp -o %s/udp.csv", bin, dir, dir), 0);
    ns_nprint_csv back;
    assert_int_equal(ns_nprint_csv_read(tu_path(dir, "udp.csv"), &back), NS_OK);
    assert_int_equal(back.layers, NS_NP_UDP);
    assert_memory_equal(back.bits, narrow, sizeof narrow);
    ns_nprint_csv_free(&back);
}

/* A real capture through encode -> render -> unrender comes back bit for bit
 * (its first 1024 rows), src_ip included. */
static void render_round_trip(const char *pcap, size_t min_rows)
{
    const char *dir = tu_tmpdir(), *bin = tu_netsynth_bin();
    assert_int_equal(tu_system("%s encode -P %s -4 -t -u -i -W %s/real.csv 2>/dev/null", bin, pcap, dir), 0);
    assert_int_equal(tu_system("%s render -i %s/real.csv -o %s/real.png 2>/dev/null", bin, dir, dir), 0);
    assert_int_equal(tu_system("%s unrender %s/real.png -o %s/back.csv", bin, dir, dir), 0);
    ns_nprint_csv a, b;
    assert_int_equal(ns_nprint_csv_read(tu_path(dir, "real.csv"), &a), NS_OK);
    assert_int_equal(ns_nprint_csv_read(tu_path(dir, "back.csv"), &b), NS_OK);
    size_t rows = a.rows < NS_IMAGE_MAX_ROWS ? a.rows : NS_IMAGE_MAX_ROWS;
    assert_true(rows > min_rows);
    assert_int_equal(b.rows, rows);
    assert_int_equal(b.layers, a.layers);
    assert_memory_equal(b.bits, a.bits, rows * (size_t)a.width);
    /* nPrint's own src_ip column comes back for every IPv4 row. */
    for (size_t i = 0; i < rows; i++) {
        const char *want = a.index_text + a.index_off[i], *got = b.index_text + b.index_off[i];
        if (!strchr(want, ':')) assert_string_equal(got, want);
    }
    ns_nprint_csv_free(&a);
    ns_nprint_csv_free(&b);
}

static void test_cli_real_capture(void **state)
{
    (void)state;
    const char *shared = TU_REQUIRE_SHARED();
    char pcap[4096];
    snprintf(pcap, sizeof pcap, "%s/data/iot-sentinel/pcaps/HueBridge/Setup-A-1-STA.pcap", shared);
    render_round_trip(pcap, 100);
}

/* The same on a capture of the lab corpus that ships with the project. */
static void test_cli_lab_capture(void **state)
{
    (void)state;
    const char *pcap = "lab/corpus/pcaps/ssh/ssh-rtt10ms-loss1-5.pcap";
    if (access(pcap, R_OK) != 0) {
        print_message("SKIP %s: %s is absent\n", __func__, pcap);
        skip();
    }
    render_round_trip(pcap, 100);
}

static void test_cli_dataset(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir(), *bin = tu_netsynth_bin();
    /* Three flows of 2, 1 and 3 packets labelled A, B, A. */
    enum { W = NS_NP_MODEL_WIDTH, RB = (W + 3) / 4, NP = 6 };
    int8_t *m = random_matrix(NP, W);
    uint8_t *bits = calloc(NP, RB);
    assert_non_null(bits);
    for (int k = 0; k < NP; k++) ns_dataset_pack_row(m + (size_t)k * W, W, bits + (size_t)k * RB);
    const char *attrs[1] = {"device"}, *tokens[2] = {"device=A", "device=B"}, *files[1] = {"x.pcap"};
    const uint32_t attr_first[2] = {0, 2};
    ns_ds_flow flows[3] = {{.first = 0, .n_packets = 2, .seen = 2, .proto = 6},
                           {.first = 2, .n_packets = 1, .seen = 5, .proto = 17},
                           {.first = 3, .n_packets = 3, .seen = 3, .proto = 6}};
    const int32_t labels[3] = {0, 1, 0};
    const int64_t iat[NP] = {0};
    const uint8_t dirs[NP] = {0};
    ns_dataset ds = {.width = W, .row_bytes = RB, .max_packets = 4, .n_flows = 3, .n_packets = NP,
                     .n_attrs = 1, .n_tokens = 2, .n_files = 1, .attr_names = attrs, .attr_first = attr_first,
                     .tokens = tokens, .files = files, .flows = flows, .labels = labels, .iat_ns = iat,
                     .dir = dirs, .bits = bits};
    const char *path = tu_path(dir, "ds.bin");
    if (ns_dataset_write(&ds, path) != NS_OK) fail_msg("%s", ns_errmsg());

    assert_int_equal(tu_system("%s render --data %s -o %s/all 2>/dev/null", bin, path, dir), 0);
    assert_int_equal(tu_system("test $(ls %s/all | wc -l) -eq 3", dir), 0);
    image_equals(tu_path(dir, "all/0_A.png"), m, 2, W);
    image_equals(tu_path(dir, "all/1_B.png"), m + 2 * W, 1, W);
    image_equals(tu_path(dir, "all/2_A.png"), m + 3 * W, 3, W);

    assert_int_equal(tu_system("%s render --data %s -o %s/a --label device=A -n 1 2>/dev/null", bin, path, dir), 0);
    assert_int_equal(tu_system("test \"$(ls %s/a)\" = 0_A.png", dir), 0);
    assert_int_equal(tu_system("%s render --data %s -o %s/z --label device=Z 2>/dev/null", bin, path, dir), 2);
    free(bits);
    free(m);
}

static void test_cli_usage(void **state)
{
    (void)state;
    const char *bin = tu_netsynth_bin();
    assert_int_equal(tu_system("%s render --help | grep -q -- --per-flow", bin), 0);
    assert_int_equal(tu_system("%s unrender --help | grep -q -- --layers", bin), 0);
    assert_int_equal(tu_system("%s render -o x.png 2>/dev/null", bin), 2);
    assert_int_equal(tu_system("%s render -i a.csv --data b -o x 2>/dev/null", bin), 2);
    assert_int_equal(tu_system("%s render -i a.csv -o x.png --scale 9 2>/dev/null", bin), 2);
    assert_int_equal(tu_system("%s unrender 2>/dev/null", bin), 2);
    /* Errors name the file. */
    assert_int_equal(tu_system("%s unrender /nonexistent.png 2>&1 | grep -q '/nonexistent.png: cannot open'", bin), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_is_exact),
        cmocka_unit_test(test_paper_colours),
        cmocka_unit_test(test_snap_to_nearest),
        cmocka_unit_test(test_off_colours_in_rgb_file),
        cmocka_unit_test(test_blurred_blocks_snap_by_mean),
        cmocka_unit_test(test_palette_file),
        cmocka_unit_test(test_16_bit_rgba_interlaced_file),
        cmocka_unit_test(test_grey_files),
        cmocka_unit_test(test_truncated_files),
        cmocka_unit_test(test_not_png),
        cmocka_unit_test(test_corrupt_chunk),
        cmocka_unit_test(test_over_limit),
        cmocka_unit_test(test_ancillary_chunks),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_bad_scale_text),
        cmocka_unit_test(test_cli_csv_round_trip),
        cmocka_unit_test(test_cli_real_capture),
        cmocka_unit_test(test_cli_lab_capture),
        cmocka_unit_test(test_cli_dataset),
        cmocka_unit_test(test_cli_usage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
