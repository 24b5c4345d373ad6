/* fuzz_dataset.c: libFuzzer target for the dataset reader. The input is a
 * whole dataset file; whatever the reader accepts is then walked the way the
 * model and the control branch read it (rows into NS_NP_MODEL_WIDTH buffers,
 * control rows at their fixed columns, every label and name looked at, a
 * version 2 file's totals read per flow and each kept packet counted against
 * its direction's total, as the whole-flow code reads them), so a check the
 * reader forgot shows up as an out-of-bounds access or an abort here.
 *
 * Each input is tried three ways: as given; with its checksum made right; and
 * reshaped: header dimensions (row width, packets per flow, flags) taken from
 * the input's last bytes, the rows section resized to match, the file size
 * and checksum recomputed, so that a file consistent in everything but what
 * it claims reaches the checks behind the CRC. The seeds are version 3
 * files with and without totals (whole flows: a totals section after the
 * flows), with payload bytes or none, and IPv6 flows (ipv6.ds). */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "netsynth/control.h"
#include "netsynth/dataset.h"
#include "netsynth/fileio.h"
#include "netsynth/nprint.h"

static void fix_crc(uint8_t *buf, size_t size)
{
    memset(buf + 16, 0, 4);   /* the CRC at offset 16, computed with itself zero */
    uint32_t crc = ns_crc32(0, buf, size);
    for (int i = 0; i < 4; i++) buf[16 + i] = (uint8_t)(crc >> 8 * i);
}

static void walk(uint8_t *buf, size_t size)
{
    ns_dataset ds;
    if (ns_dataset_parse(&ds, buf, size, "fuzz") != 0) return;   /* takes buf */
    int8_t row[NS_NP_MODEL_WIDTH];   /* as ns_repr_encode does */
    ns_control_row cr;
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < ds.n_flows; i++) {
        const ns_ds_flow *f = &ds.flows[i];
        uint64_t left[2] = {UINT64_MAX, UINT64_MAX};
        if (ds.totals) {
            const ns_ds_totals *w = &ds.totals[i];
            left[0] = w->packets[0], left[1] = w->packets[1];
            /* What the reader promises about a version 2 flow. */
            if (f->n_packets > ds.max_packets || w->end < NS_DS_END_FIN || w->end > NS_DS_END_CAPTURE ||
                w->bytes[0] < 20 * w->packets[0] || w->bytes[1] < 20 * w->packets[1])
                abort();
            sink += w->bytes[0] + w->bytes[1] + w->tcp_flags[0] + w->tcp_flags[1];
        }
        for (uint32_t k = 0; k < f->n_packets; k++) {
            uint64_t p = f->first + k;
            ns_dataset_row(&ds, p, row);
            ns_control_row_of(row, ds.dir[p], &cr);
            if (!left[ds.dir[p]]--) abort();   /* more kept than its total */
            sink += (uint64_t)ds.iat_ns[p] + ds.dir[p] + (uint8_t)row[NS_NP_MODEL_WIDTH - 1] + cr.size;
        }
        sink += strlen(ds.files[f->file]);
        for (uint32_t a = 0; a < ds.n_attrs; a++) {
            int32_t t = ds.labels[i * ds.n_attrs + a];
            if (t >= 0) sink += strlen(ds.tokens[t]) + (ns_dataset_token(&ds, ds.tokens[t]) == t);
        }
    }
    for (uint32_t a = 0; a < ds.n_attrs; a++) sink += strlen(ds.attr_names[a]) + ds.attr_first[a + 1];
    ns_dataset_free(&ds);
}

static uint64_t pad8(uint64_t n) { return (n + 7) & ~UINT64_C(7); }

/* The offset of the rows section (the last) for the header's counts, as
 * dataset.c lays a file out; 0 when the counts are absurd. */
static uint64_t bits_offset(const uint8_t *h)
{
    uint64_t n_flows = ns_load_le64(h + 40), n_packets = ns_load_le64(h + 48), strings = ns_load_le64(h + 72);
    uint64_t n_attrs = ns_load_le32(h + 56), n_tokens = ns_load_le32(h + 60), n_files = ns_load_le32(h + 64);
    uint32_t version = ns_load_le32(h + 8);
    if (n_flows > (1u << 20) || n_packets > (1u << 20) || strings > (1u << 24) || n_attrs > 1024 ||
        n_tokens > (1u << 20) || n_files > (1u << 20))
        return 0;
    uint64_t o = 128;
    o = pad8(o + 4 * n_attrs);
    o = pad8(o + 4 * (n_attrs + 1));
    o = pad8(o + 4 * n_tokens);
    o = pad8(o + 4 * n_files);
    o = pad8(o + strings);
    o = pad8(o + 48 * n_flows);
    if (version >= 2) o = pad8(o + 40 * n_flows);   /* totals */
    o = pad8(o + 4 * n_flows * n_attrs);
    o = pad8(o + 8 * n_packets);
    o = pad8(o + n_packets);
    return o;
}

static void reshape(const uint8_t *data, size_t size)
{
    if (size < 128 + 12) return;
    const uint8_t *tail = data + size - 12;   /* width, max_packets, flags */
    uint64_t bits_off = bits_offset(data);
    if (!bits_off || bits_off > size) return;
    uint32_t width = ns_load_le32(tail) % 4096;
    uint32_t rb = (width + 3) / 4;
    uint64_t n_packets = ns_load_le64(data + 48);
    uint64_t n = bits_off + pad8(n_packets * rb);
    if (n > (1u << 24)) return;
    uint8_t *buf = calloc(n, 1);
    if (!buf) return;
    memcpy(buf, data, bits_off);
    /* The rows from whatever of the input follows, the rest code 00. */
    uint64_t have = size - 12 - (bits_off < size - 12 ? bits_off : size - 12);
    memcpy(buf + bits_off, data + bits_off, have < n - bits_off ? have : n - bits_off);
    ns_store_le32(buf + 20, width);
    ns_store_le32(buf + 68, rb);
    if (tail[4] & 1) ns_store_le32(buf + 24, ns_load_le32(tail + 4) >> 1);
    if (tail[8] & 1) ns_store_le32(buf + 28, ns_load_le32(tail + 8) >> 1);
    ns_store_le64(buf + 80, n);
    fix_crc(buf, n);
    walk(buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int fix = 0; fix < 2; fix++) {
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf) return 0;
        memcpy(buf, data, size);
        if (fix && size >= 20) fix_crc(buf, size);
        walk(buf, size);
    }
    reshape(data, size);
    return 0;
}
