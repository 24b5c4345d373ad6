/* error.c: per-thread last-error message, in the style of sqlite3_errmsg(). */
#include "netsynth/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MESSAGE_SIZE = 1024 };
static _Thread_local char last_message[MESSAGE_SIZE];

/* Formatting straight into last_message would make every caller that passes
 * ns_errmsg() as an argument read the buffer it is writing (undefined, and in
 * practice a garbled message), so both functions go through a local copy. */
int ns_error(int code, const char *fmt, ...)
{
    char buf[MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_message, buf, sizeof buf);
    return code;
}

int ns_error_wrap(int code, const char *fmt, ...)
{
    char prefix[MESSAGE_SIZE], buf[MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    const char *rest = last_message[0] ? last_message : ns_strerror(code);
    /* prefix ": " rest, cut to the buffer (the message's end goes first). */
    size_t at = strlen(prefix), k = strlen(rest);
    if (at > sizeof buf - 3) at = sizeof buf - 3;
    memcpy(buf, prefix, at);
    memcpy(buf + at, ": ", 2);
    at += 2;
    if (k > sizeof buf - 1 - at) k = sizeof buf - 1 - at;
    memcpy(buf + at, rest, k);
    buf[at + k] = 0;
    memcpy(last_message, buf, at + k + 1);
    return code;
}

const char *ns_errmsg(void) { return last_message; }

const char *ns_strerror(int code)
{
    switch (code) {
    case NS_OK: return "ok";
    case NS_EIO: return "I/O error";
    case NS_EFORMAT: return "bad format";
    case NS_ETRUNC: return "truncated input";
    case NS_ECORRUPT: return "corrupt file";
    case NS_ENOMEM: return "out of memory";
    case NS_EARG: return "invalid argument";
    case NS_EVERSION: return "unsupported version";
    case NS_ERANGE: return "value out of range";
    case NS_EMISMATCH: return "inputs do not match";
    default: return "unknown error";
    }
}
