/* error.h: status codes and the last error message (one per thread).
 *
 * Every library function that can fail returns an int: NS_OK (0) or a
 * negative NS_E* code, after recording a one-line message that names the file
 * and the problem. Only the CLI's main() prints it and exits. */
#ifndef NETSYNTH_ERROR_H
#define NETSYNTH_ERROR_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

enum {
    NS_OK = 0,
    NS_EIO = -1,       /* open/read/write/rename failed (errno text in message) */
    NS_EFORMAT = -2,   /* input is not what it claims: bad magic, bad syntax */
    NS_ETRUNC = -3,    /* input ends before its own header says it should */
    NS_ECORRUPT = -4,  /* checksum mismatch or inconsistent header fields */
    NS_ENOMEM = -5,
    NS_EARG = -6,      /* caller asked for something invalid */
    NS_EVERSION = -7,  /* a file version this build does not read */
    NS_ERANGE = -8,    /* a value outside what the format can hold */
    NS_EMISMATCH = -9  /* two inputs, each valid, that do not belong together
                        * (a dataset or label of another model's vocabulary) */
};

/* Record a message (printf-style) for the calling thread and return code. */
int ns_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Put a prefix (printf-style) and ": " before the calling thread's message
 * and return code: ns_error_wrap(rc, "%s", path) turns "write failed" into
 * "out.pcap: write failed". Both functions format into a buffer of their own
 * first, so their arguments may include ns_errmsg() itself. */
int ns_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's last message ("" if none). */
const char *ns_errmsg(void);
/* A short name for a code ("I/O error", "corrupt file", ...). */
const char *ns_strerror(int code);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
