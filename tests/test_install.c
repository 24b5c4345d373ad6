/* test_install.c: `make install` into a temporary prefix installs what the
 * suite built (BUILD is the folder of $NETSYNTH_BIN) and it can be used: the
 * program runs, the headers compile, pkg-config describes the library, and a
 * small program links against it both statically (pkg-config --static) and
 * as a shared library (with an rpath) and runs. `make uninstall` removes
 * every file; DESTDIR stages an install without changing what it says. */
#include "testutil.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct {
    char prefix[4096];   /* the temporary PREFIX */
    char build[4096];    /* the BUILD folder that holds what the suite built */
    char work[4096];     /* scratch: the small programs */
    char sanitize[64];   /* -fsanitize=... when the library was built with it */
} inst;

/* Run a shell command; on failure print it and its output, and fail. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[8192], log[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(log, sizeof log, "%s/sh.log", inst.work);
    int status = tu_system("(%s) >'%s' 2>&1", cmd, log);
    if (status == 0) return;
    print_message("$ %s\n", cmd);
    tu_system("cat '%s'", log);
    fail_msg("exit status %d", status);
}

/* The installed file PREFIX/rel exists (a symbolic link must resolve). */
static void assert_installed(const char *rel)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", inst.prefix, rel);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) fail_msg("%s: not installed", path);
}

static void require_program(const char *name)
{
    if (tu_have_program(name)) return;
    print_message("SKIP: no %s on PATH\n", name);
    skip();
}

/* Installs once for every test; the last test uninstalls. */
static int install(void **state)
{
    (void)state;
    const char *tmp = tu_tmpdir();
    if (!tmp) return -1;
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", tu_netsynth_bin());
    snprintf(inst.build, sizeof inst.build, "%s", dirname(bin));
    snprintf(inst.prefix, sizeof inst.prefix, "%s/prefix", tmp);
    snprintf(inst.work, sizeof inst.work, "%s/work", tmp);
    if (mkdir(inst.work, 0777) != 0) return -1;
    char log[4200];
    snprintf(log, sizeof log, "%s/install.log", inst.work);
    int status = tu_system("make -s install PREFIX='%s' DESTDIR= BUILD='%s' >'%s' 2>&1", inst.prefix,
                           inst.build, log);
    if (status != 0) {
        print_message("make install PREFIX=%s BUILD=%s: exit status %d\n", inst.prefix, inst.build, status);
        tu_system("cat '%s'", log);
        return -1;
    }
    /* A library built with sanitizers links only into programs built with them. */
    char lib[4200];
    snprintf(lib, sizeof lib, "%s/lib/libnetsynth.a", inst.prefix);
    int asan = tu_system("nm '%s' 2>/dev/null | grep -q ' U __asan_'", lib) == 0;
    int ubsan = tu_system("nm '%s' 2>/dev/null | grep -q ' U __ubsan_'", lib) == 0;
    snprintf(inst.sanitize, sizeof inst.sanitize, "%s%s%s", asan || ubsan ? "-fsanitize=" : "",
             asan ? (ubsan ? "address," : "address") : "", ubsan ? "undefined" : "");
    return 0;
}

static void test_every_file_is_installed(void **state)
{
    (void)state;
    const char *files[] = {"bin/netsynth",          "lib/libnetsynth.a",         "lib/libnetsynth.so",
                           "lib/libnetsynth.so.0",  "lib/pkgconfig/netsynth.pc", "share/man/man1/netsynth.1"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) assert_installed(files[i]);
    /* every public header, unchanged */
    sh("diff -r include/netsynth '%s/include/netsynth'", inst.prefix);
    sh("cmp man/netsynth.1 '%s/share/man/man1/netsynth.1'", inst.prefix);
    /* the shared library answers to its soname, through the symbolic links */
    sh("readelf -d '%s/lib/libnetsynth.so' | grep -q 'SONAME.*\\[libnetsynth.so.0\\]'", inst.prefix);
}

static void test_installed_program_runs(void **state)
{
    (void)state;
    sh("'%s/bin/netsynth' --version | grep -qx 'netsynth [0-9][0-9.]*'", inst.prefix);
    sh("'%s/bin/netsynth' --help | grep -q '^verbs:'", inst.prefix);
    /* the very program the suite tests */
    sh("cmp '%s/netsynth' '%s/bin/netsynth'", inst.build, inst.prefix);
    if (tu_have_program("man"))
        sh("test \"$(MANPATH='%s/share/man' man -w netsynth)\" = '%s/share/man/man1/netsynth.1'", inst.prefix,
           inst.prefix);
}

static void test_pkg_config(void **state)
{
    (void)state;
    require_program("pkg-config");
    const char *pc = inst.prefix;
    sh("PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --cflags netsynth | grep -qx -- '-I%s/include *'", pc, pc);
    sh("PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --libs netsynth | grep -qx -- '-L%s/lib -lnetsynth *'", pc, pc);
    sh("PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --static --libs netsynth | grep -q -- '-lpcap'", pc);
    /* one version everywhere: netsynth.pc (the Makefile's VERSION) and the program */
    sh("test \"netsynth $(PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --modversion netsynth)\" = "
       "\"$('%s/bin/netsynth' --version)\"",
       pc, pc);
}

