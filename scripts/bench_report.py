#!/usr/bin/env python3
"""Writes the measured section of docs/performance.md from a `make bench` run.

Usage: bench_report.py RESULTS_DIR docs/performance.md USERS LARGE_USERS

A ratio against `health` is the median of the ratios taken within each round of a roster-bench
run with --rounds, their range beside it. The two database sizes are compared side by side
(roster-bench --compare_addr), the range of their slice pairs beside the ratio.

Everything between the `<!-- bench:begin -->` and `<!-- bench:end -->` markers is replaced; the
prose around it (what the profiles showed, what changed) is kept. Every target of issue 7 is
listed with its measured value and whether it is met, then issue 31's (PostgreSQL against SQLite
with the user cache off); a target this run does not measure says so.
"""
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
from statistics import median
from datetime import date

out, doc_path, users, large = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None


def scenarios(run):
    return {s["name"]: s for s in run["scenarios"]} if run else {}


sqlite, postgres = load("sqlite.json"), load("postgres.json")
one, many = load("inflight1.json"), load("inflight64.json")
big, restart = load("large.json"), load("large_restart.server.json")
big_server = load("large.server.json")
storage = load("storage.json")
s, p, b = scenarios(sqlite), scenarios(postgres), scenarios(big)
# The two database sizes side by side, in alternating slices (roster-bench --compare_addr): the
# small database is A, the large one B; "uncached" ran with the user cache off.
compared = {kind: {c["name"]: c for c in (load(name) or {}).get("compare", [])}
            for kind, name in [("cached", "compare.json"), ("uncached", "compare_uncached.json")]}
cold = scenarios(load("uncached.json"))


def spread(values):
    """' (rounds: 0.81–0.95)' for several values, '' for one."""
    return f" (rounds: {min(values):.2f}–{max(values):.2f})" if len(values) > 1 else ""
def bytes_per_user(path):
    """Bytes on disk (file and WAL) per stored user, and the user count."""
    size = sum(os.path.getsize(f) for f in [path, path + "-wal"] if os.path.exists(f))
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        count = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    return size / max(count, 1), count


databases = open(os.path.join(out, "databases.txt")).read().split()
elapsed = open(os.path.join(out, "elapsed.txt")).read().strip()

cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
fs = subprocess.run(["df", "-T", "build"], capture_output=True, text=True).stdout.split("\n")
fs_type = fs[1].split()[1] if len(fs) > 1 and fs[1] else "unknown"

