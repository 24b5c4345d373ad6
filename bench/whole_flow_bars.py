"""whole_flow_bars.py REPORT.json: issue 15's three per-class bars from `netsynth eval --json`'s "whole_flows".

REPORT.json: `netsynth eval --real REAL.ds --real-test REAL.ds --synth SYNTH.ds --label device --no-netflow --no-trace
--no-compliance --no-applayer --trees 1 --packets 1 --json REPORT.json` (eval's whole-flow table compares --real with
--synth; give the real test dataset as --real to judge against the test captures; the forests are not used).
Per class: packets and bytes of the synthetic trace over the real one's, both per flow (the two sides hold
different numbers of flows: a like-for-like trace has the train side's), within 10% (bar "pk", "by");
packets per flow JSD over log2 bins <= 0.10 ("jsd"), with p50/p90/p99/max; the share of TCP flows that end with
FIN or RST within 5 points ("close"). Then how many classes meet each bar. BENCHMARK.md, "Whole flows on the
medium model (session 12)"."""
import json
import sys

w = json.load(open(sys.argv[1]))["whole_flows"]
print("%-20s %6s %6s %6s %6s %6s  %-17s %-17s %6s %6s  %s" % (
    w["label"], "flows", "synth", "pk", "by", "JSD", "real p50/90/99/max", "synth", "close", "synth", "bars missed"))
met = {"pk": 0, "by": 0, "jsd": 0, "close": 0}
n = {"pk": 0, "by": 0, "jsd": 0, "close": 0}
for c in w["classes"]:
    r, s = c["real"], c["synth"]
    if not r["flows"] or not s["flows"]:
        continue
    pk = (s["packets"] / s["flows"]) / (r["packets"] / r["flows"])
    by = (s["bytes"] / s["flows"]) / (r["bytes"] / r["flows"]) if r["bytes"] else float("nan")
    cr = 100.0 * (r["tcp_fin"] + r["tcp_rst"]) / r["tcp_flows"] if r["tcp_flows"] else None
    cs = 100.0 * (s["tcp_fin"] + s["tcp_rst"]) / s["tcp_flows"] if s["tcp_flows"] else None
    miss = []
    ok = {"pk": abs(pk - 1) <= 0.10, "by": abs(by - 1) <= 0.10, "jsd": c["packets_jsd"] <= 0.10,
          "close": None if cr is None or cs is None else abs(cs - cr) <= 5}
    for k, v in ok.items():
        if v is None:
            continue
        if c["class"] != "(all)":
            n[k] += 1
            met[k] += v
        if not v:
            miss.append(k)
    q = lambda x: "%d/%d/%d/%d" % (x["p50"], x["p90"], x["p99"], x["max"])
    print("%-20s %6d %6d %6.2f %6.2f %6.3f  %-17s %-17s %6s %6s  %s" % (
        c["class"], r["flows"], s["flows"], pk, by, c["packets_jsd"], q(r), q(s),
        "-" if cr is None else "%.1f" % cr, "-" if cs is None else "%.1f" % cs, " ".join(miss)))
print("classes meeting each bar: " + ", ".join("%s %d of %d" % (k, met[k], n[k]) for k in met))
