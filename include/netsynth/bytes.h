/* bytes.h: bounds-checked reads from untrusted packet bytes (tcpdump's habit).
 *
 * Captured data is hostile: every read of packet bytes in netsynth goes
 * through a view that knows how many bytes were captured. A read past the end
 * returns false and leaves the output untouched; nothing reads beyond len. */
#ifndef NETSYNTH_BYTES_H
#define NETSYNTH_BYTES_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ns_bytes {
    const uint8_t *data;
    size_t len;            /* bytes that may be read */
} ns_bytes;

static inline ns_bytes ns_bytes_make(const uint8_t *data, size_t len)
{
    ns_bytes b = {data, len};
    return b;
}

static inline bool ns_bytes_has(ns_bytes b, size_t off, size_t n)
{
    return off <= b.len && n <= b.len - off;
}

static inline bool ns_get_u8(ns_bytes b, size_t off, uint8_t *out)
{
    if (!ns_bytes_has(b, off, 1)) return false;
    *out = b.data[off];
    return true;
}

/* Network byte order. */
static inline bool ns_get_be16(ns_bytes b, size_t off, uint16_t *out)
{
    if (!ns_bytes_has(b, off, 2)) return false;
    *out = (uint16_t)(b.data[off] << 8 | b.data[off + 1]);
    return true;
}

static inline bool ns_get_be32(ns_bytes b, size_t off, uint32_t *out)
{
    if (!ns_bytes_has(b, off, 4)) return false;
    *out = (uint32_t)b.data[off] << 24 | (uint32_t)b.data[off + 1] << 16 |
           (uint32_t)b.data[off + 2] << 8 | b.data[off + 3];
    return true;
}

/* Host (little-endian on disk) order, for file headers such as BSD loopback. */
static inline bool ns_get_le32(ns_bytes b, size_t off, uint32_t *out)
{
    if (!ns_bytes_has(b, off, 4)) return false;
    *out = (uint32_t)b.data[off + 3] << 24 | (uint32_t)b.data[off + 2] << 16 |
           (uint32_t)b.data[off + 1] << 8 | b.data[off];
    return true;
}

/* A sub-view [off, off+n); false when it does not fit. */
static inline bool ns_bytes_sub(ns_bytes b, size_t off, size_t n, ns_bytes *out)
{
    if (!ns_bytes_has(b, off, n)) return false;
    out->data = b.data + off;
    out->len = n;
    return true;
}

/* The rest of the view from off (empty when off >= len). */
static inline ns_bytes ns_bytes_tail(ns_bytes b, size_t off)
{
    ns_bytes t = {b.data + (off < b.len ? off : b.len), off < b.len ? b.len - off : 0};
    return t;
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
