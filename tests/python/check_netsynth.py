"""The Python side of tests/test_python.c: each command checks the netsynth
module against what the C side wrote (the library through C, or the CLI),
prints what differs and exits 1 on the first mismatch.

    check_netsynth.py layout LAYOUT.txt
    check_netsynth.py dataset DS DIR        DIR: C's rows.bin, features.bin, flows.txt, iat.bin, dir.bin
    check_netsynth.py generate MODEL DS DIR writes DIR/py.{pcap,pcapng,csv,ds}, DIR/py-class.ds
    check_netsynth.py errors MODEL DS
    check_netsynth.py evaluate DS SYNTH OUT.json
"""
import os
import sys

import numpy as np

import netsynth


def fail(msg):
    print("check_netsynth: " + msg)
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


def layout(path):
    import ctypes
    c = {}
    with open(path) as f:
        for line in f:
            name, off, size = line.split()
            c[name] = (int(off), int(size))
    checked = 0
    for sname, cls in netsynth.STRUCTS.items():
        expect(sname in c, "%s: the C side did not list it" % sname)
        py = (ctypes.sizeof(cls), ctypes.alignment(cls))
        expect(py == c[sname], "%s: C size %d align %d, Python %d %d" % ((sname,) + c[sname] + py))
        fields = [f[0] for f in cls._fields_]
        for fname in fields:
            key = sname + "." + fname
            expect(key in c, "%s: not listed by the C side (a field C does not have?)" % key)
            d = getattr(cls, fname)
            expect((d.offset, d.size) == c[key], "%s: C offset %d size %d, Python %d %d"
                   % ((key,) + c[key] + (d.offset, d.size)))
            checked += 1
        # and every field C has is mirrored
        for key in c:
            if key.startswith(sname + "."):
                expect(key[len(sname) + 1:] in fields, "%s: not in the Python struct" % key)
    print("layout: %d structs, %d fields agree" % (len(netsynth.STRUCTS), checked))


def dataset(path, d):
    ds = netsynth.load_dataset(path)
    rows = np.fromfile(os.path.join(d, "rows.bin"), np.int8)
    expect(ds.bits.shape == (ds.n_packets, netsynth.WIDTH), "bits shape %s" % (ds.bits.shape,))
    expect(rows.size == ds.bits.size, "C wrote %d values, Python has %d" % (rows.size, ds.bits.size))
    expect(np.array_equal(rows.reshape(ds.bits.shape), ds.bits), "bits differ from ns_dataset_row's")
    expect(set(np.unique(ds.bits)) <= {-1, 0, 1}, "bits outside -1, 0, 1")
    expect(np.array_equal(np.fromfile(os.path.join(d, "iat.bin"), np.int64), ds.iat_ns), "iat_ns differ")
    expect(np.array_equal(np.fromfile(os.path.join(d, "dir.bin"), np.uint8), ds.dir), "dir differ")
    feat = np.fromfile(os.path.join(d, "features.bin"), np.int8).reshape(len(ds), -1)
    expect(np.array_equal(feat, ds.features(16)), "nPrint features differ from ns_features_nprint's")
    with open(os.path.join(d, "flows.txt")) as f:
        lines = f.read().splitlines()
    expect(lines[0] == "%d %d %s" % (len(ds), ds.n_packets, ",".join(ds.attrs)),
           "header: C '%s', Python '%d %d %s'" % (lines[0], len(ds), ds.n_packets, ",".join(ds.attrs)))
    for i, line in enumerate(lines[1:]):
        first, n, start, port, labels = line.split(" ", 4)
        py = "%d %d %d %d %s" % (ds.first[i], ds.lengths[i], ds.flows["start_ns"][i], ds.flows["server_port"][i],
                                 " ".join(ds.label(a)[i] or "-" for a in ds.attrs))
        expect(line == py, "flow %d: C '%s', Python '%s'" % (i, line, py))
    expect(len(lines) - 1 == len(ds), "C listed %d flows" % (len(lines) - 1))
    # a flow and the padded view agree with the flat arrays
    p = ds.padded(4)
    expect(p.shape == (len(ds), 4, netsynth.WIDTH), "padded shape %s" % (p.shape,))
    for i in range(len(ds)):
        n = min(int(ds.lengths[i]), 4)
        expect(np.array_equal(p[i, :n], ds.flow(i)[:n]) and (p[i, n:] == -1).all(), "padded flow %d" % i)
    expect(np.array_equal(ds.flow_of_packet()[ds.first], np.arange(len(ds))), "flow_of_packet")
    nf = ds.features(16, "netflow")
    expect(nf.shape == (len(ds), len(netsynth.netflow_names())) and np.isfinite(nf).all(), "netflow features")
    print("dataset: %d flows, %d packets agree with the C side" % (len(ds), ds.n_packets))


