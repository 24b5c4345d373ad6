/* filehead.h: the head netsynth's binary files share (private to the library).
 *
 * A model file, an adapter, a control branch and a trace model each start
 * with 8 bytes of magic and a u32 version at offset 8, and keep, at offsets
 * of their own, the file's size (u64) and a CRC-32 of the whole file taken
 * with the CRC's own 4 bytes as zeros. One check of those, in one order
 * (magic, version, size, CRC), with one set of messages that name the file
 * and say what to do, so that the formats refuse a damaged or foreign file
 * alike. */
#ifndef NETSYNTH_FILEHEAD_H
#define NETSYNTH_FILEHEAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct ns_filehead {
    const char *magic;        /* 8 bytes, no NUL */
    const char *what;         /* "model file": the messages name the kind of file so */
    const char *made_by;      /* "netsynth train makes those": said to one who gave another kind */
    size_t header;            /* bytes of the header; the CRC covers them first, then the rest */
    size_t size_at, crc_at;   /* offsets of the u64 size and the u32 CRC */
    uint32_t oldest, newest;  /* the versions this build reads */
    const char *too_old;      /* what to do with one older than `oldest`; NULL: only the versions read are said */
} ns_filehead;

/* Whether buf[0, size) has h's magic, a version it reads (in *version), its
 * own size and a matching CRC: NS_OK, or NS_ETRUNC (shorter than its head or
 * its size), NS_EFORMAT (another magic: another netsynth file's kind is
 * named), NS_EVERSION or NS_ECORRUPT, each naming `name`. */
int ns_filehead_check(const ns_filehead *h, const uint8_t *buf, size_t size, const char *name, uint32_t *version);

/* Write h's magic, version and size into buf's head and, last, the CRC of
 * buf[0, size): every other byte must be in place. */
void ns_filehead_seal(const ns_filehead *h, uint8_t *buf, size_t size, uint32_t version);

#endif
