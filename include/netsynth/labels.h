/* labels.h: tab-separated tables with a header row (labels.tsv, flow-services.tsv).
 *
 * One record per line, fields split on tabs, no quoting; "\r\n" line ends, a
 * UTF-8 byte-order mark and blank lines are accepted. Every row has as many
 * fields as the header, header names are non-empty and distinct, and the text
 * holds no NUL byte: anything else is NS_EFORMAT naming the file and line.
 * A table is at most NS_LABELS_MAX_BYTES and NS_LABELS_MAX_COLS columns
 * (NS_ERANGE naming the file and the limit), and only a regular file or a
 * pipe: `--labels /dev/zero` is refused rather than read until memory runs
 * out. */
#ifndef NETSYNTH_LABELS_H
#define NETSYNTH_LABELS_H
#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#include <stddef.h>
#include <stdint.h>

#define NS_LABELS_MAX_BYTES ((size_t)1 << 30)
#define NS_LABELS_MAX_COLS 4096

typedef struct ns_labels {
    size_t n_rows, n_cols;
    const char **cols;     /* [n_cols] header names */
    const char **cells;    /* [n_rows * n_cols], row-major */
    uint32_t *lines;       /* [n_rows] line number of each row, for messages */
    char *text_;           /* private: the file, cut into cells in place */
} ns_labels;

int ns_labels_load(ns_labels *t, const char *path);
/* Parse text[0, len) (a malloc'd buffer of at least len + 1 bytes, which the
 * table takes over, also on failure); `name` names it in messages. */
int ns_labels_parse(ns_labels *t, char *text, size_t len, const char *name);
void ns_labels_free(ns_labels *t);

/* The column called name, or -1. */
int ns_labels_column(const ns_labels *t, const char *name);

static inline const char *ns_labels_cell(const ns_labels *t, size_t row, int col)
{
    return t->cells[row * t->n_cols + (size_t)col];
}

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif
