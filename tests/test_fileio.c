/* test_fileio.c: atomic output files and whole-file reads. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netsynth/error.h"
#include "netsynth/fileio.h"
#include "netsynth/labels.h"

static void test_commit_replaces_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *path = tu_path(dir, "out.bin");
    assert_int_equal(tu_write_file(path, "old", 3), 0);
    ns_outfile o;
    assert_int_equal(ns_outfile_open(&o, path), NS_OK);
    fputs("new contents", o.fp);
    /* Until commit, the old file is intact. */
    uint8_t *data;
    size_t len;
    assert_int_equal(ns_read_file(path, &data, &len), NS_OK);
    assert_memory_equal(data, "old", 3);
    free(data);
    assert_int_equal(ns_outfile_commit(&o), NS_OK);
    assert_int_equal(ns_read_file(path, &data, &len), NS_OK);
    assert_int_equal(len, 12);
    assert_memory_equal(data, "new contents", 12);
    free(data);
}

static void test_abort_keeps_old_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    const char *path = tu_path(dir, "keep.bin");
    assert_int_equal(tu_write_file(path, "old", 3), 0);
    ns_outfile o;
    assert_int_equal(ns_outfile_open(&o, path), NS_OK);
    fputs("half-written", o.fp);
    ns_outfile_abort(&o);
    uint8_t *data;
    size_t len;
    assert_int_equal(ns_read_file(path, &data, &len), NS_OK);
    assert_int_equal(len, 3);
    free(data);
    /* No temporary file is left behind. */
    assert_int_equal(tu_system("test $(ls '%s' | wc -l) -eq 1", dir), 0);
}

static void test_full_disk_is_an_error(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/dev/full", &st) != 0) skip();
    /* /dev/full takes the open and fails every write: the error surfaces at
     * commit (the flush), naming the file. */
    ns_outfile o;
    assert_int_equal(ns_outfile_open(&o, "/dev/full"), NS_OK);
    for (int i = 0; i < 10000; i++) fputs("0123456789", o.fp);
    assert_int_equal(ns_outfile_commit(&o), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "/dev/full"));
}

static void test_missing_directory(void **state)
{
    (void)state;
    ns_outfile o;
    assert_int_equal(ns_outfile_open(&o, "/nonexistent-dir/x.bin"), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "/nonexistent-dir/x.bin"));
    uint8_t *data;
    size_t len;
    assert_int_equal(ns_read_file("/nonexistent-dir/x.bin", &data, &len), NS_EIO);
}

static void test_devices_are_written_in_place(void **state)
{
    (void)state;
    /* Regression: renaming a temporary file over /dev/null replaced the device. */
    struct stat st;
    if (stat("/dev/null", &st) != 0 || !S_ISCHR(st.st_mode)) skip();
    ns_outfile o;
    assert_int_equal(ns_outfile_open(&o, "/dev/null"), NS_OK);
    fputs("discarded", o.fp);
    assert_int_equal(ns_outfile_commit(&o), NS_OK);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(ns_outfile_open(&o, "/dev/null"), NS_OK);
    ns_outfile_abort(&o);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    /* A directory is refused, naming it. */
    const char *dir = tu_tmpdir();
    assert_int_equal(ns_outfile_open(&o, dir), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "directory"));
}

static void test_crc32_known_value(void **state)
{
    (void)state;
    /* The standard check value of CRC-32/ISO-HDLC. */
    assert_int_equal(ns_crc32(0, "123456789", 9), 0xCBF43926u);
}

/* Issue 12 defect 10: `dataset --labels /dev/zero` read until memory ran
 * out. Devices and directories are refused at once, sizes are capped. */
