#!/usr/bin/env python3
"""field_vocab.py: how large a per-class vocabulary of whole field values
would have to be (the design question of "fields as categorical tokens",
BENCHMARK.md "Field vocabularies per class (session 10)").

usage: field_vocab.py [--label L] TRAIN.ds TEST.ds FIELD[,FIELD...]

For each FIELD (an nPrint field of the model's rows) over the first 16 rows
of every flow: the distinct values per class in TRAIN (median, max over
classes; absent counts as one value), and the share of TEST's rows whose
value is among its class's K most frequent TRAIN values, for K in 4 ... 256
(the share a softmax over a class's K commonest values could write). Fields
wider than 32 bits are named and skipped.

Reads datasets through the Python module (python/netsynth; numpy:
/usr/bin/python3 on the project machine).
"""
import sys

import numpy as np

from field_values import class_values, field_column, first_rows, row_values

import netsynth as ns

KS = (4, 16, 64, 256)


def main(argv):
    label = "device"
    if len(argv) > 1 and argv[1] == "--label":
        label, argv = argv[2], argv[:1] + argv[3:]
    if len(argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    train, test = ns.load_dataset(argv[1]), ns.load_dataset(argv[2])
    print("field            distinct per class (median / max)  " + "  ".join("top-%d" % k for k in KS))
    for name in argv[3].split(","):
        col, width = field_column(name)
        if width > 32:
            print("%-16s (%d bits: a value is not one token; options and payloads need their own vocabulary)" % (name, width))
            continue
        seen = class_values(train, col, width, label)
        sizes = sorted(len(c) for c in seen.values())
        keep, flow = first_rows(test)
        values, classes = row_values(test.bits, col, width)[keep], test.label(label)[flow[keep]]
        top = {c: [v for v, _ in counts.most_common(max(KS))] for c, counts in seen.items()}
        covered = []
        for k in KS:
            sets = {c: set(vs[:k]) for c, vs in top.items()}
            covered.append(np.mean([v in sets.get(c, ()) for v, c in zip(values.tolist(), classes.tolist())]))
        print("%-16s %6d / %-6d                    %s" % (name, sizes[len(sizes) // 2], sizes[-1],
                                                         "  ".join("%5.3f" % s for s in covered)))


if __name__ == "__main__":
    main(sys.argv)
