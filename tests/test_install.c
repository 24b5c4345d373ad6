/* test_install.c: `make install` into a temporary prefix installs what the
 * suite built (BUILD is the folder of $NETSYNTH_BIN) and it can be used: the
 * program runs, the headers compile (as C and as C++), pkg-config describes
 * the library, and a small program links against it both statically
 * (pkg-config --static) and as a shared library (with an rpath) and runs; so
 * does a C++ program that reaches every exported function through netsynth.h.
 * The shared library exports the public headers' functions and nothing else.
 * The Python module lands in PREFIX/lib/python3.X/dist-packages and, imported
 * from there, loads the installed library (when a python3 with numpy is
 * there). `make uninstall` removes every file; DESTDIR stages an install
 * without changing what it says. */
#include "testutil.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netsynth/netsynth.h"

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

/* The Python module, where Debian's python3 looks for a prefix other than
 * /usr, unchanged; imported from there it finds the installed library by
 * itself (no NETSYNTH_LIB). */
static void test_python_module_is_installed(void **state)
{
    (void)state;
    const char *p = inst.prefix, *w = inst.work;
    sh("ls -d '%s'/lib/python3.*/dist-packages/netsynth > '%s/pydir' && test $(wc -l < '%s/pydir') = 1", p, w, w);
    sh("cmp python/netsynth/__init__.py \"$(cat '%s/pydir')/__init__.py\"", w);
    if (inst.sanitize[0]) {
        print_message("SKIP %s: import: the library is built with sanitizers\n", __func__);
        return;
    }
    const char *python = NULL, *cands[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < 2 && !python; i++)
        if (tu_system("'%s' -c 'import numpy' >/dev/null 2>&1", cands[i]) == 0) python = cands[i];
    if (!python) {
        print_message("SKIP %s: import: no python3 with numpy (apt-get install python3-numpy)\n", __func__);
        return;
    }
    sh("cd '%s' && env -u NETSYNTH_LIB PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=\"$(dirname \"$(cat pydir)\")\" '%s' -c "
       "'import netsynth; print(netsynth.library_path, netsynth.version())' > py.out && "
       "test \"$(cat py.out)\" = '%s/lib/libnetsynth.so.0 %s'",
       w, python, p, ns_version());
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
    /* and in C++, the oldest standard a user may still build with */
    require_program("c++");
    sh("cp '%s/headers.c' '%s/headers.cc' && ${CXX:-c++} -std=c++11 -Wall -Wextra -Werror -pedantic -I'%s/include' "
       "-c '%s/headers.cc' -o '%s/headers-cc.o'",
       inst.work, inst.work, inst.prefix, inst.work, inst.work);
}

/* Each header by itself gives C linkage to every library function it
 * declares (those of the headers it includes too): a C++ file that includes
 * it alone and takes their addresses refers to no mangled name. (Through
 * netsynth.h alone a header's own extern "C" would go unnoticed.) */
static void test_every_header_gives_c_linkage(void **state)
{
    (void)state;
    require_program("c++");
    const char *w = inst.work, *p = inst.prefix;
    sh("nm --defined-only '%s/lib/libnetsynth.a' | awk '$2 == \"T\" {print $3}' | LC_ALL=C sort -u > '%s/functions'",
       p, w);
    sh("cd '%s/include' && for h in netsynth/*.h; do "
       "  { echo \"#include <$h>\"; echo 'typedef void (*fn)();'; echo 'void every_function(volatile fn *f) { (void)f;'; "
       "    ${CC:-cc} -E -P -I. $h | grep -o 'ns_[A-Za-z0-9_]* *(' | tr -d ' (' | LC_ALL=C sort -u | "
       "    LC_ALL=C comm -12 - '%s/functions' | sed 's/.*/*f = reinterpret_cast<fn>(\\&&);/'; echo '}'; "
       "  } > '%s/one.cc' && ${CXX:-c++} -std=c++11 -Wall -Wextra -Werror -I. -c '%s/one.cc' -o '%s/one.o' || exit 1; "
       "  if nm -u '%s/one.o' | grep ' _Z'; then echo \"$h: C++ linkage\"; exit 1; fi; "
       "done",
       p, w, w, w, w, w);
    /* the loop saw functions: error.h declares ns_error */
    sh("grep -qx ns_error '%s/functions'", w);
}

/* The shared library's dynamic symbols are the functions the public headers
 * declare, all of them and nothing else: no src/ private header's (ns_amx_*,
 * model_block_*), nothing the compiler makes global by itself. */
