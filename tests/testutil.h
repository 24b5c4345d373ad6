/* testutil.h: helpers shared by the cmocka tests. */
#ifndef NETSYNTH_TESTUTIL_H
#define NETSYNTH_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of ../shared (or $NETSYNTH_SHARED), or NULL when it is absent. */
const char *tu_shared_dir(void);
/* Skip the current test with a message when ../shared is absent; returns the dir. */
#define TU_REQUIRE_SHARED()                                                          \
    ({                                                                               \
        const char *tu_dir_ = tu_shared_dir();                                       \
        if (!tu_dir_) {                                                              \
            print_message("SKIP %s: ../shared is absent (set NETSYNTH_SHARED)\n",    \
                          __func__);                                                 \
            skip();                                                                  \
        }                                                                            \
        tu_dir_;                                                                     \
    })

/* A fresh empty directory under $TMPDIR for this test (removed by tu_cleanup). */
const char *tu_tmpdir(void);
/* "dir/name" in a static rotating buffer. */
const char *tu_path(const char *dir, const char *name);
/* Write bytes to a file; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t len);
/* Run a shell command, return its exit status (-1 if it could not run). */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Everything a shell command writes to stdout, NUL-terminated (free it); its
 * exit status in *status unless status is NULL. Fails the test if the
 * command cannot be started. */
char *tu_output(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The netsynth binary under test ($NETSYNTH_BIN or build/netsynth). */
const char *tu_netsynth_bin(void);
/* Whether a program is on PATH. */
int tu_have_program(const char *name);
/* Skip the current test with a message when the program is not on PATH. */
#define TU_REQUIRE_PROGRAM(name)                                                     \
    do {                                                                             \
        if (!tu_have_program(name)) {                                                \
            print_message("SKIP %s: %s is absent\n", __func__, name);               \
            skip();                                                                  \
        }                                                                            \
    } while (0)
/* Write ds (arrays filled by the test) to dir/tiny.ds, train the "tiny"
 * model on it for `steps` steps (batch 8, lr 3e-3, one thread, no
 * validation) and return the model's path (a static buffer). */
struct ns_dataset;
const char *tu_train_tiny(const struct ns_dataset *ds, const char *dir, int steps);

/* Check grad[0..count) against central differences (h = 1e-2) of loss(ctx)
 * in param, on a spread of about 40 entries; fails the test when the worst
 * relative error reaches 0.05, and returns it. */
double tu_check_gradient(const char *name, float *param, const float *grad, size_t count, double (*loss)(void *),
                         void *ctx);

/* Remove every directory tu_tmpdir() made (call at the end of main). */
void tu_cleanup(void);

#endif