def generate(model_path, ds_path, d):
    m = netsynth.Model(model_path)
    netsynth.set_threads(1)
    one = m.generate(prompt="app=web", n=10, seed=3)
    netsynth.set_threads(2)
    g = m.generate(prompt="app=web", n=10, seed=3)
    expect(np.array_equal(one.bits, g.bits) and np.array_equal(one.iat_ns, g.iat_ns), "1 and 2 threads differ")
    expect(len(g) == 10, "%d flows, not 10" % len(g))
    expect(g.bits.shape == (int(g.lengths.sum()), netsynth.WIDTH), "bits shape %s" % (g.bits.shape,))
    expect((g.label("app") == "web").all(), "labels %s" % g.label("app"))
    # whole flows: a length past the window is generated window by window
    expect((g.lengths >= 1).all(), "lengths %s" % g.lengths)
    for ext in ("pcap", "pcapng", "csv", "ds"):
        g.save(os.path.join(d, "py." + ext))
    # the arrays are what the library writes: read back through it
    back = g.dataset()
    expect(np.array_equal(back.bits, g.bits) and np.array_equal(back.dir, g.dir) and
           np.array_equal(back.lengths, g.lengths) and np.array_equal(back.iat_ns, g.iat_ns),
           "the flows written and read back differ from the arrays")
    expect(g.features(8).shape == (10, 8 * netsynth.WIDTH), "features shape")
    c = m.generate(per_class=2, label="app", seed=5)
    expect(len(c) == 2 * len([t for t in m.trained_tokens if t.startswith("app=")]), "per class: %d flows" % len(c))
    c.save(os.path.join(d, "py-class.ds"))
    # one capture of every class's flows, laid out by the trace model's plan per request
    expect(c.save(os.path.join(d, "py-class.pcap")) >= int(c.lengths.sum()) // 2, "per class: few packets written")
    like = m.generate(like=ds_path, seed=1)
    real = netsynth.load_dataset(ds_path)
    expect(len(like) == len(real), "like: %d flows for %d" % (len(like), len(real)))
    expect(sorted(like.label("app")) == sorted(real.label("app")), "like: other classes than the dataset's")
    print("generate: prompt, per class and like")


def errors(model_path, ds_path):
    try:
        netsynth.load_dataset(model_path)
        fail("a model file loaded as a dataset")
    except netsynth.NetsynthError as e:
        expect(e.code == -2 and e.name == "NS_EFORMAT" and model_path in str(e), "wrong error: %s %s" % (e.name, e))
    try:
        netsynth.Model(ds_path)
        fail("a dataset loaded as a model")
    except netsynth.NetsynthError as e:
        expect(ds_path in str(e), "message without the path: %s" % e)
    m = netsynth.Model(model_path)
    for kw, word in ((dict(prompt="app=no-such-app"), "app=no-such-app"),
                     (dict(fix="no_such_field=1"), "no_such_field"),
                     (dict(per_class=1, label="no_such_attr"), "no_such_attr")):
        try:
            m.generate(n=1, **kw)
            fail("generate(%s) did not fail" % kw)
        except netsynth.NetsynthError as e:
            expect(e.code == -6 and word in str(e), "generate(%s): %s %s" % (kw, e.name, e))
    g = m.generate(prompt="", n=1)
    try:
        g.save("/nonexistent-dir/x.pcap")
        fail("writing into a missing folder did not fail")
    except netsynth.NetsynthError as e:
        expect("/nonexistent-dir/x.pcap" in str(e), "message: %s" % e)
    try:
        g.save("x.unknown")
        fail("an unknown extension did not fail")
    except netsynth.NetsynthError as e:
        expect(e.code == -6, "code %d" % e.code)
    for kw in (dict(n=0), dict(per_class=1, like=ds_path), dict(label="app")):
        try:
            m.generate(**kw)
            fail("generate(%s) did not fail" % kw)
        except netsynth.NetsynthError as e:
            expect(e.code == -6, "generate(%s): %s" % (kw, e))
    try:
        g.save("x.csv", per_flow=True)
        fail("per_flow csv did not fail")
    except netsynth.NetsynthError as e:
        expect(e.code == -6, "per_flow csv: %s" % e)
    ds = netsynth.load_dataset(ds_path)
    try:
        ds.features(4, flows=[len(ds)])
        fail("features of a flow past the end did not fail")
    except netsynth.NetsynthError as e:
        expect(e.code == -6, "features: %s" % e)
    try:
        ds.features(4, kind="pixels")
        fail("an unknown feature kind did not fail")
    except netsynth.NetsynthError as e:
        expect(e.code == -6, "features: %s" % e)
    try:
        netsynth.load_dataset("/nonexistent.ds")
        fail("a missing file loaded")
    except netsynth.NetsynthError as e:
        expect(e.code == -1 and "/nonexistent.ds" in str(e), "missing file: %s %s" % (e.name, e))
    print("errors: NetsynthError with ns_errmsg() for each")


def evaluate(ds_path, synth_path, json_path):
    r = netsynth.evaluate(ds_path, synth_path, labels="app", packets=8, trees=10, netflow=False)
    c = netsynth.load_eval(json_path)

    def strip(x):  # timings differ from run to run
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if not k.endswith("seconds") and not k.endswith("_s")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x
    # the CLI's report adds distances, memorisation, ... to the classifier's members
    r, c = strip(r), strip(c)
    for k in r:
        expect(k in c and r[k] == c[k], "evaluate()['%s'] = %s, netsynth eval --json has %s" % (k, r[k], c.get(k)))
    expect(len(r) >= 5, "evaluate() gave only %s" % list(r))
    runs = {x["run"] for x in r["levels"][0]["results"]}
    expect(r["levels"][0]["label"] == "app" and runs == {"real", "TSTR", "TRTS"},
           "levels: %s" % r["levels"])
    print("evaluate: as netsynth eval --json")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"layout": layout, "dataset": dataset, "generate": generate, "errors": errors, "evaluate": evaluate}[cmd](*args)
