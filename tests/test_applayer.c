/* test_applayer.c: nDPI's and tshark's view of each class's content (applayer.h).
 *
 * On the lab corpus's test captures (NETSYNTH_LAB=dir for another run of
 * lab/capture.sh): the same captures given as the synthetic side score what
 * the real side scores; with their payload bytes zeroed nDPI recognises no
 * web flow and tshark dissects no web message. The corpus keeps 160 bytes of
 * each packet, so most web and download packets are cut: ndpiReader skips
 * those, and only the zero-filled copies let it see the flows' requests.
 * Skipped with a message when ndpiReader or tshark is absent. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsynth/applayer.h"
#include "netsynth/capture.h"
#include "netsynth/error.h"
#include "netsynth/packet.h"

static const char *lab_dir(void)
{
    const char *d = getenv("NETSYNTH_LAB");
    return d && *d ? d : "lab/corpus";
}

static const ns_applayer_class *find(const ns_applayer *a, const char *value)
{
    for (size_t i = 0; i < a->n_classes; i++)
        if (!strcmp(a->cls[i].value, value)) return &a->cls[i];
    fail_msg("no class %s", value);
    return NULL;
}

/* The test captures of apps (space-separated) as a table in dir; with zero,
 * copies of them whose transport payload bytes are zeros. */
static const char *synth_table(const char *dir, const char *apps, int zero)
{
    char real[4096], *out = NULL;
    snprintf(real, sizeof real, "%s/labels.tsv", lab_dir());
    out = tu_output(NULL, "awk -F'\\t' 'NR > 1 && $5 == \"test\" && index(\" %s \", \" \" $2 \" \") { print $1 \"\\t\" $2 }' %s",
                    apps, real);
    static char table[4096];
    snprintf(table, sizeof table, "%s/labels.tsv", dir);
    FILE *t = fopen(table, "w");
    assert_non_null(t);
    fprintf(t, "path\tapp\n");
    int n = 0;
    uint8_t buf[65536];
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = 0;
        char src[4096], dst[4096];
        snprintf(src, sizeof src, "%s/%s", lab_dir(), line);
        if (!zero) {
            assert_non_null(realpath(src, dst));
        } else {
            snprintf(dst, sizeof dst, "%s/z%d.pcap", dir, n);
            ns_capture *c;
            assert_int_equal(ns_capture_open(&c, src, NULL), NS_OK);
            FILE *fp = fopen(dst, "wb");
            assert_non_null(fp);
            ns_pcap_writer w;
            assert_int_equal(ns_pcap_writer_begin(&w, fp, NS_LINKTYPE_ETHERNET, 1), NS_OK);
            ns_frame f;
            while (ns_capture_next(c, &f) == 1) {
                memcpy(buf, f.data, f.caplen);
                ns_packet p;
                if (ns_packet_parse(&p, ns_capture_linktype(c), buf, f.caplen) == NS_SKIP_NONE && p.payload.len)
                    memset((uint8_t *)p.payload.data, 0, p.payload.len);
                assert_int_equal(ns_pcap_write(&w, f.ts_ns, buf, f.caplen, f.wirelen), NS_OK);
            }
            ns_capture_close(c);
            assert_int_equal(fclose(fp), 0);
        }
        fprintf(t, "%s\t%s\n", dst, tab + 1);
    }
    assert_int_equal(fclose(t), 0);
    free(out);
    assert_true(n > 0);
    return table;
}

static void run(ns_applayer *a, const char *synth)
{
    char real[4096];
    snprintf(real, sizeof real, "%s/labels.tsv", lab_dir());
    ns_trace_source r = {real, "test"}, s = {synth, NULL};
    int rc = ns_applayer_run(a, &r, &s, "app,rtt,loss");
    if (rc) fail_msg("%s", ns_errmsg());
}

static void test_same_captures_score_the_same(void **state)
{
    (void)state;
    TU_REQUIRE_PROGRAM("ndpiReader");
    TU_REQUIRE_PROGRAM("tshark");
    ns_applayer a;
    run(&a, synth_table(tu_tmpdir(), "web https dns mqtt", 0));
    assert_string_equal(a.label, "app");
    assert_int_equal(a.n_classes, 10);
    static const char *const apps[][3] = {
        {"web", "HTTP", "http"}, {"https", "TLS", "tls"}, {"dns", "DNS", "dns"}, {"mqtt", "MQTT", "mqtt"}};
    for (size_t i = 0; i < sizeof apps / sizeof *apps; i++) {
        const ns_applayer_class *c = find(&a, apps[i][0]);
        print_message("%-6s nDPI %s %llu/%llu, tshark %s %llu/%llu\n", c->value, c->ndpi,
                      (unsigned long long)c->recognised[0], (unsigned long long)c->flows[0], c->dissector,
                      (unsigned long long)c->dissected[0], (unsigned long long)c->payload[0]);
        assert_string_equal(c->ndpi, apps[i][1]);
        assert_string_equal(c->dissector, apps[i][2]);
        assert_int_equal(c->captures[0], c->captures[1]);
        assert_int_equal(c->flows[0], c->flows[1]);
        assert_int_equal(c->recognised[0], c->recognised[1]);
        assert_int_equal(c->payload[0], c->payload[1]);
        assert_int_equal(c->dissected[0], c->dissected[1]);
        /* every flow of these services starts with its message within the captured bytes */
        assert_int_equal(c->recognised[0], c->flows[0]);
        assert_true(c->dissected[0] > 0);
    }
    /* classes with no synthetic captures: none counted */
    const ns_applayer_class *ssh = find(&a, "ssh");
    assert_int_equal(ssh->captures[1], 0);
    assert_int_equal(ssh->flows[1], 0);
    assert_true(ssh->flows[0] > 0);
}

static void test_zeroed_payload_is_not_recognised(void **state)
{
    (void)state;
    TU_REQUIRE_PROGRAM("ndpiReader");
    TU_REQUIRE_PROGRAM("tshark");
    ns_applayer a;
    run(&a, synth_table(tu_tmpdir(), "web", 1));
    const ns_applayer_class *web = find(&a, "web");
    assert_int_equal(web->flows[0], web->flows[1]);
    assert_true(web->recognised[0] > 0);
    assert_int_equal(web->recognised[1], 0);
    assert_int_equal(web->payload[0], web->payload[1]);
    assert_int_equal(web->dissected[1] * 10 < web->dissected[0], 1);
}

static void test_refuses_a_table_without_the_label(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir(), *t = tu_path(dir, "labels.tsv");
    const char *text = "path\tdevice\nx.pcap\tcam\n";
    assert_int_equal(tu_write_file(t, text, strlen(text)), 0);
    char real[4096];
    snprintf(real, sizeof real, "%s/labels.tsv", lab_dir());
    ns_trace_source r = {real, "test"}, s = {t, NULL};
    ns_applayer a;
    if (!tu_have_program("ndpiReader") && !tu_have_program("tshark")) {
        assert_int_equal(ns_applayer_run(&a, &r, &s, "app"), NS_EIO);
        return;
    }
    assert_int_equal(ns_applayer_run(&a, &r, &s, "app"), NS_EFORMAT);
    assert_non_null(strstr(ns_errmsg(), "no column 'app'"));
    assert_non_null(strstr(ns_errmsg(), t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_captures_score_the_same),
        cmocka_unit_test(test_zeroed_payload_is_not_recognised),
        cmocka_unit_test(test_refuses_a_table_without_the_label),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
