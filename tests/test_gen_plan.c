/* test_gen_plan.c: plans of what to generate per class (gen_plan.h) and the
 * vocabulary helpers they stand on (ns_modelfile_map_vocab, ns_dataset_combos),
 * on a model vocabulary and datasets made by hand: no training needed. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "netsynth/dataset.h"
#include "netsynth/error.h"
#include "netsynth/gen_plan.h"
#include "netsynth/modelfile.h"

/* The model's vocabulary: attributes type, device; device=lamp/cam (type
 * hub), device=plug (type hub, or power), device=hidden (in the vocabulary,
 * its flows left out of training), device=odd/name (a value that is no file
 * name). */
static char *m_attrs[] = {"type", "device"};
static uint32_t m_first[] = {0, 2, 7};
static char *m_tokens[] = {"type=hub", "type=power", "device=lamp", "device=cam", "device=plug", "device=hidden",
                           "device=odd/name"};
enum { HUB, POWER, LAMP, CAM, PLUG, HIDDEN, ODD };
static int32_t m_combo_ids[] = {HUB, LAMP, HUB, CAM, HUB, PLUG, POWER, PLUG, -1, ODD};
static uint32_t m_combo_count[] = {10, 5, 3, 4, 2};

static ns_modelfile model(void)
{
    ns_modelfile m;
    memset(&m, 0, sizeof m);
    m.n_attrs = 2, m.n_tokens = 7, m.attr_names = m_attrs, m.attr_first = m_first, m.tokens = m_tokens;
    m.n_combos = 5, m.combo_ids = m_combo_ids, m.combo_count = m_combo_count;
    return m;
}

/* A dataset whose attributes are the model's in the other order, with a
 * vocabulary of its own ids: device=cam 0, device=lamp 1, type=hub 2. */
static const char *d_attrs[] = {"device", "type"};
static const uint32_t d_first[] = {0, 2, 3};
static const char *d_tokens[] = {"device=cam", "device=lamp", "type=hub"};

static ns_dataset dataset(const int32_t *labels, uint64_t n_flows)
{
    ns_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n_flows = n_flows, ds.n_attrs = 2, ds.n_tokens = 3;
    ds.attr_names = d_attrs, ds.attr_first = d_first, ds.tokens = d_tokens, ds.labels = labels;
    return ds;
}

static void test_map_vocab_and_combos(void **state)
{
    (void)state;
    ns_modelfile m = model();
    const int32_t labels[] = {1, 2, 0, 2, 1, 2, -1, 2, 1, 2};
    ns_dataset ds = dataset(labels, 5);
    int32_t attr[2], tok[3];
    assert_int_equal(ns_modelfile_map_vocab(&m, &ds, attr, tok), NS_OK);
    assert_int_equal(attr[0], 1), assert_int_equal(attr[1], 0);
    assert_int_equal(tok[0], CAM), assert_int_equal(tok[1], LAMP), assert_int_equal(tok[2], HUB);
    /* Not the model's own ids: training on it directly is refused. */
    assert_int_equal(ns_modelfile_check_vocab(&m, &ds), NS_EMISMATCH);

    /* In the dataset's terms, then in the model's: first seen first. */
    int32_t *ids;
    uint32_t *count, n;
    assert_int_equal(ns_dataset_combos(&ds, NULL, NULL, 2, &ids, &count, &n), NS_OK);
    assert_int_equal(n, 3);
    const int32_t own[] = {1, 2, 0, 2, -1, 2};
    assert_memory_equal(ids, own, sizeof own);
    assert_int_equal(count[0], 3), assert_int_equal(count[1], 1), assert_int_equal(count[2], 1);
    free(ids), free(count);
    assert_int_equal(ns_dataset_combos(&ds, attr, tok, 2, &ids, &count, &n), NS_OK);
    assert_int_equal(n, 3);
    const int32_t theirs[] = {HUB, LAMP, HUB, CAM, HUB, -1};
    assert_memory_equal(ids, theirs, sizeof theirs);
    free(ids), free(count);

    /* The model's own ids (all of them, or the first of them) are its own. */
    const char *own_attrs[] = {"type", "device"};
    const uint32_t own_first[] = {0, 2, 3};
    const char *own_tokens[] = {"type=hub", "type=power", "device=lamp", "device=sofa"};
    ns_dataset same = dataset(labels, 0);
    same.attr_names = own_attrs, same.attr_first = own_first, same.tokens = own_tokens, same.n_tokens = 3;
    assert_int_equal(ns_modelfile_check_vocab(&m, &same), NS_OK);
    same.n_tokens = 4; /* and one the model lacks */
    assert_int_equal(ns_modelfile_check_vocab(&m, &same), NS_EMISMATCH);
    assert_non_null(strstr(ns_errmsg(), "(token 3: 'device=sofa')"));

    /* An attribute the model lacks. */
    const char *other[] = {"device", "colour"};
    ds.attr_names = other;
    assert_int_equal(ns_modelfile_map_vocab(&m, &ds, attr, tok), NS_EMISMATCH);
    assert_non_null(strstr(ns_errmsg(), "attribute 'colour' is not one of the model's"));
}

