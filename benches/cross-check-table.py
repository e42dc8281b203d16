"""The agreement table of benches/cross-check.sh, from its output directory."""
import csv
import glob
import json
import os
import sys

out = sys.argv[1]
METRICS = [
    ("p50", lambda a: a["latency_us"]["p50"], "µs"),
    ("p99", lambda a: a["latency_us"]["p99"], "µs"),
    ("p99.9", lambda a: a["latency_us"]["p999"], "µs"),
    ("availability", lambda a: 100 * (a["availability"] or 0), "%"),
    ("hit ratio", lambda a: 100 * (a["hit_ratio"] or 0), "%"),
    ("stale reads", lambda a: a["stale_reads"], ""),
    ("db reads", lambda a: a.get("db_reads"), ""),
]
# Tolerances of issue 10: latency 3% or the spread; availability 0.05
# points; hit ratio 0.5 points; stale reads within the spread.
TOL = {"p50": (0.03, 0), "p99": (0.03, 0), "p99.9": (0.03, 0),
       "availability": (0, 0.05), "hit ratio": (0, 0.5), "stale reads": (0, 0),
       "db reads": (0, 0)}


def db_reads(seed_dir):
    """Database reads of the whole run (None without a database), from the
    per-window rate in timeline.csv."""
    try:
        rows = list(csv.DictReader(open(os.path.join(seed_dir, "timeline.csv"))))
    except FileNotFoundError:
        return None
    rows = [r for r in rows if r["op"] == "all"]
    if not rows or "db.reads_per_s" not in rows[0]:
        return None
    return sum(float(r["db.reads_per_s"]) * (float(r["end_s"]) - float(r["start_s"]))
               for r in rows)


def runs(d):
    vals = []
    for s in sorted(glob.glob(os.path.join(d, "seed-*", "summary.json"))):
        a = json.load(open(s))["overall"]["all"]
        a["db_reads"] = db_reads(os.path.dirname(s))
        vals.append(a)
    return vals


def expects(d):
    try:
        v = json.load(open(os.path.join(d, "expect.json")))
    except FileNotFoundError:
        return "-"
    failed = [x["expectation"] for x in v if not x["pass"]]
    return "all %d hold" % len(v) if not failed else "FAIL: " + "; ".join(failed)


lessons = sorted({os.path.basename(p).rsplit("-", 1)[0]
                  for p in glob.glob(os.path.join(out, "*-madsim"))})
print("| lesson | metric | madsim mean (spread) | fast mean (spread) | allowed | agree |")
print("|---|---|---:|---:|---:|---|")
verdicts = []
for lesson in lessons:
    m = runs(os.path.join(out, lesson + "-madsim"))
    f = runs(os.path.join(out, lesson + "-fast"))
    if not m or not f:
        continue
    for name, get, unit in METRICS:
        mv = [get(a) for a in m]
        fv = [get(a) for a in f]
        if None in mv or None in fv:
            continue
        mm, fm = sum(mv) / len(mv), sum(fv) / len(fv)
        ms, fs = max(mv) - min(mv), max(fv) - min(fv)
        rel, ab = TOL[name]
        allowed = max(rel * mm, ab, ms, fs)
        ok = abs(mm - fm) <= allowed
        print("| %s | %s | %.4g%s (%.3g) | %.4g%s (%.3g) | ±%.3g | %s |" % (
            lesson, name, mm, unit, ms, fm, unit, fs, allowed, "yes" if ok else "**no**"))
    verdicts.append((lesson, expects(os.path.join(out, lesson + "-madsim-own")),
                     expects(os.path.join(out, lesson + "-fast-own"))))
print()
print("| lesson | [expect] at its seed, madsim | [expect] at its seed, fast |")
print("|---|---|---|")
for lesson, a, b in verdicts:
    print("| %s | %s | %s |" % (lesson, a, b))
