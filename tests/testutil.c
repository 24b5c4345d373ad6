/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <math.h>

#include "netsynth/dataset.h"
#include "netsynth/nprint.h"
#include "netsynth/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tu_shared_dir(void)
{
    static char dir[4096];
    const char *env = getenv("NETSYNTH_SHARED");
    const char *candidates[] = {env, "../shared", "../../shared"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (!candidates[i] || !candidates[i][0]) continue;
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/data/iot-sentinel/labels.tsv", candidates[i]);
        if (access(probe, R_OK) == 0) {
            snprintf(dir, sizeof dir, "%s", candidates[i]);
            return dir;
        }
    }
    return NULL;
}

static char *made_dirs[256];
static int n_made;

const char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/netsynth-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d) return NULL;
    char *copy = strdup(d);
    if (n_made < 256) made_dirs[n_made++] = copy;
    return copy;
}

const char *tu_path(const char *dir, const char *name)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 4096, "%s/%s", dir, name);
    return b;
}

int tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t w = fwrite(data, 1, len, fp);
    return (fclose(fp) == 0 && w == len) ? 0 : -1;
}

int tu_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *tu_netsynth_bin(void)
{
    const char *b = getenv("NETSYNTH_BIN");
    return b && *b ? b : "build/netsynth";
}

int tu_have_program(const char *name)
{
    return tu_system("command -v %s >/dev/null 2>&1", name) == 0;
}

void tu_cleanup(void)
{
    for (int i = 0; i < n_made; i++) {
        if (!getenv("NETSYNTH_KEEP_TMP")) tu_system("rm -rf '%s'", made_dirs[i]);
        free(made_dirs[i]);
    }
    n_made = 0;
}

const char *tu_train_tiny(const struct ns_dataset *ds, const char *dir, int steps)
{
    static char ds_path[4096], out[4096], ckpt[4096];
    snprintf(ds_path, sizeof ds_path, "%s", tu_path(dir, "tiny.ds"));
    snprintf(out, sizeof out, "%s", tu_path(dir, "tiny.model"));
    snprintf(ckpt, sizeof ckpt, "%s", tu_path(dir, "tiny.ckpt"));
    assert_int_equal(ns_dataset_write(ds, ds_path), 0);
    ns_dataset loaded;
    assert_int_equal(ns_dataset_load(&loaded, ds_path), 0);
    ns_train_opts o;
    ns_train_opts_init(&o);
    o.config = "tiny";
    o.st.steps = steps, o.st.batch = 8, o.st.lr = 3e-3f, o.st.warmup = 5;
    o.st.eval_every = 0, o.st.ckpt_every = 0, o.st.val_frac = 0;
    o.threads = 1;
    o.out_path = out, o.ckpt_path = ckpt;
    ns_train_result res;
    assert_int_equal(ns_train(&loaded, &o, &res), 0);
    ns_dataset_free(&loaded);
    return out;
}

double tu_check_gradient(const char *name, float *param, const float *grad, size_t count, double (*loss)(void *),
                         void *ctx)
{
    double worst = 0;
    size_t stride = count > 40 ? count / 40 : 1; /* a spread of entries per tensor */
    for (size_t i = 0; i < count; i += stride) {
        float keep = param[i];
        const float h = 1e-2f;
        param[i] = keep + h;
        double lp = loss(ctx);
        param[i] = keep - h;
        double lm = loss(ctx);
        param[i] = keep;
        double num = (lp - lm) / (2 * h), ana = grad[i];
        double err = fabs(num - ana) / fmax(1e-2, fabs(num) + fabs(ana));
        if (err > worst) worst = err;
        if (err > 0.05) print_message("%s[%zu]: analytic %.6g numeric %.6g\n", name, i, ana, num);
    }
    assert_true(worst < 0.05);
    return worst;
}

char *tu_output(int *status, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = 0, cap = 1 << 16;
    char *out = malloc(cap);
    assert_non_null(out);
    for (size_t got; (got = fread(out + len, 1, cap - len - 1, p)) > 0;) {
        len += got;
        if (cap - len < 2) {
            out = realloc(out, cap *= 2);
            assert_non_null(out);
        }
    }
    out[len] = '\0';
    int st = pclose(p);
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}