static void test_like_plan(void **state)
{
    (void)state;
    ns_modelfile m = model();
    /* lamp+hub, cam+hub, lamp+hub, hub alone, lamp+hub */
    const int32_t labels[] = {1, 2, 0, 2, 1, 2, -1, 2, 1, 2};
    ns_dataset ds = dataset(labels, 5);
    ns_gen_plan p;
    assert_int_equal(ns_gen_plan_like(&p, &m, &ds, "like.ds"), NS_OK);
    assert_int_equal(p.n_attrs, 2);
    assert_int_equal(p.n, 3);
    assert_int_equal(ns_gen_plan_flows(&p), 5);
    const int32_t want[3][2] = {{HUB, LAMP}, {HUB, CAM}, {HUB, -1}};
    const size_t n[3] = {3, 1, 1};
    const char *name[3] = {"hub_lamp", "hub_cam", "hub_none"};
    for (int k = 0; k < 3; k++) {
        assert_memory_equal(p.req[k].ids, want[k], sizeof want[k]);
        assert_memory_equal(p.req[k].labels, want[k], sizeof want[k]); /* a like plan keeps its labels */
        assert_int_equal(p.req[k].n, n[k]);
        assert_string_equal(p.req[k].name, name[k]);
        assert_null(p.req[k].svc); /* no flows: no services to match */
    }
    ns_gen_plan_free(&p);
    assert_null(p.req);

    /* With flows in captures: each request's captures, as many flows each, in file order. */
    ns_ds_flow flows[5] = {{.file = 1, .start_ns = 9, .proto = 6, .server_port = 443},
                           {.file = 0, .proto = 17, .server_port = 53},
                           {.file = 0, .proto = 1, .server_port = 7},
                           {.file = 1, .start_ns = 5, .proto = 17, .server_port = 123},
                           {.file = 1, .start_ns = 2, .n_packets = 2, .proto = 6, .server_port = 22}};
    const int64_t iat[2] = {0, 20}; /* flow 4's second packet 20 ns after its first: after flow 0's start */
    ds.flows = flows, ds.n_files = 2, ds.iat_ns = iat;
    assert_int_equal(ns_gen_plan_like(&p, &m, &ds, "like.ds"), NS_OK);
    assert_int_equal(p.req[0].n_caps, 2);
    assert_int_equal(p.req[0].caps[0], 1), assert_int_equal(p.req[0].caps[1], 2); /* file 0 then file 1 */
    assert_int_equal(p.req[1].n_caps, 1), assert_int_equal(p.req[1].caps[0], 1);
    /* The services to match: capture by capture, each in start order (flow 2; then 4 and 0). */
    assert_non_null(p.req[0].svc);
    assert_int_equal(p.req[0].svc[0], NS_GEN_SVC(1, 7)); /* ICMP: no port */
    assert_int_equal(p.req[0].svc[0], 1u << 16);
    assert_int_equal(p.req[0].svc[1], NS_GEN_SVC(6, 22)), assert_int_equal(p.req[0].svc[2], 6u << 16 | 443);
    assert_int_equal(p.req[1].svc[0], NS_GEN_SVC(17, 53));
    assert_int_equal(p.req[2].svc[0], NS_GEN_SVC(17, 123));
    /* Each capture's first to last flow start, for the trace plan to spread its copy over. */
    assert_non_null(p.req[0].span_ns);
    assert_int_equal(p.req[0].span_ns[0], 0), assert_int_equal(p.req[0].span_ns[1], 9 - 2);
    assert_int_equal(p.req[1].span_ns[0], 0);
    /* And to its last packet kept, for the trace plan to end its copy there (version 12). */
    assert_non_null(p.req[0].end_ns);
    assert_int_equal(p.req[0].end_ns[0], 0), assert_int_equal(p.req[0].end_ns[1], 2 + 20 - 2);
    /* A flow cut short (dataset --packets): its capture's end unknown, 0. */
    ns_gen_plan_free(&p);
    flows[0].n_packets = 1, flows[0].seen = 30;
    assert_int_equal(ns_gen_plan_like(&p, &m, &ds, "like.ds"), NS_OK);
    assert_int_equal(p.req[0].span_ns[1], 9 - 2), assert_int_equal(p.req[0].end_ns[1], 0);
    ns_gen_plan_one_capture(&p);
    assert_int_equal(p.req[0].n_caps, 0);
    assert_null(p.req[0].caps);
    assert_null(p.req[0].span_ns), assert_null(p.req[0].end_ns);
    ns_gen_plan_free(&p);
    ds.flows = NULL, ds.n_files = 0;

    /* A label the model does not know, and one it never trained: no plan. */
    const char *unknown[] = {"device=cam", "device=toaster", "type=hub"};
    ds.tokens = unknown;
    assert_int_equal(ns_gen_plan_like(&p, &m, &ds, "like.ds"), NS_EMISMATCH);
    assert_non_null(strstr(ns_errmsg(), "like.ds: label 'device=toaster' is not in the model's vocabulary"));
    assert_null(p.req);
    const char *untrained[] = {"device=cam", "device=hidden", "type=hub"};
    ds.tokens = untrained;
    assert_int_equal(ns_gen_plan_like(&p, &m, &ds, "like.ds"), NS_EMISMATCH);
    assert_non_null(strstr(ns_errmsg(), "like.ds: prompt token 'device=hidden' was never trained"));
    /* ... nor with an attribute it lacks. */
    const char *other[] = {"device", "colour"};
    ds.tokens = d_tokens, ds.attr_names = other;
    assert_int_equal(ns_gen_plan_like(&p, &m, &ds, "like.ds"), NS_EMISMATCH);
    assert_non_null(strstr(ns_errmsg(), "like.ds: attribute 'colour' is not one of the model's"));
}

