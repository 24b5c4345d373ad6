/* error.c: per-thread last-error message, in the style of sqlite3_errmsg(). */
#include "netsynth/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[1024];

int ns_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
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
    default: return "unknown error";
    }
}
