#!/usr/bin/env python3
"""Compares gameday's alert firing times with a real Prometheus's (ci/prometheus-e2e.sh).

gameday's side: results.json's `alerts[].firing` spans, in simulated seconds since
`started_at` (the wall-clock moment of simulated time 0), at the file's `time_scale`.
Prometheus's side: the raw samples of `ALERTS{alertname=..., alertstate="firing"}`, one
per evaluation while the alert fires, read with one instant query of a range selector
over the run; a gap of more than 1.5 evaluation intervals ends a firing episode, which
resolves one evaluation after its last sample.

Every firing episode (start and end) of every alert on either side is paired with the
nearest one of the same alert on the other side; each pair must agree within TOLERANCE
seconds (one scrape interval plus one evaluation interval); an episode with no partner
fails, unless it starts within TOLERANCE of the run's end (the other side may not have
evaluated it yet) or it is a near miss: it lasted at most TOLERANCE plus one evaluation
while the other side was pending (a fault that stops the scrapes just as `for` runs out
ends it on one side a moment before it fires, on the other a moment after). An alert
with no episode seen by both sides fails. Prints a table, writes comparison.json, exits 0 when all agree, 1
otherwise, 3 when Prometheus cannot be read.

Usage: compare.py RESULTS_JSON PROMETHEUS_URL OUT_JSON [--scrape-s 1] [--eval-s 1]
"""

import argparse
import datetime
import json
import re
import sys
import urllib.parse
import urllib.request

PAIR_RADIUS_S = 10.0  # farther apart than this, two episodes are not the same one