static void test_per_class_plan(void **state)
{
    (void)state;
    ns_modelfile m = model();
    ns_gen_plan p;
    assert_int_equal(ns_gen_plan_per_class(&p, &m, "device", 7), NS_OK);
    /* hidden was never trained: skipped */
    assert_int_equal(p.n, 4);
    assert_int_equal(ns_gen_plan_flows(&p), 28);
    const int32_t value[4] = {LAMP, CAM, PLUG, ODD};
    const int32_t type[4] = {HUB, HUB, -1, -1}; /* plug comes with two types; odd with none */
    const char *name[4] = {"lamp", "cam", "plug", "odd_name"};
    for (int k = 0; k < 4; k++) {
        const int32_t ids[2] = {-1, value[k]}, labels[2] = {type[k], value[k]};
        assert_memory_equal(p.req[k].ids, ids, sizeof ids);
        assert_memory_equal(p.req[k].labels, labels, sizeof labels);
        assert_int_equal(p.req[k].n, 7);
        assert_string_equal(p.req[k].name, name[k]);
        assert_null(p.req[k].svc); /* no flows: no services to match */
    }
    ns_gen_plan_free(&p);

    /* The first attribute by default; power implies no device (plug only, but one combination). */
    assert_int_equal(ns_gen_plan_per_class(&p, &m, NULL, 1), NS_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.req[0].labels[1], -1);   /* hub: lamp, cam or plug */
    assert_int_equal(p.req[1].labels[1], PLUG); /* power: plug */
    assert_string_equal(p.req[1].name, "power");
    ns_gen_plan_free(&p);

    assert_int_equal(ns_gen_plan_per_class(&p, &m, "colour", 1), NS_EARG);
    m.n_attrs = 0;
    assert_int_equal(ns_gen_plan_per_class(&p, &m, NULL, 1), NS_EARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_vocab_and_combos),
        cmocka_unit_test(test_like_plan),
        cmocka_unit_test(test_per_class_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
