/* test_python.c: the Python module (python/netsynth) against the C side.
 *
 * The module mirrors the library's structs with ctypes; here the compiler
 * gives every mirrored struct's size and field offsets and the module must
 * agree on each. A dataset built from the lab corpus is read through C
 * (ns_dataset_row, ns_features_nprint) and through Python, value for value;
 * flows generated through Python are the bytes `netsynth generate` writes
 * for the same options (pcap, pcapng, csv, ds; per class too); evaluate()
 * gives what `netsynth eval --json` does; failures are NetsynthErrors with
 * the library's message; and the README's Python example runs as written
 * (its demo-out/ files stood in for by a tiny model).
 *
 * Needs a python3 with numpy ($PYTHON alone when set, else python3 or /usr/bin/python3:
 * Debian's python3-numpy), and scikit-learn for the README example; skips
 * with a message without them, and under sanitizers (the library would need
 * the sanitizer runtime preloaded into python). */
#include "testutil.h"

#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsynth/netsynth.h"

static struct {
    int ready;            /* 0: skip everything, `why` says why */
    char why[256];
    char python[256];
    char env[16384];      /* the environment every python run gets */
    char dir[4096];       /* scratch */
    char ds[4200], model[4200];
} py;

/* Run a shell command with the module's environment; on failure print it
 * and its output, and fail. */
static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[8192], log[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(log, sizeof log, "%s/run.log", py.dir);
    int status = tu_system("(%s %s) >'%s' 2>&1", py.env, cmd, log);
    tu_system("cat '%s'", log);
    if (status != 0) fail_msg("exit status %d of: %s", status, cmd);
}

static void require_python(void)
{
    static int said;
    if (py.ready) return;
    if (!said++) print_message("SKIP every python test: %s\n", py.why);
    skip();
}

static int setup(void **state)
{
    (void)state;
    char bin[2100], build[1024], cwd[1024], tmpbin[1024];
    snprintf(tmpbin, sizeof tmpbin, "%s", tu_netsynth_bin());
    snprintf(build, sizeof build, "%s", dirname(tmpbin));
    if (!getcwd(cwd, sizeof cwd)) return -1;
    snprintf(bin, sizeof bin, "%s%s%s", tu_netsynth_bin()[0] == '/' ? "" : cwd, tu_netsynth_bin()[0] == '/' ? "" : "/",
             tu_netsynth_bin());
    if (tu_system("nm '%s/libnetsynth.a' 2>/dev/null | grep -q ' U __\\(asan\\|ubsan\\)_'", build) == 0) {
        snprintf(py.why, sizeof py.why, "the library is built with sanitizers (python would need their runtime)");
        return 0;
    }
    /* $PYTHON, when set, is the only one tried (PYTHON=none: skip) */
    const char *env_python = getenv("PYTHON");
    const char *cands[] = {env_python && *env_python ? env_python : "python3", "/usr/bin/python3"};
    size_t n_cands = env_python && *env_python ? 1 : 2;
    for (size_t i = 0; i < n_cands && !py.python[0]; i++)
        if (tu_system("'%s' -c 'import numpy' >/dev/null 2>&1", cands[i]) == 0)
            snprintf(py.python, sizeof py.python, "%s", cands[i]);
    if (!py.python[0]) {
        snprintf(py.why, sizeof py.why, "no python3 with numpy (apt-get install python3-numpy python3-sklearn)");
        return 0;
    }
    const char *tmp = tu_tmpdir();
    if (!tmp) return -1;
    snprintf(py.dir, sizeof py.dir, "%s", tmp);
    char libdir[2100];
    snprintf(libdir, sizeof libdir, "%s%s%s", build[0] == '/' ? "" : cwd, build[0] == '/' ? "" : "/", build);
    snprintf(py.env, sizeof py.env,
             "export PYTHONDONTWRITEBYTECODE=1 PYTHONPATH='%s/python' NETSYNTH_LIB='%s/libnetsynth.so' "
             "NS='%s' PY='%s' CHECK='%s/tests/python/check_netsynth.py' W='%s';",
             cwd, libdir, bin, py.python, cwd, tmp);
    /* A small real dataset (the lab corpus's test split, 8 packets a flow)
     * and a tiny model of it: enough to generate from, in a second. */
    snprintf(py.ds, sizeof py.ds, "%s/small.ds", tmp);
    snprintf(py.model, sizeof py.model, "%s/tiny.nsm", tmp);
    int st = tu_system("%s \"$NS\" dataset --labels lab/corpus/labels.tsv --label app,rtt --split test --packets 8 "
                       "-q -o '%s' && \"$NS\" train --data '%s' --config tiny --steps 30 --batch 8 --ckpt-every 0 "
                       "--eval-every 0 -q -o '%s'",
                       py.env, py.ds, py.ds, py.model);
    if (st != 0) return -1;
    py.ready = 1;
    return 0;
}