static void test_every_header_compiles_alone(void **state)
{
    (void)state;
    /* each header twice (its include guard), in a strict C11 translation unit */
    sh("cd '%s/include' && for h in netsynth/*.h; do printf '#include <%%s>\\n#include <%%s>\\n' $h $h; done "
       "> '%s/headers.c' && echo 'int main(void) { return 0; }' >> '%s/headers.c'",
       inst.prefix, inst.work, inst.work);
    sh("${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic -I'%s/include' -c '%s/headers.c' -o '%s/headers.o'",
       inst.prefix, inst.work, inst.work);
}

/* A user's program: the check value of CRC-32 and an error's text. */
static const char user_program[] =
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "#include <netsynth/error.h>\n"
    "#include <netsynth/fileio.h>\n"
    "int main(void)\n"
    "{\n"
    "    uint32_t crc = ns_crc32(0, \"123456789\", 9);\n"
    "    const char *text = ns_strerror(NS_EFORMAT);\n"
    "    printf(\"crc32 %08x, NS_EFORMAT: %s\\n\", (unsigned)crc, text);\n"
    "    return crc == 0xcbf43926u && text && strlen(text) > 0 ? 0 : 1;\n"
    "}\n";

static void build_user_program(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/user.c", inst.work);
    assert_int_equal(tu_write_file(path, user_program, sizeof user_program - 1), 0);
}

static void test_links_statically(void **state)
{
    (void)state;
    require_program("pkg-config");
    build_user_program();
    /* The whole archive goes in, so every library it needs must be in
     * netsynth.pc's Libs.private, not only those of the two functions. */
    sh("export PKG_CONFIG_PATH='%s/lib/pkgconfig' && ${CC:-cc} -std=c11 -Wall -Wextra -Werror %s '%s/user.c' "
       "$(pkg-config --static --cflags netsynth) "
       "$(pkg-config --static --libs netsynth | sed 's/-lnetsynth /-Wl,--whole-archive -l:libnetsynth.a "
       "-Wl,--no-whole-archive /') -o '%s/user-static'",
       inst.prefix, inst.sanitize, inst.work, inst.work);
    sh("'%s/user-static'", inst.work);
    sh("! readelf -d '%s/user-static' | grep -q 'NEEDED.*libnetsynth'", inst.work);
}

static void test_links_shared(void **state)
{
    (void)state;
    require_program("pkg-config");
    build_user_program();
    sh("export PKG_CONFIG_PATH='%s/lib/pkgconfig' && ${CC:-cc} -std=c11 -Wall -Wextra -Werror %s '%s/user.c' "
       "$(pkg-config --cflags --libs netsynth) -Wl,-rpath,'%s/lib' -o '%s/user-shared'",
       inst.prefix, inst.sanitize, inst.work, inst.prefix, inst.work);
    sh("'%s/user-shared'", inst.work);
    sh("ldd '%s/user-shared' | grep -q 'libnetsynth.so.0 => %s/lib/libnetsynth.so.0'", inst.work, inst.prefix);
}

static void test_destdir_stages_the_same_install(void **state)
{
    (void)state;
    char stage[4200];
    snprintf(stage, sizeof stage, "%s/stage", inst.work);
    sh("make -s install PREFIX=/opt/netsynth DESTDIR='%s' BUILD='%s'", stage, inst.build);
    sh("test -x '%s/opt/netsynth/bin/netsynth'", stage);
    sh("grep -qx 'prefix=/opt/netsynth' '%s/opt/netsynth/lib/pkgconfig/netsynth.pc'", stage);
    sh("make -s uninstall PREFIX=/opt/netsynth DESTDIR='%s'", stage);
    sh("test -z \"$(find '%s' ! -type d)\"", stage);
}

/* Last: nothing but empty folders may remain. */
static void test_uninstall_removes_everything(void **state)
{
    (void)state;
    sh("make -s uninstall PREFIX='%s' DESTDIR=", inst.prefix);
    int status = tu_system("test -z \"$(find '%s' ! -type d)\"", inst.prefix);
    if (status != 0) tu_system("find '%s' ! -type d", inst.prefix);
    assert_int_equal(status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_is_installed),
        cmocka_unit_test(test_installed_program_runs),
        cmocka_unit_test(test_pkg_config),
        cmocka_unit_test(test_every_header_compiles_alone),
        cmocka_unit_test(test_links_statically),
        cmocka_unit_test(test_links_shared),
        cmocka_unit_test(test_destdir_stages_the_same_install),
        cmocka_unit_test(test_uninstall_removes_everything),
    };
    int rc = cmocka_run_group_tests(tests, install, NULL);
    tu_cleanup();
    return rc;
}