static void test_exports_only_the_public_headers(void **state)
{
    (void)state;
    const char *w = inst.work, *p = inst.prefix;
    sh("nm -D --defined-only '%s/lib/libnetsynth.so' | awk '{print $NF}' | sort -u > '%s/exported'", p, w);
    /* every name the installed headers declare or call, as the compiler sees them */
    sh("${CC:-cc} -E -P -I'%s/include' '%s/include/netsynth/netsynth.h' | grep -o 'ns_[A-Za-z0-9_]* *(' | "
       "tr -d ' (' | sort -u > '%s/declared'",
       p, p, w);
    /* the library's global functions, hidden or not */
    sh("nm --defined-only '%s/lib/libnetsynth.a' | awk '$2 == \"T\" {print $3}' | sort -u > '%s/defined'", p, w);
    int status = tu_system("test -s '%s/exported' && test -z \"$(comm -23 '%s/exported' '%s/declared')\"", w, w, w);
    if (status != 0) tu_system("echo 'exported, not in the public headers:'; comm -23 '%s/exported' '%s/declared'", w, w);
    assert_int_equal(status, 0);
    status = tu_system("test -z \"$(comm -12 '%s/declared' '%s/defined' | comm -23 - '%s/exported')\"", w, w, w);
    if (status != 0)
        tu_system("echo 'declared in a public header, defined, not exported:'; "
                  "comm -12 '%s/declared' '%s/defined' | comm -23 - '%s/exported'",
                  w, w, w);
    assert_int_equal(status, 0);
    /* what the private headers declare is defined, and hidden */
    sh("grep -qx ns_amx_gemm '%s/defined' && ! grep -q '^ns_amx_\\|^model_block_' '%s/exported'", w, w);
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

/* A C++ user's program, through netsynth.h alone: ns_version() is NS_VERSION
 * and the program's --version, and the address of every exported function
 * links (the headers give them C linkage). */
static const char cxx_head[] =
    "#include <netsynth/netsynth.h>\n"
    "#include <cstdio>\n"
    "#include <cstring>\n"
    "typedef void (*fn)();\n"
    "static void every_function(volatile fn *f)\n"
    "{\n";
static const char cxx_tail[] =
    "}\n"
    "int main()\n"
    "{\n"
    "    volatile fn f = 0;\n"
    "    every_function(&f);\n"
    "    uint32_t crc = ns_crc32(0, \"123456789\", 9);\n"
    "    std::printf(\"netsynth %s\\n\", ns_version());\n"
    "    return f && crc == 0xcbf43926u && std::strcmp(ns_version(), NS_VERSION) == 0 ? 0 : 1;\n"
    "}\n";

static void test_cxx_program_links_shared(void **state)
{
    (void)state;
    require_program("pkg-config");
    require_program("c++");
    const char *w = inst.work, *p = inst.prefix;
    char path[4200];
    snprintf(path, sizeof path, "%s/user.cc", w);
    assert_int_equal(tu_write_file(path, cxx_head, sizeof cxx_head - 1), 0);
    sh("nm -D --defined-only '%s/lib/libnetsynth.so' | awk '$2 == \"T\" {print \"    *f = reinterpret_cast<fn>(&\" $3 \");\"}' "
       ">> '%s'",
       p, path);
    FILE *fp = fopen(path, "a");
    assert_non_null(fp);
    assert_int_equal(fputs(cxx_tail, fp) >= 0 && fclose(fp) == 0, 1);
    sh("export PKG_CONFIG_PATH='%s/lib/pkgconfig' && ${CXX:-c++} -std=c++11 -Wall -Wextra -Werror %s '%s' "
       "$(pkg-config --cflags --libs netsynth) -Wl,-rpath,'%s/lib' -o '%s/user-cxx'",
       p, inst.sanitize, path, p, w);
    sh("test \"$('%s/user-cxx')\" = \"$('%s/bin/netsynth' --version)\"", w, p);
    sh("ldd '%s/user-cxx' | grep -q 'libnetsynth.so.0 => %s/lib/libnetsynth.so.0'", w, p);
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
        cmocka_unit_test(test_python_module_is_installed),
        cmocka_unit_test(test_installed_program_runs),
        cmocka_unit_test(test_pkg_config),
        cmocka_unit_test(test_every_header_compiles_alone),
        cmocka_unit_test(test_every_header_gives_c_linkage),
        cmocka_unit_test(test_links_statically),
        cmocka_unit_test(test_links_shared),
        cmocka_unit_test(test_exports_only_the_public_headers),
        cmocka_unit_test(test_cxx_program_links_shared),
        cmocka_unit_test(test_destdir_stages_the_same_install),
        cmocka_unit_test(test_uninstall_removes_everything),
    };
    int rc = cmocka_run_group_tests(tests, install, NULL);
    tu_cleanup();
    return rc;
}