/* Every struct the module mirrors: size, alignment, and each field's offset
 * and size. */
static void test_struct_layouts_agree(void **state)
{
    (void)state;
    require_python();
    char path[4200];
    snprintf(path, sizeof path, "%s/layout.txt", py.dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
#define SZ(S) fprintf(fp, "%s %zu %zu\n", #S, sizeof(S), _Alignof(S))
#define F(S, f) fprintf(fp, "%s.%s %zu %zu\n", #S, #f, offsetof(S, f), sizeof(((S *)0)->f))
    SZ(ns_ds_flow);
    F(ns_ds_flow, first), F(ns_ds_flow, start_ns), F(ns_ds_flow, n_packets), F(ns_ds_flow, seen);
    F(ns_ds_flow, file), F(ns_ds_flow, client_ip), F(ns_ds_flow, server_ip), F(ns_ds_flow, client_port);
    F(ns_ds_flow, server_port), F(ns_ds_flow, proto), F(ns_ds_flow, ipv6), F(ns_ds_flow, pad_);
    SZ(ns_ds_totals);
    F(ns_ds_totals, packets), F(ns_ds_totals, bytes), F(ns_ds_totals, end), F(ns_ds_totals, tcp_flags);
    F(ns_ds_totals, pad_), F(ns_ds_totals, span_us);
    SZ(ns_dataset);
    F(ns_dataset, version), F(ns_dataset, width), F(ns_dataset, row_bytes), F(ns_dataset, max_packets), F(ns_dataset, flags);
    F(ns_dataset, idle_timeout_ns), F(ns_dataset, n_flows), F(ns_dataset, n_packets), F(ns_dataset, n_attrs);
    F(ns_dataset, n_tokens), F(ns_dataset, n_files), F(ns_dataset, attr_names), F(ns_dataset, attr_first);
    F(ns_dataset, tokens), F(ns_dataset, files), F(ns_dataset, flows), F(ns_dataset, totals), F(ns_dataset, labels);
    F(ns_dataset, iat_ns), F(ns_dataset, dir), F(ns_dataset, bits), F(ns_dataset, mem_);
    SZ(ns_model_config);
    F(ns_model_config, d), F(ns_model_config, n_layer), F(ns_model_config, n_head), F(ns_model_config, mlp_ratio);
    F(ns_model_config, max_packets), F(ns_model_config, in_dim), F(ns_model_config, out_dim);
    F(ns_model_config, n_bits), F(ns_model_config, vocab), F(ns_model_config, timing_bins);
    F(ns_model_config, len_bins), F(ns_model_config, groups), F(ns_model_config, self_cond);
    SZ(ns_schedule);
    F(ns_schedule, logsnr_shift), F(ns_schedule, t_min), F(ns_schedule, t_max);
    SZ(ns_repr);
    F(ns_repr, width), F(ns_repr, n_bits), F(ns_repr, cols), F(ns_repr, fixed), F(ns_repr, iat_mean);
    F(ns_repr, iat_std), F(ns_repr, timing_bins), F(ns_repr, bin_lo), F(ns_repr, bin_hi);
    SZ(ns_model_params);
    F(ns_model_params, in_w), F(ns_model_params, in_b), F(ns_model_params, pos), F(ns_model_params, t1_w);
    F(ns_model_params, t1_b), F(ns_model_params, t2_w), F(ns_model_params, t2_b), F(ns_model_params, prompt);
    F(ns_model_params, ada_w), F(ns_model_params, ada_b), F(ns_model_params, qkv_w), F(ns_model_params, qkv_b);
    F(ns_model_params, proj_w), F(ns_model_params, proj_b), F(ns_model_params, fc_w), F(ns_model_params, fc_b);
    F(ns_model_params, fc2_w), F(ns_model_params, fc2_b), F(ns_model_params, fada_w), F(ns_model_params, fada_b);
    F(ns_model_params, out_w), F(ns_model_params, out_b), F(ns_model_params, len1_w), F(ns_model_params, len1_b);
    F(ns_model_params, len2_w), F(ns_model_params, len2_b), F(ns_model_params, cont), F(ns_model_params, sc_w);
    SZ(ns_train_state);
    F(ns_train_state, step), F(ns_train_state, steps), F(ns_train_state, seed), F(ns_train_state, batch);
    F(ns_train_state, warmup), F(ns_train_state, eval_every), F(ns_train_state, ckpt_every);
    F(ns_train_state, log_every), F(ns_train_state, lr), F(ns_train_state, min_lr_frac);
    F(ns_train_state, weight_decay), F(ns_train_state, clip), F(ns_train_state, ema_decay);
    F(ns_train_state, p_uncond), F(ns_train_state, p_token_drop), F(ns_train_state, balance);
    F(ns_train_state, val_frac), F(ns_train_state, w_iat), F(ns_train_state, w_dir), F(ns_train_state, w_len);
    F(ns_train_state, cont_share);
    F(ns_train_state, elapsed_s), F(ns_train_state, data_sum), F(ns_train_state, self_cond);
    SZ(ns_modelfile);
    F(ns_modelfile, cfg), F(ns_modelfile, sched), F(ns_modelfile, repr), F(ns_modelfile, n_attrs);
    F(ns_modelfile, n_tokens), F(ns_modelfile, attr_names), F(ns_modelfile, attr_first), F(ns_modelfile, tokens);
    F(ns_modelfile, n_combos), F(ns_modelfile, combo_ids), F(ns_modelfile, combo_count);
    F(ns_modelfile, data_max_packets), F(ns_modelfile, trace), F(ns_modelfile, n_params);
    F(ns_modelfile, weights), F(ns_modelfile, p), F(ns_modelfile, has_state), F(ns_modelfile, train_w);
    F(ns_modelfile, adam_m), F(ns_modelfile, adam_v), F(ns_modelfile, st), F(ns_modelfile, provenance);
    SZ(ns_sampler);
    F(ns_sampler, kind), F(ns_sampler, steps), F(ns_sampler, eta);
    SZ(ns_gen_fix);
    F(ns_gen_fix, n), F(ns_gen_fix, col);
    SZ(ns_gen_opts);
    F(ns_gen_opts, sampler), F(ns_gen_opts, guidance), F(ns_gen_opts, timing_guidance);
    F(ns_gen_opts, guided_steps), F(ns_gen_opts, seed), F(ns_gen_opts, batch), F(ns_gen_opts, length);
    F(ns_gen_opts, length_guidance), F(ns_gen_opts, fix), F(ns_gen_opts, controlnet), F(ns_gen_opts, control);
    F(ns_gen_opts, control_scale), F(ns_gen_opts, control_hard), F(ns_gen_opts, progress);
    F(ns_gen_opts, progress_ctx);
    SZ(ns_gen_flows);
    F(ns_gen_flows, n_attrs), F(ns_gen_flows, n_flows), F(ns_gen_flows, n_rows), F(ns_gen_flows, len);
    F(ns_gen_flows, first), F(ns_gen_flows, labels), F(ns_gen_flows, rows), F(ns_gen_flows, dir);
    F(ns_gen_flows, iat_ns), F(ns_gen_flows, cap_flows_), F(ns_gen_flows, cap_rows_);
    SZ(ns_gen_request);
    F(ns_gen_request, ids), F(ns_gen_request, labels), F(ns_gen_request, n), F(ns_gen_request, n_caps);
    F(ns_gen_request, caps), F(ns_gen_request, name), F(ns_gen_request, svc), F(ns_gen_request, span_ns),
        F(ns_gen_request, end_ns);
    SZ(ns_gen_plan);
    F(ns_gen_plan, n_attrs), F(ns_gen_plan, n), F(ns_gen_plan, req);
    SZ(ns_repair_plan);
    F(ns_repair_plan, start_ns), F(ns_repair_plan, client), F(ns_repair_plan, server);
    F(ns_repair_plan, client_port), F(ns_repair_plan, ttl), F(ns_repair_plan, ipid), F(ns_repair_plan, ipid_first);
    F(ns_repair_plan, ts_first), F(ns_repair_plan, ts_hz), F(ns_repair_plan, close);
    F(ns_repair_plan, synack_ws), F(ns_repair_plan, synack_win), F(ns_repair_plan, rst_ts),
    F(ns_repair_plan, close_side), F(ns_repair_plan, close_shape), F(ns_repair_plan, hs_us);
    F(ns_repair_plan, synack_ts), F(ns_repair_plan, client_zero), F(ns_repair_plan, group), F(ns_repair_plan, turn_map),
        F(ns_repair_plan, methods), F(ns_repair_plan, gateway), F(ns_repair_plan, link),
        F(ns_repair_plan, lens), F(ns_repair_plan, server_port), F(ns_repair_plan, cut_ns),
        F(ns_repair_plan, pairs), F(ns_repair_plan, pair_dir), F(ns_repair_plan, pay_map), F(ns_repair_plan, pay_bare),
        F(ns_repair_plan, tail_scale), F(ns_repair_plan, wins);
    SZ(ns_repair_opts);
    F(ns_repair_opts, client_net), F(ns_repair_opts, server_net), F(ns_repair_opts, client_prefix);
    F(ns_repair_opts, server_prefix), F(ns_repair_opts, start_ns), F(ns_repair_opts, flow_gap_ns);
    F(ns_repair_opts, payload), F(ns_repair_opts, linktype), F(ns_repair_opts, mtu), F(ns_repair_opts, seed);
    F(ns_repair_opts, plan), F(ns_repair_opts, n_plan), F(ns_repair_opts, net6), F(ns_repair_opts, prefix6);
    F(ns_repair_opts, window);
    SZ(ns_tmodel_capture);
    F(ns_tmodel_capture, first), F(ns_tmodel_capture, n), F(ns_tmodel_capture, key);
    F(ns_tmodel_capture, span_ns), F(ns_tmodel_capture, end_ns);
    SZ(ns_eval_inputs);
    F(ns_eval_inputs, real), F(ns_eval_inputs, real_test), F(ns_eval_inputs, synth), F(ns_eval_inputs, real_name);
    F(ns_eval_inputs, real_test_name), F(ns_eval_inputs, synth_name);
    SZ(ns_eval_opts);
    F(ns_eval_opts, labels), F(ns_eval_opts, packets), F(ns_eval_opts, trees), F(ns_eval_opts, seed);
    F(ns_eval_opts, threads), F(ns_eval_opts, netflow), F(ns_eval_opts, netflow_packets), F(ns_eval_opts, progress);
    F(ns_eval_opts, progress_ctx);
    SZ(ns_eval_report);
    F(ns_eval_report, opts), F(ns_eval_report, n_levels), F(ns_eval_report, n_results), F(ns_eval_report, levels);
    F(ns_eval_report, results), F(ns_eval_report, joint_accuracy), F(ns_eval_report, seconds);
#undef SZ
#undef F
    assert_int_equal(fclose(fp), 0);
    run("\"$PY\" \"$CHECK\" layout '%s'", path);
    /* and its constants are the headers' */
    run("\"$PY\" -c 'import netsynth; assert netsynth.WIDTH == %d and netsynth.NETFLOW_DIM == %d and "
        "netsynth.version() == \"%s\"'",
        NS_NP_MODEL_WIDTH, NS_FEATURES_NETFLOW_DIM, ns_version());
}

/* The dataset's arrays, read through C, against load_dataset's. */
static void test_dataset_arrays_match_c(void **state)
{
    (void)state;
    require_python();
    ns_dataset ds;
    assert_int_equal(ns_dataset_load(&ds, py.ds), NS_OK);
    assert_true(ds.n_flows > 10);
    int8_t *rows = malloc(ds.n_packets * NS_NP_MODEL_WIDTH + 1);
    size_t dim = ns_features_nprint_dim(16);
    int8_t *feat = malloc(ds.n_flows * dim);
    assert_true(rows && feat);
    for (uint64_t k = 0; k < ds.n_packets; k++) ns_dataset_row(&ds, k, rows + k * NS_NP_MODEL_WIDTH);
    assert_int_equal(ns_features_nprint(&ds, NULL, ds.n_flows, 16, feat), NS_OK);
    assert_int_equal(tu_write_file(tu_path(py.dir, "rows.bin"), rows, ds.n_packets * NS_NP_MODEL_WIDTH), 0);
    assert_int_equal(tu_write_file(tu_path(py.dir, "features.bin"), feat, ds.n_flows * dim), 0);
    assert_int_equal(tu_write_file(tu_path(py.dir, "iat.bin"), ds.iat_ns, ds.n_packets * sizeof *ds.iat_ns), 0);
    assert_int_equal(tu_write_file(tu_path(py.dir, "dir.bin"), ds.dir, ds.n_packets), 0);
    FILE *fp = fopen(tu_path(py.dir, "flows.txt"), "w");
    assert_non_null(fp);
    fprintf(fp, "%llu %llu", (unsigned long long)ds.n_flows, (unsigned long long)ds.n_packets);
    for (uint32_t a = 0; a < ds.n_attrs; a++) fprintf(fp, "%s%s", a ? "," : " ", ds.attr_names[a]);
    fputc('\n', fp);
    for (uint64_t i = 0; i < ds.n_flows; i++) {
        const ns_ds_flow *f = &ds.flows[i];
        fprintf(fp, "%llu %u %lld %u", (unsigned long long)f->first, f->n_packets, (long long)f->start_ns,
                f->server_port);
        for (uint32_t a = 0; a < ds.n_attrs; a++) {
            int32_t t = ds.labels[i * ds.n_attrs + a];
            fprintf(fp, " %s", t < 0 ? "-" : strchr(ds.tokens[t], '=') + 1);
        }
        fputc('\n', fp);
    }
    assert_int_equal(fclose(fp), 0);
    free(rows), free(feat);
    ns_dataset_free(&ds);
    run("\"$PY\" \"$CHECK\" dataset '%s' \"$W\"", py.ds);
}

/* Generated through Python: the very files `netsynth generate` writes. */
static void test_generate_matches_cli(void **state)
{
    (void)state;
    require_python();
    run("\"$PY\" \"$CHECK\" generate '%s' '%s' \"$W\"", py.model, py.ds);
    const char *ext[] = {"pcap", "pcapng", "csv", "ds"};
    for (size_t i = 0; i < 4; i++)
        run("\"$NS\" generate --model '%s' --prompt app=web -n 10 --seed 3 -q -o \"$W/cli.%s\" && "
            "cmp \"$W/cli.%s\" \"$W/py.%s\"",
            py.model, ext[i], ext[i], ext[i]);
    run("\"$NS\" generate --model '%s' --per-class 2 --label app --seed 5 -q -o \"$W/cli-class\" && "
        "cmp \"$W/cli-class/synthetic.ds\" \"$W/py-class.ds\"",
        py.model);
    /* the pcaps are ones tcpdump reads */
    if (tu_have_program("tcpdump"))
        run("tcpdump -nr \"$W/py.pcap\" >/dev/null && tcpdump -nr \"$W/py-class.pcap\" >/dev/null");
}

static void test_errors_carry_the_library_message(void **state)
{
    (void)state;
    require_python();
    run("\"$PY\" \"$CHECK\" errors '%s' '%s'", py.model, py.ds);
    /* a wrong NETSYNTH_LIB is an ImportError that names it */
    run("NETSYNTH_LIB=\"$W/no-such-lib.so\" \"$PY\" -c 'import netsynth' 2>&1 | grep -q 'no-such-lib.so'");
}

static void test_evaluate_matches_cli(void **state)
{
    (void)state;
    require_python();
    run("\"$NS\" generate --model '%s' --like '%s' --seed 2 -q -o \"$W/like\" && "
        "\"$NS\" eval --real '%s' --synth \"$W/like/synthetic.ds\" --label app --packets 8 --trees 10 --no-netflow -q "
        "--json \"$W/eval.json\" && \"$PY\" \"$CHECK\" evaluate '%s' \"$W/like/synthetic.ds\" \"$W/eval.json\"",
        py.model, py.ds, py.ds, py.ds);
}

/* README.md's Python example, extracted and run as written in a folder
 * whose demo-out/ holds the tiny model and the small dataset. */
static void test_readme_example_runs(void **state)
{
    (void)state;
    require_python();
    if (tu_system("'%s' -c 'import sklearn' >/dev/null 2>&1", py.python) != 0) {
        print_message("SKIP %s: no scikit-learn for %s (apt-get install python3-sklearn)\n", __func__, py.python);
        skip();
    }
    run("awk '/^```python$/ {f = 1; n++; next} f && /^```$/ {f = 0} f && n == 1' README.md > \"$W/example.py\" && "
        "test $(wc -l < \"$W/example.py\") -ge 5 && test $(wc -l < \"$W/example.py\") -le 12");
    run("mkdir -p \"$W/ex/demo-out\" && cp '%s' \"$W/ex/demo-out/model.nsm\" && cp '%s' \"$W/ex/demo-out/train.ds\" "
        "&& cp '%s' \"$W/ex/demo-out/test.ds\" && cd \"$W/ex\" && \"$PY\" \"$W/example.py\" > \"$W/example.out\" && "
        "cat \"$W/example.out\" && grep -q 'accuracy' \"$W/example.out\"",
        py.model, py.ds, py.ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_struct_layouts_agree),
        cmocka_unit_test(test_dataset_arrays_match_c),
        cmocka_unit_test(test_generate_matches_cli),
        cmocka_unit_test(test_errors_carry_the_library_message),
        cmocka_unit_test(test_evaluate_matches_cli),
        cmocka_unit_test(test_readme_example_runs),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    tu_cleanup();
    return rc;
}
