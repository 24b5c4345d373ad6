#!/usr/bin/env python3
"""field_values.py: how often a generated header field holds a value that
the class's real flows never have (BENCHMARK.md, "Field values the class
never has (session 8)").

usage: field_values.py [--label L] [--snap FIELDS TEST.ds | --zeros] REAL.ds FIELD[,FIELD...] DS [DS ...]

For each FIELD (an nPrint field name: ipv4_tl, ipv4_ttl, tcp_wsize, udp_len,
...) and each DS (real test rows, generated rows before repair, or a
dataset built from written pcaps), the share of the first 16 rows of every
flow whose value of FIELD none of REAL's rows of the flow's class (label
L, default device) has, in all and for the twelve largest classes. The
real test split gives the floor: a device's stack writes few values.

The model writes a field bit by bit, so a value between two of the class's
(60 and 64: 0b0111100 and 0b1000000) can come out as neither. --snap asks
whether that matters to the nPrint forest: each unseen value of FIELDS in
the first DS is moved to the class's nearest real value (Hamming distance,
the commoner on ties), and scikit-learn forests (100 trees, seed 0, first
16 packets, eval's features) give TSTR against TEST.ds and TRTS against
REAL.ds, before and after.

--zeros prints instead, per class and transport (TCP, UDP), the share of
flows whose first packet has FIELD 0 in REAL and in each DS (ipv4_id: a
stack that zeroes its IDs; BENCHMARK.md "Zero IP IDs by flow (session 8)").

Reads datasets through the Python module (python/netsynth; numpy and
scikit-learn: /usr/bin/python3 on the project machine).
"""
import collections
import ctypes
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import numpy as np  # noqa: E402

import netsynth as ns  # noqa: E402

PACKETS = 16
# NS_NP_MODEL_LAYERS: IPv4, IPv6, TCP, UDP, ICMP, payload (nprint.h's layer bits 1..6).
MODEL_LAYERS = 2 | 4 | 8 | 16 | 32 | 64


class Field(ctypes.Structure):   # ns_nprint_field
    _fields_ = [("name", ctypes.c_char_p), ("layer", ctypes.c_uint), ("bit", ctypes.c_int), ("width", ctypes.c_int)]


def model_fields():
    """[(name, first column in a model row, width)] of every header field in the model's rows."""
    lib = ns._lib
    lib.ns_nprint_fields.restype = ctypes.POINTER(Field)
    lib.ns_nprint_fields.argtypes = [ctypes.POINTER(ctypes.c_size_t)]
    lib.ns_nprint_field_col.argtypes = [ctypes.c_uint, ctypes.c_int]
    n = ctypes.c_size_t()
    table = lib.ns_nprint_fields(ctypes.byref(n))
    out = []
    for i in range(n.value):
        name = table[i].name.decode()
        col = lib.ns_nprint_field_col(MODEL_LAYERS, i)
        if col >= 0 and name != "payload_bit":
            out.append((name, col, table[i].width))
    return out


def field_column(name):
    """(first column in a model row, width) of the nPrint field `name`."""
    for field, col, width in model_fields():
        if field == name:
            return col, width
    sys.exit("field_values.py: '%s' is no nPrint header field of the model's rows" % name)


def row_values(bits, col, width):
    """Values of a field in rows (n, WIDTH) int8: -1 where any bit is absent or blanked."""
    b = bits[..., col:col + width].astype(np.int64)
    weights = 1 << np.arange(width - 1, -1, -1)
    return np.where((b < 0).any(-1), -1, (b * weights).sum(-1))


def first_rows(ds):
    """Mask of the rows among their flow's first PACKETS, and each row's flow."""
    flow = ds.flow_of_packet()
    return np.arange(len(flow)) - ds.first[flow] < PACKETS, flow


def class_values(real, col, width, label):
    keep, flow = first_rows(real)
    values, classes = row_values(real.bits, col, width)[keep], real.label(label)[flow[keep]]
    seen = collections.defaultdict(collections.Counter)
    for v, c in zip(values.tolist(), classes.tolist()):
        seen[c][v] += 1
    return seen


def unseen_shares(real, path, col, width, label, seen):
    ds = ns.load_dataset(path)
    keep, flow = first_rows(ds)
    values, classes = row_values(ds.bits, col, width)[keep], ds.label(label)[flow[keep]]
    total, unseen = collections.Counter(classes.tolist()), collections.Counter()
    for v, c in zip(values.tolist(), classes.tolist()):
        unseen[c] += v not in seen[c]
    big = sorted(total, key=lambda c: -total[c])[:12]
    return sum(unseen.values()) / max(1, sum(total.values())), [(c, unseen[c] / total[c]) for c in big]