def parse_rfc3339(text):
    """Seconds since the epoch of an RFC 3339 time with up to nanosecond fractions."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    whole = datetime.datetime.fromisoformat(m.group(1) + zone).timestamp()
    return whole + (float("0." + m.group(2)) if m.group(2) else 0.0)


def gameday_episodes(results, state):
    """{alert: [(start, end or None)]} in wall-clock seconds of `state` (firing, pending)."""
    zero = parse_rfc3339(results["started_at"])
    scale = results["time_scale"]
    out = {}
    for a in results["alerts"]:
        spans = []
        for s in a[state]:
            end = None if s.get("end_s") is None else zero + s["end_s"] / scale
            spans.append((zero + s["start_s"] / scale, end))
        out[a["name"]] = spans
    return out


def query(base, promql, at):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{promql}: {body}")
    return body["data"]["result"]


def prometheus_episodes(base, names, start, end, eval_s, state):
    """{alert: [(start, end)]}: `state` (firing, pending) episodes in ALERTS within [start, end]."""
    window = int(end - start) + 5
    out = {}
    for name in names:
        stamps = set()
        sel = f'ALERTS{{alertname="{name}",alertstate="{state}"}}[{window}s]'
        for series in query(base, sel, end + 1):
            stamps.update(float(t) for t, _ in series["values"])
        stamps = sorted(t for t in stamps if start <= t <= end + 1)
        spans = []
        for t in stamps:
            if spans and t - spans[-1][1] <= 1.5 * eval_s:
                spans[-1][1] = t
            else:
                spans.append([t, t])
        # Resolved at the evaluation after the last firing one.
        out[name] = [(a, b + eval_s) for a, b in spans]
    return out


def pair(ours, theirs):
    """Pairs episodes by start, nearest first; returns (pairs, unpaired ours, unpaired theirs)."""
    left, right = list(ours), list(theirs)
    cands = sorted(
        (abs(g[0] - p[0]), i, j) for i, g in enumerate(left) for j, p in enumerate(right) if abs(g[0] - p[0]) <= PAIR_RADIUS_S
    )
    used_i, used_j, pairs = set(), set(), []
    for _, i, j in cands:
        if i not in used_i and j not in used_j:
            used_i.add(i), used_j.add(j)
            pairs.append((left[i], right[j]))
    pairs.sort()
    return pairs, [g for i, g in enumerate(left) if i not in used_i], [p for j, p in enumerate(right) if j not in used_j]


def near_miss(e, pending, tol, eval_s):
    """An episode one side fired for at most tol + one evaluation while the other was
    pending within tol before it: both were about to fire when the fault ended it."""
    short = e[1] is not None and e[1] - e[0] <= tol + eval_s
    return short and any(p[0] <= e[0] and (p[1] is None or p[1] >= e[0] - tol) for p in pending)


def compare(sides, zero, end, tol, eval_s):
    """sides: {"gameday"|"prometheus": {"firing"|"pending": {alert: [(start, end)]}}}."""
    gd, prom = sides["gameday"]["firing"], sides["prometheus"]["firing"]
    rows, ok = [], True
    rel = lambda t: None if t is None else round(t - zero, 3)
    for name in gd:
        pairs, only_g, only_p = pair(gd[name], prom.get(name, []))
        if not pairs:
            ok = False
            rows.append(row(name, None, None, None, None, None, None, "no episode seen by both"))
        for g, p in pairs:
            d_start = p[0] - g[0]
            # A span still firing at the run's end has no end on gameday's side.
            d_end = None if g[1] is None or p[1] > end + tol else p[1] - g[1]
            good = abs(d_start) <= tol and (d_end is None or abs(d_end) <= tol)
            ok &= good
            rows.append(row(name, rel(g[0]), rel(g[1]), rel(p[0]), rel(p[1]), d_start, d_end, "ok" if good else "DISAGREE"))
        for side, other, lone in (("gameday", "prometheus", only_g), ("prometheus", "gameday", only_p)):
            for e in lone:
                if e[0] >= end - tol:
                    note = "at the run end: ignored"
                elif near_miss(e, sides[other]["pending"].get(name, []), tol, eval_s):
                    note = f"{other} pending: ignored"
                else:
                    note, ok = "", False
                g, p = (e, (None, None)) if side == "gameday" else ((None, None), e)
                verdict = f"{side} only" + (f" ({note})" if note else "")
                rows.append(row(name, rel(g[0]), rel(g[1]), rel(p[0]), rel(p[1]), None, None, verdict))
    return rows, ok


def row(name, gs, ge, ps, pe, ds, de, verdict):
    r3 = lambda v: None if v is None else round(v, 3)
    return {"alert": name, "gameday_start_s": gs, "gameday_end_s": ge, "prometheus_start_s": ps,
            "prometheus_end_s": pe, "start_diff_s": r3(ds), "end_diff_s": r3(de), "verdict": verdict}


def table(rows, tol):
    f = lambda v: "-" if v is None else f"{v:.2f}"
    head = ["alert", "gameday firing", "prometheus firing", "start diff", "end diff", "verdict"]
    body = [[r["alert"], f"{f(r['gameday_start_s'])} .. {f(r['gameday_end_s'])}",
             f"{f(r['prometheus_start_s'])} .. {f(r['prometheus_end_s'])}",
             f(r["start_diff_s"]), f(r["end_diff_s"]), r["verdict"]] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [f"firing episodes, seconds since gameday's start (tolerance {tol:g} s):", line(head)]
    return "\n".join(out + [line(b) for b in body])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("prometheus")
    ap.add_argument("out")
    ap.add_argument("--scrape-s", type=float, default=1.0)
    ap.add_argument("--eval-s", type=float, default=1.0)
    a = ap.parse_args()
    tol = a.scrape_s + a.eval_s
    with open(a.results) as f:
        results = json.load(f)
    zero = parse_rfc3339(results["started_at"])
    end = zero + results["simulated_s"] / results["time_scale"]
    sides = {"gameday": {}, "prometheus": {}}
    try:
        for state in ("firing", "pending"):
            sides["gameday"][state] = gameday_episodes(results, state)
            names = list(sides["gameday"][state])
            sides["prometheus"][state] = prometheus_episodes(a.prometheus, names, zero, end, a.eval_s, state)
    except Exception as e:  # noqa: BLE001 - any failure to read Prometheus is one message
        print(f"compare.py: cannot read Prometheus at {a.prometheus}: {e}", file=sys.stderr)
        return 3
    rows, ok = compare(sides, zero, end, tol, a.eval_s)
    print(table(rows, tol))
    doc = {"started_at": results["started_at"], "simulated_s": results["simulated_s"], "tolerance_s": tol,
           "agree": ok, "episodes": rows}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"{'agree' if ok else 'DISAGREE'}: {len(rows)} firing episodes compared; {a.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
