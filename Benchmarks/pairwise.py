#!/usr/bin/env python3
"""Pairwise precision and recall of identity resolution against a truth file (Tools/matchgen.py).

  python3 Benchmarks/pairwise.py truth.json crosswalks.json [matches.json]

Every registry person and every record without an identifier is a record; two records are a
predicted pair when they read as the same golden record (a crosswalk's subject; a registry
person's own), a true pair when the truth names the same person. Prints one JSON line.
"""
import json, sys
from collections import Counter

truth = json.load(open(sys.argv[1], encoding="utf-8"))
crosswalks = json.load(open(sys.argv[2], encoding="utf-8"))
predicted = {f"{c['source']}/{c['key']}": c["subject"].split("/", 1)[1] for c in crosswalks}
cells, by_pred, by_true = Counter(), Counter(), Counter()
for pid in truth["registry"]:
    cells[(pid, pid)] += 1; by_pred[pid] += 1; by_true[pid] += 1
missing = 0
for record, entity in truth["records"].items():
    p = predicted.get(record)
    if p is None:
        missing += 1
        p = "missing:" + record
    cells[(p, entity)] += 1; by_pred[p] += 1; by_true[entity] += 1
pairs = lambda c: sum(n * (n - 1) // 2 for n in c.values())
tp, pp, tt = pairs(cells), pairs(by_pred), pairs(by_true)
precision = tp / pp if pp else 1.0
recall = tp / tt if tt else 1.0
out = {"records": len(truth["records"]), "registry": len(truth["registry"]), "truePairs": tt, "predictedPairs": pp,
       "correctPairs": tp, "precision": round(precision, 5), "recall": round(recall, 5),
       "f1": round(2 * precision * recall / (precision + recall), 5) if precision + recall else 0.0, "unresolved": missing}
if len(sys.argv) > 3:
    out["reviewTasks"] = len(json.load(open(sys.argv[3], encoding="utf-8")))
print(json.dumps(out))