lines = [
    f"Measured {date.today().isoformat()} by `make bench` ({elapsed}) on {os.cpu_count()} × "
    f"{cpu}, Linux {platform.release()}, {fs_type}; server and load generator share the cores. "
    f"Each scenario: 1 s warm-up, {sqlite['duration_s']:.0f} s measured, "
    f"{sqlite['channels']} channels, {sqlite['inflight']} calls in flight, {users:,} users "
    "unless stated. `cpu µs` is the server's user + system CPU per call from /proc/PID/stat. "
    f"Each run's scenarios ran {sqlite.get('rounds', 1)} rounds in turn: each figure is the "
    "median of its rounds, and each ratio the median of the ratios taken within a round. "
    "`db µs` is PostgreSQL's own CPU per call: its postmaster and every backend, from /proc.",
    "",
    "### Every scenario, SQLite and PostgreSQL (same settings)",
    "",
    "| scenario | SQLite calls/s | ratio | p50 µs | p99 µs | cpu µs | PostgreSQL calls/s | ratio "
    "| p50 µs | p99 µs | cpu µs | db µs |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for name, r in s.items():
    q = p.get(name)
    pg = (f"{q['qps']:,.0f} | {q['ratio_to_health']:.3f} | {q['p50_us']:,.0f} | "
          f"{q['p99_us']:,.0f} | {q['cpu_us_per_call']:.0f} | "
          f"{q.get('db_cpu_us_per_call', 0):.0f}") if q else "– | – | – | – | – | –"
    lines.append(f"| `{name}` | {r['qps']:,.0f} | {r['ratio_to_health']:.3f} | "
                 f"{r['p50_us']:,.0f} | {r['p99_us']:,.0f} | {r['cpu_us_per_call']:.0f} | {pg} |")
lines.append("")
lines.append("PostgreSQL: a local PostgreSQL 15 cluster with its default durability (fsync and "
             "synchronous_commit on), on the same two cores as the server and the load "
             "generator.")
lines.append("")

# Targets.
targets = []


def target(what, value, goal, met, note=""):
    shown = "not measured" if value is None else value
    verdict = "–" if met is None else ("met" if met else "**not met**")
    targets.append(f"| {what} | {shown} | {goal} | {verdict} | {note} |")


def rounds_of(scenario):
    """A scenario's per-round ratios to health (one for a run of one round)."""
    return scenario.get("qps_ratios") or [scenario["ratio_to_health"]]


g, h = s.get("get_user"), s.get("health")
target("`get_user` / `health` throughput", f"{g['ratio_to_health']:.3f}", "≥ 0.80",
       g["ratio_to_health"] >= 0.80,
       "the sampled users are all in the user cache" + spread(rounds_of(g)))
if cold.get("get_user"):
    c = cold["get_user"]
    target("the same with the user cache off", f"{c['ratio_to_health']:.3f}", "≥ 0.80",
           c["ratio_to_health"] >= 0.80,
           f"every read goes to SQLite; server CPU {c['cpu_us_per_call']:.0f} µs per call"
           + spread(rounds_of(c)))
cpu_ratio = g.get("cpu_ratio_to_health") or None
cpu_rounds = [x["cpu_us_per_call"] / y["cpu_us_per_call"]
              for x, y in zip(g.get("rounds", []), h.get("rounds", [])) if y["cpu_us_per_call"]]
target("server CPU per `get_user` / per `health`",
       f"{cpu_ratio:.2f} ({g['cpu_us_per_call']:.0f} / {h['cpu_us_per_call']:.0f} µs)"
       if cpu_ratio else None, "≤ 1.5", cpu_ratio <= 1.5 if cpu_ratio else None,
       ("µs: each side's median over rounds" + spread(cpu_rounds)) if len(cpu_rounds) > 1
       else "")
for label, run in [("1", one), ("64", many)]:
    sc = scenarios(run)
    if sc:
        got, floor = sc["get_user"], sc["health"]
        r = got["p99_ratio_to_health"]
        per_round = [x["p99_us"] / y["p99_us"]
                     for x, y in zip(got.get("rounds", []), floor.get("rounds", []))]
        target(f"`get_user` p99 / `health` p99 at {label} in flight",
               f"{r:.2f} ({got['p99_us']:,.0f} / {floor['p99_us']:,.0f} µs)",
               "≤ 1.5", r <= 1.5, spread(per_round).strip())
le = s.get("list_by_email")
target("`list_by_email` / `health`", f"{le['ratio_to_health']:.3f}", "≥ 0.70",
       le["ratio_to_health"] >= 0.70, spread(rounds_of(le)).strip())
bench = {x["name"].split("/")[0]: x for x in (storage or {}).get("benchmarks", [])}
for name, label, note in [
        ("UserStoreGetUser", "`UserStore` read by id / bare prepared lookup",
         "every read a cache hit (a copy of the record)"),
        ("UserStoreGetUserUncached", "the same with the user cache off",
         "one row: the user and its identifiers column")]:
    if name in bench:
        r = bench[name]["real_time"] / bench["BareSqliteGetUser"]["real_time"]
        target(label, f"{r:.2f}", "≤ 1.5", r <= 1.5, note)
creates, creates_inflight = scenarios(many).get("create_user"), many and many["inflight"]
if not creates:
    creates, creates_inflight = s.get("create_user"), sqlite["inflight"]
if "BareSqliteCommit" in bench and creates:
    bare_per_s = 1e9 / bench["BareSqliteCommit"]["real_time"]
    r = creates["qps"] / bare_per_s
    target("`create_user` durable / bare one-row FULL commits per s",
           f"{r:.2f} ({creates['qps']:,.0f} / {bare_per_s:,.0f})", "≥ 2.0", r >= 2.0,
           f"{creates_inflight} in flight")
if sqlite.get("sign_in_capacity_per_s"):
    r = sqlite["sign_in_capacity_ratio"]
    target("`sign_in` / hash-pool capacity",
           f"{r:.2f} ({s['sign_in']['qps']:.0f} / {sqlite['sign_in_capacity_per_s']:.0f} per s; "
           f"{sqlite['hash_workers']} × {sqlite['hash_ms']:.1f} ms)", "≥ 0.85", r >= 0.85,
           "the hash timed just before each round's sign_in"
           + spread(sqlite["sign_in_capacity_ratios"]))
browsers = load("browsers.json")
for key, label, goal in [("get_me_connect_ratio", "`GetMe` over Connect JSON / over gRPC", 0.5),
                         ("get_me_grpc_web_ratio", "`GetMe` over gRPC-Web / over gRPC", 0.7)]:
    r = (browsers or {}).get(key)
    target(label, f"{r:.3f}" if r else None, f"≥ {goal}", r >= goal if r else None,
           "6 in flight, each HTTP/1.1 client on a keep-alive connection; answers decoded")
o = sqlite.get("overload")
if o:
    r = o["get_user_p99_beside_us"] / o["get_user_p99_alone_us"]
    target("`get_user` p99 while `sign_in` is offered 2× the pool's capacity / alone",
           f"{r:.2f} ({o['get_user_p99_beside_us']:,.0f} / {o['get_user_p99_alone_us']:,.0f} µs)",
           "≤ 2.0", r <= 2.0, f"{o['readers']} get_user in flight, sign_in open-loop at "
           f"{o['sign_in_rate']:.0f}/s")
    target("errors other than fast RESOURCE_EXHAUSTED / UNAVAILABLE at 2× saturation",
           f"{o['other']} of {o['offered']} offered", "0", o["other"] == 0,
           f"{o['ok']} served, {o['refused']} refused with p99 {o['refused_p99_us']:,.0f} µs")
else:
    target("`get_user` p99 under 2× `sign_in` overload / alone", None, "≤ 2.0", None)
    target("errors other than fast RESOURCE_EXHAUSTED / UNAVAILABLE at 2× saturation", None,
           "0", None)
for name, kind, note in [
        ("get_user", "cached", "both from the user cache"),
        ("get_user", "uncached", "user cache off: both from SQLite"),
        ("list_by_email", "cached", "")]:
    c, h = compared[kind].get(name), compared[kind].get("health")
    if c and h:
        slices = c["slice_ratios"]
        target(f"`{name}` at {large:,} / at {users:,} users", f"{c['ratio']:.2f}", "≥ 0.90",
               c["ratio"] >= 0.90,
               "; ".join(x for x in [
                   note, f"{c['compare_qps']:,.0f} / {c['qps']:,.0f} calls/s",
                   f"{len(slices)} slices each, pairs {min(slices):.2f}–{max(slices):.2f}",
                   f"`health` on the same two servers {h['ratio']:.2f}"] if x))
if "list_deep_page" in b and "list_first_page" in b:
    deep, first = b["list_deep_page"], b["list_first_page"]
    per_round = [d["p50_us"] / f["p50_us"]
                 for d, f in zip(deep.get("rounds", [deep]), first.get("rounds", [first]))]
    r = median(per_round)
    target(f"page 100,000 deep / first page (p50 latency, {large:,} users)",
           f"{r:.2f} ({deep['p50_us']:,.0f} / {first['p50_us']:,.0f} µs)", "≤ 1.2", r <= 1.2,
           "total_count from the kept user count" + spread(per_round))
else:
    target("page 100,000 deep / first page (latency)", None, "≤ 1.2", None)
if big_server:
    mib = big_server["rss_peak_kib"] / 1024
    target(f"resident memory at {large:,} users under the mixed load", f"{mib:.0f} MiB peak",
           "≤ 150 MiB", mib <= 150, "peak over the run of pages and mixed")
if restart:
    target(f"start-up to SERVING on a {large:,}-user database",
           f"{restart['startup_ms'] / 1000:.2f} s", "≤ 0.5 s", restart["startup_ms"] <= 500)

lines += ["### Targets (issue 7)", "", "| measure | measured | target | | note |",
          "|---|---|---|---|---|", *targets, ""]

# Issue 31: PostgreSQL against SQLite with the user cache off, both runs above.
targets = []
for name in ["get_user", "list_by_email", "list_page", "get_me", "create_user"]:
    q, c = p.get(name), cold.get(name)
    if not (q and c and c["cpu_us_per_call"]):
        target(f"server CPU per `{name}`, PostgreSQL / SQLite (cache off)", None, "≤ 2", None)
        continue
    r = q["cpu_us_per_call"] / c["cpu_us_per_call"]
    target(f"server CPU per `{name}`, PostgreSQL / SQLite (cache off)",
           f"{r:.2f} ({q['cpu_us_per_call']:.0f} / {c['cpu_us_per_call']:.0f} µs)", "≤ 2",
           r <= 2, f"PostgreSQL's own CPU {q.get('db_cpu_us_per_call', 0):.0f} µs per call")
for name, goal in [("get_user", 0.4), ("list_by_email", 0.3)]:
    q = p.get(name)
    if q:
        target(f"PostgreSQL `{name}` / `health` throughput", f"{q['ratio_to_health']:.3f}",
               f"≥ {goal}", q["ratio_to_health"] >= goal,
               f"{q['qps']:,.0f} calls/s; server {q['cpu_us_per_call']:.0f} µs, PostgreSQL "
               f"{q.get('db_cpu_us_per_call', 0):.0f} µs per call" + spread(rounds_of(q)))
lines += ["### Targets (issue 31)", "", "| measure | measured | target | | note |",
          "|---|---|---|---|---|", *targets, ""]
sizes = [bytes_per_user(path) for path in databases if os.path.exists(path)]
if sizes:
    lines.append("Bytes per user on disk (the SQLite file and its WAL, indexes, identifiers and "
                 "the event log included): " + ", ".join(
                     f"{per:,.0f} at {count:,} users" for per, count in sizes) + ".")
    lines.append("")
if storage:
    lines += ["### Storage micro-benchmark", "", "| benchmark | ns per op |", "|---|---:|"]
    for x in storage["benchmarks"]:
        lines.append(f"| `{x['name']}` | {x['real_time']:,.0f} |")
    lines.append("")

doc = open(doc_path).read()
section = "<!-- bench:begin -->\n" + "\n".join(lines) + "<!-- bench:end -->"
if "<!-- bench:begin -->" in doc:
    doc = re.sub(r"<!-- bench:begin -->.*<!-- bench:end -->", lambda _: section, doc, flags=re.S)
else:
    doc = doc.rstrip("\n") + "\n\n## Latest `make bench`\n\n" + section + "\n"
open(doc_path, "w").write(doc)
print(f"wrote the measured section of {doc_path}")
