/* fileio.h: output files that are all or nothing, and small file helpers.
 *
 * Output goes to a temporary file beside the destination and is renamed over
 * it only when every write, the flush and the close succeeded, so a full disk
 * or an error half-way never leaves the user's old file overwritten half-way.
 * "-" is stdout; an existing device or pipe (/dev/null, a FIFO) is written
 * in place, since renaming over it would replace the device with a file.
 * After the rename the folder is fsynced, so the new name survives a crash.
 *
 * The temporary file is "DEST.tmp.PID.XXXXXX" (PID: the writer's process id,
 * XXXXXX: mkstemp's). A writer killed outright (kill -9, out of memory, power
 * loss) cannot remove its own, so ns_outfile_open(DEST) removes the stale
 * ones of the same DEST, and only those:
 *   - "DEST.tmp.PID.XXXXXX", a regular file, whose PID is not a running
 *     process on this machine (kill(PID, 0) says ESRCH). A live writer's,
 *     ours included, is left alone; a PID reused since errs on the side of
 *     keeping. (Two machines writing one DEST over a shared folder would see
 *     each other's PIDs as dead: one output, one machine at a time.)
 *   - "DEST.tmp.XXXXXX" (no PID: written by older versions), a regular file
 *     last modified more than NS_OUTFILE_LEGACY_STALE_S seconds ago.
 * Other names (another DEST, other suffixes, folders, links) are never
 * touched. */
#define NS_OUTFILE_LEGACY_STALE_S 3600
#ifndef NETSYNTH_FILEIO_H
#define NETSYNTH_FILEIO_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>

typedef struct ns_outfile {
    FILE *fp;
    char *path;        /* destination; "-" means stdout (no rename) */
    char *tmp_path;    /* NULL for stdout, devices and pipes (written in place) */
} ns_outfile;

int ns_outfile_open(ns_outfile *o, const char *path);
/* Flush, fsync, close and rename; on any failure the temp file is removed. */
int ns_outfile_commit(ns_outfile *o);
/* Close and remove the temporary file; the destination is untouched. */
void ns_outfile_abort(ns_outfile *o);

/* Write len bytes as the whole of path, through ns_outfile (all or nothing). */
int ns_write_file(const char *path, const void *data, size_t len);

/* Copy n little-endian floats from a file's bytes into w; NS_ECORRUPT naming
 * `name` when one is not a finite number (weights of a model file). */
int ns_read_weights(float *w, const uint8_t *src, size_t n, const char *name);

/* Read a whole file into a malloc'd buffer (NUL-terminated for convenience).
 * Only a regular file or a pipe/socket is read: a device (/dev/zero,
 * /dev/urandom) or a directory is NS_EIO at once, since it has no end or no
 * bytes. A file (or a pipe's stream) longer than `max` bytes is NS_ERANGE
 * naming the file and the limit; ns_read_file's is NS_READ_FILE_MAX. */
#define NS_READ_FILE_MAX ((size_t)8 << 30)
int ns_read_file(const char *path, uint8_t **data, size_t *len);
int ns_read_file_max(const char *path, size_t max, uint8_t **data, size_t *len);

/* Whether an executable named prog lies in a folder of $PATH (the tools eval
 * runs, such as tshark and ndpiReader, are optional: their tables are skipped,
 * saying why, where one is absent). */
int ns_program_found(const char *prog);

/* s in single quotes for /bin/sh (each ' as '\''), NUL-terminated in out[n]:
 * the length written, or 0 where it does not fit (at most 4 strlen(s) + 3
 * bytes are needed). */
size_t ns_shell_quote(char *out, size_t n, const char *s);

/* Fields of netsynth's file headers, which are little-endian (as the
 * machines this runs on: a big-endian port would swap here). */
static inline void ns_store_le32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void ns_store_le64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t ns_load_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t ns_load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* CRC-32 (zlib's polynomial), for file checksums. */
uint32_t ns_crc32(uint32_t crc, const void *data, size_t len);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
