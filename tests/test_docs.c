/* test_docs.c: the manual page keeps up with the program, and `netsynth
 * inspect` describes model files.
 *
 * The help texts are the source of truth. Every verb `netsynth --help` lists
 * has a `.SS VERB` subsection in man/netsynth.1; every option a verb's --help
 * prints (each `--name` anywhere in it, each `-x` of its usage lines and
 * option column) is named in that subsection; and every option the
 * subsection defines (its .TP tags) is one the verb still has. Adding an
 * option without documenting it, or removing one and leaving it documented,
 * fails here. The options every verb shares are spelled the same on every
 * verb (issue 19), and the README's command lines use only options their
 * verbs have. */
#include "testutil.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/nprint.h"
#include "netsynth/train.h"

#define MAN_PAGE "man/netsynth.1"

/* ------------------------------------------------------------------ helpers */

/* `netsynth ARGS`, which must succeed; its standard output. */
static char *netsynth(const char *args)
{
    int status;
    char *out = tu_output(&status, "'%s' %s", tu_netsynth_bin(), args);
    if (status != 0) fail_msg("netsynth %s: exit status %d", args, status);
    return out;
}

/* The manual page as plain text: "\-" becomes "-" and font changes, \& and
 * \c vanish, so that options read as they are typed. */
static char *man_text(void)
{
    FILE *fp = fopen(MAN_PAGE, "rb");
    if (!fp) fail_msg("%s: cannot open (tests run from the repository root)", MAN_PAGE);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    rewind(fp);
    char *raw = malloc((size_t)len + 1), *out = malloc((size_t)len + 1);
    assert_non_null(raw), assert_non_null(out);
    assert_int_equal(fread(raw, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    raw[len] = '\0';
    char *o = out;
    for (const char *s = raw; *s; s++) {
        if (s[0] != '\\' || !s[1]) {
            *o++ = *s;
        } else if (s[1] == '-') {
            *o++ = '-', s++;
        } else if (s[1] == 'f' && s[2]) {
            s += 2;
        } else if (s[1] == '&' || s[1] == 'c') {
            s++;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    free(raw);
    return out;
}

/* The subsection `.SS VERB` of the page up to the next heading, as a new
 * string; NULL when there is none. */
static char *man_subsection(const char *man, const char *verb)
{
    char head[64];
    snprintf(head, sizeof head, "\n.SS %s\n", verb);
    const char *start = strstr(man, head);
    if (!start) return NULL;
    start += strlen(head);
    const char *end = start;
    while ((end = strchr(end, '\n')) && strncmp(end, "\n.SS ", 5) && strncmp(end, "\n.SH ", 5)) end++;
    return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

static int is_name_char(char c) { return isalnum((unsigned char)c) || c == '-' || c == '_'; }

/* Whether text names the option `opt` ("--name" or "-x") as a whole word. */
static int names_option(const char *text, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *s = text; (s = strstr(s, opt)); s++)
        if ((s == text || !is_name_char(s[-1])) && !is_name_char(s[n])) return 1;
    return 0;
}

/* A set of option names, e.g. {"--data", "-o"}. */
typedef struct options {
    char name[64][48];
    int n;
} options;

static void options_add(options *set, const char *name, size_t len)
{
    if (len >= sizeof set->name[0]) len = sizeof set->name[0] - 1;
    for (int i = 0; i < set->n; i++)
        if (strlen(set->name[i]) == len && !strncmp(set->name[i], name, len)) return;
    assert_true(set->n < 64);
    memcpy(set->name[set->n], name, len);
    set->name[set->n++][len] = '\0';
}

/* The options in text[0, len) written as they are in a synopsis or an
 * option list: "-x" or "--name", after a space, '[', ',', '|' or '"' (or at
 * the start), and not followed by a letter or digit ("-1" in "(default -1)"
 * is followed by ')' but is no option: callers pass only synopsis lines and
 * option columns). */
static void scan_options(options *set, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '-' || (i > 0 && !strchr(" [,|\"", text[i - 1]))) continue;
        size_t j = i + 1;
        if (j < len && text[j] == '-') j++;
        size_t name = j;
        while (j < len && (isalnum((unsigned char)text[j]) || (j > name && text[j] == '-'))) j++;
        int is_long = name == i + 2;
        if (j == name || (!is_long && j != name + 1)) continue;
        options_add(set, text + i, j - i);
        i = j;
    }
}

/* Every option a --help text names: every "--name" anywhere, and the short
 * options of its usage lines (from "usage:" to the first blank line) and of
 * its option column (lines that start with spaces and a '-', up to the first
 * run of two spaces, where the description begins). */
static void help_options(options *set, const char *help)
{
    for (const char *s = help; (s = strstr(s, "--")); s += 2)
        if ((s == help || !is_name_char(s[-1])) && isalnum((unsigned char)s[2])) {
            size_t n = 2;
            while (is_name_char(s[n])) n++;
            options_add(set, s, n);
        }
    int in_usage = 0;
    for (const char *line = help; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (!strncmp(line, "usage:", 6)) in_usage = 1;
        if (len == 0) in_usage = 0;
        size_t indent = strspn(line, " ");
        if (in_usage) {
            scan_options(set, line, len);
        } else if (indent > 0 && indent < len && line[indent] == '-') {
            const char *column_end = strstr(line + indent, "  ");
            size_t column = column_end && column_end < line + len ? (size_t)(column_end - line) : len;
            scan_options(set, line, column);
        }
        line += len + (eol != NULL);
    }
}

/* The options a manual subsection defines: those in its .TP tags (the line
 * after each .TP). */
static void man_defined_options(options *set, const char *section)
{
    for (const char *s = section; (s = strstr(s, ".TP")); s += 3) {
        if (s != section && s[-1] != '\n') continue;
        const char *tag = strchr(s, '\n');
        if (!tag) break;
        tag++;
        const char *eol = strchr(tag, '\n');
        size_t len = eol ? (size_t)(eol - tag) : strlen(tag);
        if (tag[0] == '.') { /* skip the macro name: ".BI --seed " S"" */
            size_t macro = strcspn(tag, " \n");
            tag += macro, len -= macro;
        }
        scan_options(set, tag, len);
    }
}

/* The verbs `netsynth --help` lists: the first word of each line under "verbs:". */
static int help_verbs(const char *help, char verbs[][32], int max)
{
    const char *s = strstr(help, "verbs:\n");
    assert_non_null(s);
    s += strlen("verbs:\n");
    int n = 0;
    while (*s == ' ' && n < max) {
        s += strspn(s, " ");
        size_t len = strcspn(s, " \n");
        assert_true(len > 0 && len < 32);
        memcpy(verbs[n], s, len);
        verbs[n++][len] = '\0';
        s = strchr(s, '\n');
        if (!s) break;
        s++;
    }
    return n;
}

/* The options every verb takes (cli.h); the page documents them once, in
 * its OPTIONS section. */
static int is_common(const char *opt)
{
    return !strcmp(opt, "-h") || !strcmp(opt, "--help") || !strcmp(opt, "-V") || !strcmp(opt, "--version");
}

static int common_documented(const char *man, const char *opt)
{
    const char *start = strstr(man, "\n.SH OPTIONS\n"), *end = start ? strstr(start + 1, "\n.SH ") : NULL;
    if (!start || !end) return 0;
    char *section = strndup(start, (size_t)(end - start));
    int ok = names_option(section, opt) && strstr(section, "Every verb also takes");
    free(section);
    return ok;
}

/* ------------------------------------------------------------ manual page */

static void test_every_verb_has_a_subsection(void **state)
{
    (void)state;
    char *help = netsynth("--help"), *man = man_text(), verbs[32][32];
    int n = help_verbs(help, verbs, 32), missing = 0;
    assert_true(n >= 9);
    for (int v = 0; v < n; v++) {
        char *section = man_subsection(man, verbs[v]);
        if (!section) print_message("%s: no `.SS %s` subsection for the verb %s\n", MAN_PAGE, verbs[v], verbs[v]);
        missing += !section;
        free(section);
    }
    /* The options of netsynth itself (--help, --version) are on the page too. */
    options top = {0};
    help_options(&top, help);
    for (int i = 0; i < top.n; i++)
        if (!names_option(man, top.name[i])) print_message("%s: netsynth %s is missing\n", MAN_PAGE, top.name[i]), missing++;
    free(help);
    free(man);
    assert_int_equal(missing, 0);
}

static void test_every_option_is_in_its_subsection(void **state)
{
    (void)state;
    char *help = netsynth("--help"), *man = man_text(), verbs[32][32];
    int n = help_verbs(help, verbs, 32), missing = 0, checked = 0;
    for (int v = 0; v < n; v++) {
        char args[48];
        snprintf(args, sizeof args, "%.32s --help", verbs[v]);
        char *verb_help = netsynth(args), *section = man_subsection(man, verbs[v]);
        options opts = {0};
        options_add(&opts, "--help", 6); /* every verb takes it (cli.h), whether or not its help says so */
        help_options(&opts, verb_help);
        for (int i = 0; section && i < opts.n; i++, checked++) {
            if (names_option(section, opts.name[i])) continue;
            /* -h, --help, -V, --version: every verb's, documented once, in OPTIONS */
            if (is_common(opts.name[i]) && common_documented(man, opts.name[i])) continue;
            print_message("%s: netsynth %s %s is not in its subsection\n", MAN_PAGE, verbs[v], opts.name[i]);
            missing++;
        }
        free(verb_help);
        free(section);
    }
    print_message("%d options of %d verbs checked\n", checked, n);
    free(help);
    free(man);
    assert_int_equal(missing, 0);
}

static void test_no_option_documented_that_is_gone(void **state)
{
    (void)state;
    char *help = netsynth("--help"), *man = man_text(), verbs[32][32];
    int n = help_verbs(help, verbs, 32), stale = 0;
    for (int v = 0; v < n; v++) {
        char args[48];
        snprintf(args, sizeof args, "%.32s --help", verbs[v]);
        char *verb_help = netsynth(args), *section = man_subsection(man, verbs[v]);
        options defined = {0};
        if (section) man_defined_options(&defined, section);
        for (int i = 0; i < defined.n; i++) {
            if (!strcmp(defined.name[i], "--help") || names_option(verb_help, defined.name[i])) continue;
            print_message("%s: the %s subsection documents %s, which its --help does not know\n", MAN_PAGE,
                          verbs[v], defined.name[i]);
            stale++;
        }
        free(verb_help);
        free(section);
    }
    free(help);
    free(man);
    assert_int_equal(stale, 0);
}

/* The extraction itself, on a made-up help text. */
static void test_help_option_extraction(void **state)
{
    (void)state;
    options set = {0};
    help_options(&set, "usage: netsynth x -P capture [-e] [-F fill] [--opt N]\n"
                       "                  [-q]\n"
                       "\n"
                       "Prose about --resume, and -1 or a-b.\n"
                       "  -a -4          headers (default -1)\n"
                       "  -z, --zed N    the -y here is prose\n"
                       "  --two-words X  see --help\n");
    const char *want[] = {"--opt", "--resume", "--zed", "--two-words", "--help", "-P", "-e", "-F", "-q", "-a", "-4", "-z"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int found = 0;
        for (int k = 0; k < set.n; k++) found |= !strcmp(set.name[k], want[i]);
        if (!found) fail_msg("%s not extracted", want[i]);
    }
    assert_int_equal(set.n, (int)(sizeof want / sizeof *want)); /* and nothing else: no -1, -y, -b */

    assert_true(names_option("see -o FILE and --json,", "--json"));
    assert_true(names_option("see -o FILE", "-o"));
    assert_false(names_option("--json-out", "--json"));
    assert_false(names_option("real->real --no-o", "-o"));
}

static void test_man_page_renders_cleanly(void **state)
{
    (void)state;
    if (!tu_have_program("groff")) {
        print_message("SKIP %s: no groff\n", __func__);
        skip();
    }
    int status;
    char *out = tu_output(&status, "groff -man -Tutf8 -ww -z %s 2>&1", MAN_PAGE);
    if (status != 0 || out[0]) fail_msg("groff -ww on %s (status %d):\n%s", MAN_PAGE, status, out);
    free(out);
}

/* Alternating-font macros (.BI, .IR, ...) join their arguments without
 * spaces: an unquoted argument that returns to roman (\fR) and is followed by
 * more arguments glues prose together, as "OUT-1.pcap,...(andalabels.tsv..."
 * once rendered. groff does not warn about it. */
static void test_man_no_glued_prose(void **state)
{
    (void)state;
    FILE *fp = fopen(MAN_PAGE, "rb");
    assert_non_null(fp);
    char line[4096];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, fp)) {
        n++;
        static const char *const macros[] = {".BI ", ".IB ", ".BR ", ".RB ", ".IR ", ".RI "};
        int alt = 0;
        for (size_t m = 0; m < sizeof macros / sizeof *macros; m++) alt |= !strncmp(line, macros[m], 4);
        if (!alt) continue;
        /* Split into arguments as troff does: spaces separate, "..." quotes. */
        char *p = line + 4;
        while (*p && *p != '\n') {
            while (*p == ' ') p++;
            if (!*p || *p == '\n') break;
            int quoted = *p == '"', roman = 0;
            char *a = p + quoted;
            while (*a && *a != '\n' && (quoted ? *a != '"' : *a != ' ')) {
                if (a[0] == '\\' && a[1] == 'f' && a[2] == 'R') roman = 1;
                a += a[0] == '\\' && a[1] ? 2 : 1;
            }
            if (quoted && *a == '"') a++;
            p = a;
            while (*p == ' ') p++;
            if (!quoted && roman && *p && *p != '\n') {
                print_message("%s:%d: an unquoted argument ends in roman and more follow: %s", MAN_PAGE, n, line);
                bad++;
                break;
            }
        }
    }
    fclose(fp);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------- shared conventions */

/* Every verb: -h is --help, -V and --version print the version; -q/--quiet
 * on every verb but inspect (whose output is its point); -j/--threads on
 * those with threads, spelled as a pair. */
static void test_every_verb_shares_the_conventions(void **state)
{
    (void)state;
    char *help = netsynth("--help"), verbs[32][32], *version = netsynth("--version");
    int n = help_verbs(help, verbs, 32), bad = 0;
    assert_true(n >= 12);
    assert_non_null(strstr(version, "netsynth "));
    static const char *const threaded[] = {"encode", "dataset", "train", "finetune", "generate", "train-control", "eval"};
    for (int v = 0; v < n; v++) {
        char args[64];
        snprintf(args, sizeof args, "%.32s --help", verbs[v]);
        char *long_help = netsynth(args);
        snprintf(args, sizeof args, "%.32s -h", verbs[v]);
        char *short_help = netsynth(args);
        if (strcmp(long_help, short_help)) print_message("netsynth %s: -h is not --help\n", verbs[v]), bad++;
        for (int k = 0; k < 2; k++) {
            snprintf(args, sizeof args, "%.32s %s", verbs[v], k ? "--version" : "-V");
            char *out = netsynth(args);
            if (strcmp(out, version)) print_message("netsynth %s: %s prints '%s'\n", args, k ? "--version" : "-V", out), bad++;
            free(out);
        }
        if (strcmp(verbs[v], "inspect") && !strstr(long_help, "-q, --quiet"))
            print_message("netsynth %s --help: no \"-q, --quiet\"\n", verbs[v]), bad++;
        int threads = 0;
        for (size_t t = 0; t < sizeof threaded / sizeof *threaded; t++) threads |= !strcmp(verbs[v], threaded[t]);
        if (threads != (strstr(long_help, "-j, --threads") != NULL))
            print_message("netsynth %s --help: %s \"-j, --threads\"\n", verbs[v], threads ? "lacks" : "has"), bad++;
        if (names_option(long_help, "--threads") && !strstr(long_help, "-j, --threads"))
            print_message("netsynth %s --help: --threads without -j\n", verbs[v]), bad++;
        free(long_help), free(short_help);
    }
    free(help), free(version);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ README */

/* Every `netsynth VERB ...` command in README.md's shell blocks (lines
 * joined at a trailing backslash) names a verb that exists and only options
 * that the verb's --help names. */
static void test_readme_commands_use_real_options(void **state)
{
    (void)state;
    FILE *fp = fopen("README.md", "rb");
    if (!fp) fail_msg("README.md: cannot open (tests run from the repository root)");
    char *help = netsynth("--help"), verbs[32][32], line[8192], cmd[16384];
    int n_verbs = help_verbs(help, verbs, 32), in_block = 0, commands = 0, bad = 0;
    cmd[0] = 0;
    while (fgets(line, sizeof line, fp)) {
        if (!strncmp(line, "```", 3)) {
            in_block = !in_block;
            continue;
        }
        if (!in_block || line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        size_t len = strlen(line);
        int more = len && line[len - 1] == '\\';
        if (more) line[len - 1] = 0;
        strncat(cmd, line, sizeof cmd - strlen(cmd) - 1);
        if (more) continue;
        for (char *at = cmd; (at = strstr(at, "netsynth ")); at++) {
            if (at != cmd && at[-1] != ' ' && at[-1] != '/') continue;
            char *verb = at + 9, *end = verb + strcspn(verb, " |;&");
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)(end - verb < 31 ? end - verb : 31), verb);
            int known = 0;
            for (int v = 0; v < n_verbs; v++) known |= !strcmp(verbs[v], name);
            if (!known) {
                if (name[0] != '-') print_message("README.md: netsynth %s: no such verb\n", name), bad++;
                continue;
            }
            char args[64];
            snprintf(args, sizeof args, "%s --help", name);
            char *verb_help = netsynth(args);
            commands++;
            /* The words up to the end of this command. */
            size_t span = strcspn(end, "|;&");
            for (char *w = end; w < end + span;) {
                w += strspn(w, " ");
                size_t wl = strcspn(w, " |;&");
                if ((ptrdiff_t)wl > end + span - w) wl = (size_t)(end + span - w);
                if (w[0] == '-' && wl > 1 && !isdigit((unsigned char)w[1])) {
                    char opt[64];
                    size_t ol = strcspn(w, " =|;&");
                    snprintf(opt, sizeof opt, "%.*s", (int)(ol < wl ? ol : wl), w);
                    if (!names_option(verb_help, opt) && !is_common(opt))
                        print_message("README.md: netsynth %s %s: not an option of %s\n", name, opt, name), bad++;
                }
                if (!wl) break;
                w += wl;
            }
            free(verb_help);
        }
        cmd[0] = 0;
    }
    fclose(fp);
    free(help);
    print_message("%d README commands checked\n", commands);
    assert_true(commands >= 10);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------ inspect on a model */

enum { W = NS_NP_MODEL_WIDTH, FLOWS = 8, LEN = 2 };

/* Eight flows of two packets under two attributes: kind (dns, web) and site
 * (a, b, c). Label combinations and their flows: dns/a 4, web/a 2, web/b 1,
 * web/(none) 1; site=c is in the vocabulary but has no flow. */
static const char *make_dataset(const char *dir)
{
    static const char *attr_names[] = {"kind", "site"};
    static const uint32_t attr_first[] = {0, 2, 5};
    static const char *tokens[] = {"kind=dns", "kind=web", "site=a", "site=b", "site=c"};
    static const char *files[] = {"made-in-test"};
    static const int32_t labels[FLOWS * 2] = {0, 2, 0, 2, 0, 2, 0, 2, 1, 2, 1, 2, 1, 3, 1, -1};
    ns_ds_flow flows[FLOWS] = {0};
    int64_t iat[FLOWS * LEN];
    uint8_t dirs[FLOWS * LEN], bits[FLOWS * LEN * ((W + 3) / 4)];
    int8_t row[W];
    for (int f = 0; f < FLOWS; f++) {
        int web = labels[2 * f] == 1;
        flows[f].first = (uint64_t)f * LEN;
        flows[f].n_packets = flows[f].seen = LEN;
        flows[f].proto = web ? 6 : 17;
        for (int k = 0; k < LEN; k++) {
            memset(row, -1, W);
            ns_nprint_put(row, NS_NPF_IPV4_VER, 4), ns_nprint_put(row, NS_NPF_IPV4_HL, 5);
            ns_nprint_put(row, NS_NPF_IPV4_ID, (uint32_t)(f * 7 + k));
            ns_nprint_put(row, NS_NPF_IPV4_TTL, web ? 64 : 128), ns_nprint_put(row, NS_NPF_IPV4_PROTO, flows[f].proto);
            ns_dataset_pack_row(row, W, bits + (size_t)(f * LEN + k) * ((W + 3) / 4));
            iat[f * LEN + k] = k ? 1000000 : 0;
            dirs[f * LEN + k] = (uint8_t)k;
        }
    }
    ns_dataset ds = {.width = W, .row_bytes = (W + 3) / 4, .max_packets = 4, .n_flows = FLOWS,
                     .n_packets = FLOWS * LEN, .n_attrs = 2, .n_tokens = 5, .n_files = 1,
                     .attr_names = attr_names, .attr_first = attr_first, .tokens = tokens, .files = files,
                     .flows = flows, .labels = labels, .iat_ns = iat, .dir = dirs, .bits = bits};
    const char *path = tu_path(dir, "tiny.ds");
    assert_int_equal(ns_dataset_write(&ds, path), NS_OK);
    return path;
}

/* Whether some line of text contains every one of the words, in order. */
static int has_line(const char *text, const char *const *words, size_t n)
{
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        char *copy = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
        const char *at = copy;
        size_t k = 0;
        while (k < n && (at = strstr(at, words[k]))) at += strlen(words[k++]);
        free(copy);
        if (k == n) return 1;
        if (!eol) break;
        line = eol + 1;
    }
    return 0;
}
#define HAS_LINE(text, ...)                                                                     \
    do {                                                                                        \
        const char *const words_[] = {__VA_ARGS__};                                             \
        if (!has_line(text, words_, sizeof words_ / sizeof *words_))                           \
            fail_msg("no line with: %s ...\nin:\n%s", words_[0], text);                         \
    } while (0)

static void test_inspect_model_and_checkpoint(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    ns_dataset ds;
    assert_int_equal(ns_dataset_load(&ds, make_dataset(dir)), NS_OK);
    ns_train_opts o;
    ns_train_opts_init(&o);
    o.config = "tiny";
    o.st.steps = 3, o.st.batch = 8, o.st.seed = 7, o.st.lr = 2e-3f;
    o.st.warmup = 1, o.st.eval_every = 0, o.st.ckpt_every = 0, o.st.val_frac = 0;
    o.threads = 1;
    char model[4096], ckpt[4096];
    snprintf(model, sizeof model, "%s", tu_path(dir, "m.nsm"));
    snprintf(ckpt, sizeof ckpt, "%s", tu_path(dir, "m.nsm.ckpt"));
    o.out_path = model, o.ckpt_path = ckpt;
    ns_train_result res;
    assert_int_equal(ns_train(&ds, &o, &res), NS_OK);
    ns_dataset_free(&ds);

    char args[8400];
    snprintf(args, sizeof args, "inspect '%s'", model);
    char *out = netsynth(args);
    HAS_LINE(out, model, "netsynth model");
    HAS_LINE(out, "config tiny", "d 32", "2 layers", "2 heads", "MLP ratio 2");
    HAS_LINE(out, "up to 4 packets", "of 1920 bits");
    HAS_LINE(out, "parameters", "MB");
    HAS_LINE(out, "log-SNR shift 0");
    HAS_LINE(out, "training state: none");
    HAS_LINE(out, "kind: 2 values");
    HAS_LINE(out, "  dns ", " 4 flows", "50.0%");
    HAS_LINE(out, "  web ", " 4 flows", "50.0%");
    HAS_LINE(out, "site: 3 values");
    HAS_LINE(out, "  a ", " 6 flows", "75.0%");
    HAS_LINE(out, "  b ", " 1 flows", "12.5%");
    HAS_LINE(out, "  c ", " 0 flows", "0.0%");
    HAS_LINE(out, "  (none) ", " 1 flows", "12.5%");
    HAS_LINE(out, "label combinations: 4", "8 training flows");
    free(out);

    snprintf(args, sizeof args, "inspect '%s'", ckpt);
    out = netsynth(args);
    HAS_LINE(out, ckpt, "netsynth model checkpoint");
    HAS_LINE(out, "training: step 3 of 3", "batch 8", "lr 0.002", "seed 7", " s of training");
    HAS_LINE(out, "kind: 2 values");
    assert_null(strstr(out, "training state: none"));
    free(out);

    out = netsynth("inspect --help");
    HAS_LINE(out, "it knows", "dataset", "model", "files");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_option_extraction),
        cmocka_unit_test(test_every_verb_has_a_subsection),
        cmocka_unit_test(test_every_option_is_in_its_subsection),
        cmocka_unit_test(test_no_option_documented_that_is_gone),
        cmocka_unit_test(test_man_page_renders_cleanly),
        cmocka_unit_test(test_man_no_glued_prose),
        cmocka_unit_test(test_every_verb_shares_the_conventions),
        cmocka_unit_test(test_readme_commands_use_real_options),
        cmocka_unit_test(test_inspect_model_and_checkpoint),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