static void test_reads_are_bounded(void **state)
{
    (void)state;
    uint8_t *data = NULL;
    size_t len;
    assert_int_equal(ns_read_file("/dev/zero", &data, &len), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "/dev/zero: not a regular file or a pipe (a device"));
    const char *dir = tu_tmpdir();
    assert_int_equal(ns_read_file(dir, &data, &len), NS_EIO);
    assert_non_null(strstr(ns_errmsg(), "a directory"));
    /* A regular file: up to the limit exactly, not a byte more. */
    const char *path = strdup(tu_path(dir, "f"));
    assert_int_equal(tu_write_file(path, "0123456789", 10), 0);
    assert_int_equal(ns_read_file_max(path, 10, &data, &len), NS_OK);
    assert_int_equal(len, 10);
    assert_int_equal(data[10], 0);
    free(data);
    assert_int_equal(ns_read_file_max(path, 9, &data, &len), NS_ERANGE);
    assert_non_null(strstr(ns_errmsg(), "more than 9 bytes"));
    /* A pipe: read up to the limit, whatever the writer still has. */
    const char *fifo = strdup(tu_path(dir, "fifo"));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(tu_system("head -c 300000 /dev/zero >'%s' 2>/dev/null &", fifo), 0);
    assert_int_equal(ns_read_file_max(fifo, 100000, &data, &len), NS_ERANGE);
    assert_non_null(strstr(ns_errmsg(), "fifo: more than 100000 bytes"));
    /* A fresh pipe: the first writer may still hold the other one open. */
    const char *fifo2 = strdup(tu_path(dir, "fifo2"));
    assert_int_equal(mkfifo(fifo2, 0600), 0);
    assert_int_equal(tu_system("printf 'a\tb\n' >'%s' &", fifo2), 0);
    assert_int_equal(ns_read_file_max(fifo2, 100000, &data, &len), NS_OK);
    assert_int_equal(len, 4);
    free(data);
    /* Label tables: a clear error for a device, and a column limit. */
    ns_labels t;
    assert_int_equal(ns_labels_load(&t, "/dev/zero"), NS_EIO);
    size_t n = NS_LABELS_MAX_COLS + 1;
    char *wide = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) wide[2 * i] = 'c', wide[2 * i + 1] = i + 1 < n ? '\t' : '\n';
    assert_int_equal(tu_write_file(path, wide, 2 * n), 0);
    free(wide);
    assert_int_equal(ns_labels_load(&t, path), NS_ERANGE);
    assert_non_null(strstr(ns_errmsg(), "4097 columns, more than the limit of 4096"));
    /* The CLI gives up at once with that message. */
    assert_int_equal(tu_system("timeout 30 %s dataset --labels /dev/zero -o %s/x.ds 2>%s/err", tu_netsynth_bin(), dir,
                               dir), 1);
    assert_int_equal(tu_system("grep -q '/dev/zero: not a regular file or a pipe' %s/err", dir), 0);
    free((char *)fifo);
    free((char *)fifo2);
    free((char *)path);
}

/* Issue 12 defect 7: kill -9 during a write left DEST.tmp.XXXXXX behind for
 * good. The next write of DEST removes its dead writers' temp files, and
 * nothing else. */
static void test_stale_temp_files_removed(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    assert_true(dead > 0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    struct { const char *name; int stale; } f[] = {
        {"m.nsm.tmp.%ld.Ab12xZ", 1},      /* a dead writer */
        {"m.nsm.tmp.%ld.Qq0000", 0},      /* a live one: this process */
        {"m.nsm.tmp.k3Jd9a", 1},          /* an old version's, 2 hours old */
        {"m.nsm.tmp.fresh1", 0},          /* an old version's, just written: maybe still writing */
        {"m.nsm.tmp.%ld.Ab12x", 0},       /* not mkstemp's six characters */
        {"m.nsm.tmp.%ld.Ab12xZ.bak", 0},  /* another suffix */
        {"other.nsm.tmp.%ld.Ab12xZ", 0},  /* another output */
        {"m.nsm.tmpx", 0},
    };
    enum { N = sizeof f / sizeof f[0] };
    char names[N][128];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], f[i].name, i == 1 ? (long)getpid() : (long)dead);
        assert_int_equal(tu_write_file(tu_path(dir, names[i]), "x", 1), 0);
    }
    assert_int_equal(tu_system("touch -d '2 hours ago' '%s/m.nsm.tmp.k3Jd9a'", dir), 0);
    /* A folder with a temp file's name is never removed. */
    assert_int_equal(tu_system("mkdir '%s/m.nsm.tmp.%ld.Dir000'", dir, (long)dead), 0);

    const char *out = strdup(tu_path(dir, "m.nsm"));
    assert_int_equal(ns_write_file(out, "model", 5), NS_OK);
    for (int i = 0; i < N; i++) {
        struct stat st;
        int exists = stat(tu_path(dir, names[i]), &st) == 0;
        if (exists != !f[i].stale) fail_msg("%s: %s", names[i], exists ? "still there" : "removed");
    }
    assert_int_equal(tu_system("test -d '%s/m.nsm.tmp.%ld.Dir000'", dir, (long)dead), 0);
    /* And our own temp file is DEST.tmp.PID.XXXXXX while it is open. */
    ns_outfile o;
    assert_int_equal(ns_outfile_open(&o, out), NS_OK);
    char want[64];
    snprintf(want, sizeof want, "m.nsm.tmp.%ld.", (long)getpid());
    assert_non_null(strstr(o.tmp_path, want));
    ns_outfile_abort(&o);
    /* A relative path cleans the current folder. */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    snprintf(names[0], sizeof names[0], "rel.out.tmp.%ld.Zz9Zz9", (long)dead);
    assert_int_equal(tu_write_file(names[0], "x", 1), 0);
    assert_int_equal(ns_write_file("rel.out", "y", 1), NS_OK);
    assert_int_equal(access(names[0], F_OK), -1);
    assert_int_equal(chdir(cwd), 0);
    free((char *)out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_replaces_file),
        cmocka_unit_test(test_abort_keeps_old_file),
        cmocka_unit_test(test_full_disk_is_an_error),
        cmocka_unit_test(test_missing_directory),
        cmocka_unit_test(test_devices_are_written_in_place),
        cmocka_unit_test(test_crc32_known_value),
        cmocka_unit_test(test_reads_are_bounded),
        cmocka_unit_test(test_stale_temp_files_removed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