def snap(features, classes, fields, seen_by_field):
    """A copy of nPrint features (n, PACKETS * WIDTH) with each unseen value moved to the class's nearest."""
    out = features.copy().reshape(len(features), PACKETS, -1)
    moved = 0
    for name, (col, width) in fields:
        values = row_values(out, col, width)
        for c in np.unique(classes):
            counts = seen_by_field[name][c]
            vocab = np.array([v for v in counts if v >= 0])
            if not vocab.size:
                continue
            vbits = (vocab[:, None] >> np.arange(width - 1, -1, -1)) & 1
            commoner = 0.01 * np.log([counts[v] for v in vocab])
            for i in np.where(classes == c)[0]:
                for p in range(PACKETS):
                    v = values[i, p]
                    if v < 0 or v in counts:
                        continue
                    best = vocab[np.argmin((vbits != out[i, p, col:col + width]).sum(1) - commoner)]
                    out[i, p, col:col + width] = (best >> np.arange(width - 1, -1, -1)) & 1
                    moved += 1
    return out.reshape(len(features), -1), moved


def zero_shares(paths, col, width, label):
    """{(class, transport): [(share of flows whose first packet's field is 0, flows) per path]}."""
    pcol, pwidth = field_column("ipv4_proto")
    out = collections.defaultdict(lambda: [None] * len(paths))
    for k, path in enumerate(paths):
        ds = ns.load_dataset(path)
        first = ds.bits[ds.first]
        values, proto, classes = row_values(first, col, width), row_values(first, pcol, pwidth), ds.label(label)
        for c in np.unique(classes):
            for number, name in ((6, "tcp"), (17, "udp")):
                m = (classes == c) & (proto == number)
                if m.sum():
                    out[(c, name)][k] = ((values[m] == 0).mean(), int(m.sum()))
    return out


def main(argv):
    label, snap_test, snap_fields, zeros = "device", None, None, False
    while argv and argv[0].startswith("--"):
        if argv[0] == "--label" and len(argv) > 1:
            label, argv = argv[1], argv[2:]
        elif argv[0] == "--zeros":
            zeros, argv = True, argv[1:]
        elif argv[0] == "--snap" and len(argv) > 2:
            snap_fields, snap_test, argv = argv[1].split(","), argv[2], argv[3:]
        else:
            sys.exit(__doc__)
    if len(argv) < 3:
        sys.exit(__doc__)
    if zeros:
        for name in argv[1].split(","):
            col, width = field_column(name)
            for (c, transport), shares in sorted(zero_shares([argv[0]] + argv[2:], col, width, label).items()):
                print("%s %-22s %s  %s" % (name, c, transport, "  ".join("%.2f (%d)" % s if s else "-" for s in shares)))
        return
    real = ns.load_dataset(argv[0])
    fields = [(f, field_column(f)) for f in argv[1].split(",")]
    seen_by_field = {}
    for name, (col, width) in fields:
        seen_by_field[name] = seen = class_values(real, col, width, label)
        for path in argv[2:]:
            share, per_class = unseen_shares(real, path, col, width, label, seen)
            print("%s %s: unseen %.3f  %s" % (path, name, share,
                                              " ".join("%s %.2f" % (c, s) for c, s in per_class)))
    if snap_fields:
        from sklearn.ensemble import RandomForestClassifier
        synth, test = ns.load_dataset(argv[2]), ns.load_dataset(snap_test)
        xr, xs, xt = real.features(PACKETS), synth.features(PACKETS), test.features(PACKETS)
        yr, ys, yt = real.label(label), synth.label(label), test.label(label)
        chosen = [(f, c) for f, c in fields if f in snap_fields]
        snapped, moved = snap(xs, ys, chosen, seen_by_field)
        print("snapped %d values of %s" % (moved, ",".join(snap_fields)))

        def accuracy(x_train, y_train, x_test, y_test):
            forest = RandomForestClassifier(100, random_state=0, n_jobs=2).fit(x_train, y_train)
            return (forest.predict(x_test) == y_test).mean()

        for name, x in (("as generated", xs), ("snapped", snapped)):
            print("%s: %s TSTR %.3f TRTS %.3f" % (name, label, accuracy(x, ys, xt, yt), accuracy(xr, yr, x, ys)))


if __name__ == "__main__":
    main(sys.argv[1:])
