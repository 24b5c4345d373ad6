/* prov.c: a file's provenance section (see modelfile.h).
 *
 * Section bytes: "NSPROV01", u32 text length, u32 CRC-32 of the text, then
 * the text: "key=value" lines, each ended by '\n'. Its own CRC names a
 * damaged provenance as such even though the file's CRC covers it too (the
 * file's catches the damage first; this one keeps the section checkable when
 * it is copied out alone, as the fuzz target does). */
#include "netsynth/modelfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"

enum { PROV_HEAD = 16 };

/* Printable ASCII, tab, newline, or well-formed UTF-8 of 2..4 bytes (no
 * overlong forms, surrogates, or code points past U+10FFFF); no NUL, no
 * other control byte (C1's U+0080..U+009F included), so printing it cannot move a terminal's cursor. */
static int text_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return 0;
            i++;
            continue;
        }
        size_t k = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
        if (!k || c > 0xf4) return 0;
        uint32_t cp = c & (0x3f >> k);
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0xa0) || (k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += k + 1;
    }
    return 1;
}

int ns_prov_check(const char *text, size_t len, const char *name)
{
    if (len > NS_PROV_MAX)
        return ns_error(NS_ECORRUPT, "%s: provenance is %zu bytes, at most %d are allowed", name, len, NS_PROV_MAX);
    if (!text_ok((const uint8_t *)text, len))
        return ns_error(NS_ECORRUPT, "%s: provenance is not printable UTF-8 text", name);
    if (len && text[len - 1] != '\n') return ns_error(NS_ECORRUPT, "%s: provenance does not end its last line", name);
    for (const char *s = text, *end = text + len; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s)), *eq = memchr(s, '=', (size_t)(nl - s));
        if (!eq || eq == s) return ns_error(NS_ECORRUPT, "%s: provenance line %.*s is not key=value", name,
                                            (int)(nl - s > 40 ? 40 : nl - s), s);
        s = nl + 1;
    }
    return NS_OK;
}

int ns_prov_add(char **text, const char *key, const char *fmt, ...)
{
    char value[4096];
    va_list ap;
    va_start(ap, fmt);
    int full = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (full >= (int)sizeof value) {
        /* cut at a character, not inside one, and say that it was cut */
        size_t n = sizeof value - 4;
        while (n && ((uint8_t)value[n] & 0xc0) == 0x80) n--;
        memcpy(value + n, "...", 4);
    }
    /* A value is one line of printable text: a newline or control byte (a
     * command line's argument can hold either) becomes a space. */
    for (char *v = value; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f) *v = ' ';
    size_t old = *text ? strlen(*text) : 0, add = strlen(key) + 1 + strlen(value) + 1;
    if (!*key || strchr(key, '=') || strchr(key, '\n')) return ns_error(NS_EARG, "provenance key '%s' is not a name", key);
    if (old + add > NS_PROV_MAX) return NS_OK; /* the record stays within its bound; a long tail is dropped */
    char *t = realloc(*text, old + add + 1);
    if (!t) return ns_error(NS_ENOMEM, "out of memory");
    snprintf(t + old, add + 1, "%s=%s\n", key, value);
    if (!text_ok((uint8_t *)t + old, add)) {
        t[old] = 0;
        *text = t;
        return ns_error(NS_EARG, "provenance value of '%s' is not UTF-8 text", key);
    }
    *text = t;
    return NS_OK;
}

size_t ns_prov_section_size(const char *text) { return text ? PROV_HEAD + strlen(text) : 0; }

void ns_prov_section_write(const char *text, uint8_t *out)
{
    size_t n = strlen(text);
    memcpy(out, NS_PROV_MAGIC, 8);
    ns_store_le32(out + 8, (uint32_t)n);
    ns_store_le32(out + 12, ns_crc32(0, text, n));
    memcpy(out + PROV_HEAD, text, n);
}

int ns_prov_section_parse(const uint8_t *sec, size_t len, const char *name, char **text)
{
    *text = NULL;
    if (len < PROV_HEAD || memcmp(sec, NS_PROV_MAGIC, 8))
        return ns_error(NS_ECORRUPT, "%s: the provenance section has no provenance header", name);
    uint32_t n = ns_load_le32(sec + 8);
    if (n != len - PROV_HEAD)
        return ns_error(NS_ECORRUPT, "%s: the provenance section is %zu bytes, its header says %u", name,
                        len - PROV_HEAD, n);
    if (ns_crc32(0, sec + PROV_HEAD, n) != ns_load_le32(sec + 12))
        return ns_error(NS_ECORRUPT, "%s: provenance checksum mismatch: the section is corrupted", name);
    int rc = ns_prov_check((const char *)sec + PROV_HEAD, n, name);
    if (rc) return rc;
    if (!(*text = malloc((size_t)n + 1))) return ns_error(NS_ENOMEM, "out of memory");
    memcpy(*text, sec + PROV_HEAD, n);
    (*text)[n] = 0;
    return NS_OK;
}
