/* labels.c: tab-separated tables (see labels.h). */
#include "netsynth/labels.h"

#include <stdlib.h>
#include <string.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"

int ns_labels_load(ns_labels *t, const char *path)
{
    memset(t, 0, sizeof *t);
    uint8_t *data;
    size_t len;
    int rc = ns_read_file_max(path, NS_LABELS_MAX_BYTES, &data, &len);
    if (rc) return rc;
    return ns_labels_parse(t, (char *)data, len, path);
}

void ns_labels_free(ns_labels *t)
{
    free(t->cols);
    free(t->cells);
    free(t->lines);
    free(t->text_);
    memset(t, 0, sizeof *t);
}

/* Cut the line [s, end) at tabs into out[] (at most max fields, NUL-terminated
 * in place); returns the number of fields the line has. */
static size_t split_fields(char *s, char *end, const char **out, size_t max)
{
    size_t n = 0;
    for (;;) {
        char *tab = memchr(s, '\t', (size_t)(end - s));
        char *stop = tab ? tab : end;
        if (n < max) out[n] = s;
        n++;
        *stop = 0;
        if (!tab) return n;
        s = tab + 1;
    }
}

/* The next line from *pos: returns its start, sets *end (before any '\r')
 * and moves *pos past the '\n'; NULL at the end of the text. */
static char *next_line(char **pos, char *limit, char **end)
{
    char *s = *pos;
    if (s >= limit) return NULL;
    char *nl = memchr(s, '\n', (size_t)(limit - s));
    char *e = nl ? nl : limit;
    *pos = nl ? nl + 1 : limit;
    if (e > s && e[-1] == '\r') e--;
    *end = e;
    return s;
}

int ns_labels_parse(ns_labels *t, char *text, size_t len, const char *name)
{
    memset(t, 0, sizeof *t);
    t->text_ = text;
    if (memchr(text, 0, len)) {
        ns_labels_free(t);
        return ns_error(NS_EFORMAT, "%s: holds a NUL byte: not a text table", name);
    }
    char *pos = text, *limit = text + len, *end;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) pos += 3;

    /* Header: the first non-blank line. */
    char *line;
    uint32_t lineno = 0;
    while ((line = next_line(&pos, limit, &end)) && (lineno++, end == line)) {}
    if (!line) {
        ns_labels_free(t);
        return ns_error(NS_EFORMAT, "%s: empty table (no header line)", name);
    }
    size_t n_cols = 1;
    for (char *c = line; c < end; c++) n_cols += *c == '\t';
    if (n_cols > NS_LABELS_MAX_COLS) {
        ns_labels_free(t);
        return ns_error(NS_ERANGE, "%s:%u: %zu columns, more than the limit of %d", name, lineno, n_cols,
                        NS_LABELS_MAX_COLS);
    }
    /* A row of n_cols fields takes at least n_cols bytes (tabs and its
     * newline): that bounds the rows better than the newlines when blank
     * lines abound. */
    size_t max_rows = 0;
    for (char *c = pos; c < limit; c++) max_rows += *c == '\n';
    max_rows++;
    if (max_rows > (size_t)(limit - pos) / n_cols + 1) max_rows = (size_t)(limit - pos) / n_cols + 1;
    t->cols = malloc(n_cols * sizeof *t->cols);
    t->cells = malloc(max_rows * n_cols * sizeof *t->cells);
    t->lines = malloc(max_rows * sizeof *t->lines);
    if (!t->cols || !t->cells || !t->lines) {
        ns_labels_free(t);
        return ns_error(NS_ENOMEM, "%s: out of memory for a table of %zu lines", name, max_rows);
    }
    t->n_cols = split_fields(line, end, t->cols, n_cols);
    for (size_t i = 0; i < n_cols; i++) {
        const char *bad = !t->cols[i][0] ? "an empty column name" : NULL;
        for (size_t j = 0; j < i && !bad; j++)
            if (!strcmp(t->cols[i], t->cols[j])) bad = "a repeated column name";
        if (bad) {
            int rc = ns_error(NS_EFORMAT, "%s:%u: header has %s (column %zu)", name, lineno, bad, i + 1);
            ns_labels_free(t);
            return rc;
        }
    }

    while ((line = next_line(&pos, limit, &end))) {
        lineno++;
        if (end == line) continue;
        const char **row = t->cells + t->n_rows * n_cols;
        size_t n = split_fields(line, end, row, n_cols);
        if (n != n_cols) {
            int rc = ns_error(NS_EFORMAT, "%s:%u: %zu fields, the header has %zu", name, lineno, n, n_cols);
            ns_labels_free(t);
            return rc;
        }
        t->lines[t->n_rows++] = lineno;
    }
    return NS_OK;
}

int ns_labels_column(const ns_labels *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (!strcmp(t->cols[i], name)) return (int)i;
    return -1;
}
