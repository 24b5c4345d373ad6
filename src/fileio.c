/* fileio.c: atomic output files (temp + rename) and whole-file reads. */
#include "netsynth/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "netsynth/error.h"

/* mkstemp's six characters. */
static int is_mkstemp_suffix(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return 0;
    return s[6] == 0;
}

/* Temporary files of path's dead writers (see fileio.h for the rule). A
 * failure here only leaves a file behind, as before: it is not an error. */
static void remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base);
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else return;
    if (!base_len) return;
    DIR *d = opendir(dir);
    if (!d) return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (strncmp(name, base, base_len) || strncmp(name + base_len, ".tmp.", 5)) continue;
        const char *rest = name + base_len + 5;
        int stale = 0, legacy = is_mkstemp_suffix(rest);
        if (!legacy && rest[0] >= '1' && rest[0] <= '9') {   /* "PID.XXXXXX" */
            char *end;
            errno = 0;
            long pid = strtol(rest, &end, 10);
            stale = !errno && *end == '.' && is_mkstemp_suffix(end + 1) && pid <= INT_MAX && pid != (long)getpid() &&
                    kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        }
        struct stat st;
        if ((!stale && !legacy) || fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (legacy && !(now - st.st_mtime > NS_OUTFILE_LEGACY_STALE_S)) continue;
        unlinkat(dirfd(d), name, 0);
    }
    closedir(d);
}

/* The rename is durable only once the folder's entry is on disk. Some file
 * systems cannot fsync a folder (EINVAL): nothing more can be done there. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else return 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return 0;
    int rc = fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP ? errno : 0;
    close(fd);
    return rc;
}

int ns_outfile_open(ns_outfile *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (!strcmp(path, "-")) {
        o->fp = stdout;
        o->path = strdup(path);
        return o->path ? NS_OK : ns_error(NS_ENOMEM, "out of memory");
    }
    /* A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written in
     * place: renaming a temporary file over it would replace the device. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return ns_error(NS_EIO, "%s: is a directory", path);
        o->path = strdup(path);
        if (!o->path) return ns_error(NS_ENOMEM, "out of memory");
        if (!(o->fp = fopen(path, "wb"))) {
            int e = errno;
            free(o->path);
            o->path = NULL;
            return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(e));
        }
        return NS_OK;
    }
    remove_stale_temps(path);
    size_t n = strlen(path);
    o->path = strdup(path);
    o->tmp_path = malloc(n + 40);
    if (!o->path || !o->tmp_path) {
        free(o->path);
        free(o->tmp_path);
        return ns_error(NS_ENOMEM, "out of memory");
    }
    snprintf(o->tmp_path, n + 40, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
    int fd = mkstemp(o->tmp_path);
    if (fd < 0 || !(o->fp = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp_path);
        }
        free(o->path);
        free(o->tmp_path);
        memset(o, 0, sizeof *o);
        return ns_error(NS_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    /* mkstemp makes 0600; output files should get the usual umask mode. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    return NS_OK;
}

static void outfile_free(ns_outfile *o)
{
    free(o->path);
    free(o->tmp_path);
    memset(o, 0, sizeof *o);
}

int ns_outfile_commit(ns_outfile *o)
{
    if (!o->tmp_path) { /* stdout, a device or a pipe: written in place */
        int bad = fflush(o->fp) != 0 || ferror(o->fp);
        int e = errno;
        if (o->fp != stdout && fclose(o->fp) != 0 && !bad) bad = 1, e = errno;
        int rc = bad ? ns_error(NS_EIO, "%s: write failed: %s", o->path, strerror(e)) : NS_OK;
        outfile_free(o);
        return rc;
    }
    int bad = fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0;
    int e = errno;
    if (fclose(o->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && rename(o->tmp_path, o->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(o->tmp_path);
        int rc = ns_error(NS_EIO, "%s: write failed: %s (the previous file, if any, is untouched)",
                          o->path, strerror(e));
        outfile_free(o);
        return rc;
    }
    int rc = NS_OK;
    if ((e = sync_dir(o->path)))
        rc = ns_error(NS_EIO, "%s: written, but its folder could not be synced to disk: %s", o->path, strerror(e));
    outfile_free(o);
    return rc;
}

void ns_outfile_abort(ns_outfile *o)
{
    if (o->tmp_path) {
        if (o->fp) fclose(o->fp);
        unlink(o->tmp_path);
    } else if (o->fp) {
        if (o->fp == stdout) fflush(o->fp);
        else fclose(o->fp);
    }
    outfile_free(o);
}

int ns_read_weights(float *w, const uint8_t *src, size_t n, const char *name)
{
    memcpy(w, src, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w[i])) return ns_error(NS_ECORRUPT, "%s: weight %zu is not a number", name, i);
    return NS_OK;
}

int ns_write_file(const char *path, const void *data, size_t len)
{
    ns_outfile o;
    int rc = ns_outfile_open(&o, path);
    if (rc) return rc;
    if (fwrite(data, 1, len, o.fp) != len) {
        ns_outfile_abort(&o);
        return ns_error(NS_EIO, "%s: write failed (disk full?); the previous file, if any, is untouched", path);
    }
    return ns_outfile_commit(&o);
}

static int too_big(const char *path, size_t max)
{
    return ns_error(NS_ERANGE, "%s: more than %zu bytes (%zu MiB), the limit for this kind of file", path, max,
                    max >> 20);
}

int ns_read_file_max(const char *path, size_t max, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ns_error(NS_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ns_error(NS_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    /* A device may never end (/dev/zero) and a directory has no bytes: only
     * regular files, whose size is known, and pipes, read up to max. */
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
        close(fd);
        return ns_error(NS_EIO, "%s: not a regular file or a pipe (%s)", path,
                        S_ISDIR(st.st_mode) ? "a directory" : "a device, which may never end");
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        close(fd);
        return too_big(path, max);
    }
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    int rc = buf ? NS_OK : ns_error(NS_ENOMEM, "%s: out of memory reading file", path);
    while (!rc) {
        if (n == cap) {   /* a pipe, or a file that grew: up to max + 1 bytes, to tell "over" */
            if (n > max) {
                rc = too_big(path, max);
                break;
            }
            size_t want = cap > max / 2 ? max + 1 : cap * 2;
            uint8_t *bigger = realloc(buf, want + 1);
            if (!bigger) {
                rc = ns_error(NS_ENOMEM, "%s: out of memory reading file", path);
                break;
            }
            buf = bigger;
            cap = want;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = ns_error(NS_EIO, "%s: read failed: %s", path, strerror(errno));
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (!rc && n > max) rc = too_big(path, max);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return NS_OK;
}

int ns_read_file(const char *path, uint8_t **data, size_t *len)
{
    return ns_read_file_max(path, NS_READ_FILE_MAX, data, len);
}

uint32_t ns_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* zlib's crc32 takes a uInt length: feed it in pieces. */
    while (len) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return crc;
}

int ns_program_found(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4096];
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, prog);
        if (len && access(buf, X_OK) == 0) return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

size_t ns_shell_quote(char *out, size_t n, const char *s)
{
    size_t k = 0;
    if (n < 3) return 0;
    out[k++] = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            if (k + 5 >= n) return 0;
            memcpy(out + k, "'\\''", 4), k += 4;
        } else {
            if (k + 2 >= n) return 0;
            out[k++] = *s;
        }
    }
    out[k++] = '\'';
    out[k] = 0;
    return k;
}
