/* filehead.c: magic, version, size and CRC of netsynth's binary files. */
#include "filehead.h"

#include <string.h>

#include "netsynth/controlnet.h"
#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/lora.h"
#include "netsynth/modelfile.h"
#include "netsynth/tmodel.h"

/* netsynth's kinds of file, to tell one who gave one kind for another which it was. */
static const struct { const char *magic, *what; } kinds[] = {
    {NS_MODEL_MAGIC, "model file"},   {NS_DATASET_MAGIC, "dataset file"}, {NS_LORA_MAGIC, "adapter file"},
    {NS_CONTROL_MAGIC, "control branch file"}, {NS_TMODEL_MAGIC, "trace model"},
};

static const char *article(const char *what) { return strchr("aeiou", what[0]) ? "an" : "a"; }

int ns_filehead_check(const ns_filehead *h, const uint8_t *buf, size_t size, const char *name, uint32_t *version)
{
    if (size < 8) return ns_error(NS_ETRUNC, "%s: not a netsynth %s (%zu bytes)", name, h->what, size);
    if (memcmp(buf, h->magic, 8)) {
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
            if (!memcmp(buf, kinds[i].magic, 8))
                return ns_error(NS_EFORMAT, "%s: is %s %s, not %s %s (%s)", name, article(kinds[i].what),
                                kinds[i].what, article(h->what), h->what, h->made_by);
        return ns_error(NS_EFORMAT, "%s: not a netsynth %s", name, h->what);
    }
    if (size < h->header)
        return ns_error(NS_ETRUNC, "%s: %s is %zu bytes, shorter than its %zu-byte header (truncated)", name, h->what,
                        size, h->header);
    uint32_t v = ns_load_le32(buf + 8);
    if (v < h->oldest || v > h->newest) {
        char reads[48];
        if (h->oldest == h->newest) snprintf(reads, sizeof reads, "version %u", h->newest);
        else snprintf(reads, sizeof reads, "versions %u to %u", h->oldest, h->newest);
        return ns_error(NS_EVERSION, "%s: %s version %u, this build reads %s%s%s", name, h->what, v, reads,
                        v > h->newest ? ": update netsynth to read it" : h->too_old ? ": " : "",
                        v < h->oldest && h->too_old ? h->too_old : "");
    }
    uint64_t fsize = ns_load_le64(buf + h->size_at);
    if (fsize != size)
        return ns_error(fsize > size ? NS_ETRUNC : NS_ECORRUPT, "%s: %s is %zu bytes, its header says %llu%s", name,
                        h->what, size, (unsigned long long)fsize, fsize > size ? " (truncated)" : "");
    /* the CRC was taken with its own bytes as zeros: the header's CRC with them so, then the rest's */
    uint32_t crc = ns_crc32(0, buf, h->crc_at);
    crc = ns_crc32(crc, "\0\0\0\0", 4);
    crc = ns_crc32(crc, buf + h->crc_at + 4, size - h->crc_at - 4);
    if (crc != ns_load_le32(buf + h->crc_at))
        return ns_error(NS_ECORRUPT, "%s: %s checksum mismatch: the file is corrupted (copy it again)", name, h->what);
    *version = v;
    return NS_OK;
}

void ns_filehead_seal(const ns_filehead *h, uint8_t *buf, size_t size, uint32_t version)
{
    memcpy(buf, h->magic, 8);
    ns_store_le32(buf + 8, version);
    ns_store_le64(buf + h->size_at, size);
    ns_store_le32(buf + h->crc_at, 0);
    ns_store_le32(buf + h->crc_at, ns_crc32(0, buf, size));
}
