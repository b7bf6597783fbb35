"""Renders compare.py's results: Docs/benchmarks.md (tables) and the throughput-vs-read-% SVG (hand-written)."""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

NAMES = {"warren": "Warren", "zookeeper": "ZooKeeper"}
COLOURS = {"warren": "#c0392b", "zookeeper": "#2c6fbb"}


def _ok(r: dict | None) -> bool:
    return bool(r) and "failed" not in r


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def _num(v: float) -> str:
    return f"{v:,.0f}"


def _mib(n: int | None) -> str:
    return "–" if n is None else f"{n / 2**20:,.1f} MiB"


# -- chart ----------------------------------------------------------------------------------------------------------


def _nice_ceiling(v: float) -> tuple[float, float]:
    """An axis maximum at or above `v` and a tick step that divides it into 4 to 8 parts."""
    if v <= 0:
        return 1.0, 0.25
    exp = 10 ** math.floor(math.log10(v))
    for step_mul in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10):
        step = step_mul * exp
        top = math.ceil(v / step) * step
        if top / step <= 8:
            return top, step
    return v, v / 4


def _svg_axes(w: int, h: int, box: tuple[int, int, int, int], title: str, subtitle: str, x_ticks: list[float],
              y_max: float, y_step: float, x_of, y_of, x_label: str, y_label: str) -> list[str]:
    """The frame both charts share: title, horizontal grid with y labels, x ticks, the plot box, axis labels."""
    left, top, pw, ph = box
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{left + pw / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{title}</text>',
        f'<text x="{left + pw / 2}" y="40" text-anchor="middle" fill="#555">{subtitle}</text>',
    ]
    tick = 0.0
    while tick <= y_max + 1e-9:
        y = y_of(tick)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{_num(tick)}</text>')
        tick += y_step
    for t in x_ticks:
        x = x_of(t)
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 19}" text-anchor="middle">{_num(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 16}" text-anchor="middle">{x_label}</text>')
    out.append(f'<text x="22" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 22 {top + ph / 2})">{y_label}</text>')
    return out


def write_chart(path: Path, runs: list, s) -> None:
    """Throughput (ops/s) against the share of reads for both systems, like Figure 5 of the ZooKeeper paper."""
    points = {k: [] for k in NAMES}
    for run in runs:
        if run.read_percent is None:
            continue
        for k in NAMES:
            r = run.results.get(k)
            if _ok(r):
                points[k].append((run.read_percent, r["opsPerSecond"]))
    w, h = 760, 440
    left, right, top, bottom = 90, 170, 50, 60
    pw, ph = w - left - right, h - top - bottom
    y_max, y_step = _nice_ceiling(max([y for pts in points.values() for _, y in pts] + [1]) * 1.05)

    def x_of(p: float) -> float:
        return left + pw * p / 100

    def y_of(v: float) -> float:
        return top + ph * (1 - v / y_max)

    out = _svg_axes(w, h, (left, top, pw, ph), f"Throughput vs. read percentage ({escape(s.layout)})",
                    f"{s.connections} sessions × {s.outstanding} outstanding, {s.value_bytes}-byte values, "
                    f"{s.keys} keys, forceSync on", list(range(0, 101, 10)), y_max, y_step, x_of, y_of,
                    "Percentage of read requests", "Operations per second")
    for i, (k, pts) in enumerate(points.items()):
        pts.sort()
        colour = COLOURS[k]
        if len(pts) > 1:
            coords = " ".join(f"{x_of(p):.1f},{y_of(v):.1f}" for p, v in pts)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p, v in pts:
            out.append(f'<circle cx="{x_of(p):.1f}" cy="{y_of(v):.1f}" r="3.5" fill="{colour}">'
                       f'<title>{NAMES[k]}: {p}% reads, {_num(v)} ops/s</title></circle>')
        ly = top + 20 + i * 22
        out.append(f'<line x1="{left + pw + 16}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<circle cx="{left + pw + 28}" cy="{ly}" r="3.5" fill="{colour}"/>')
        out.append(f'<text x="{left + pw + 48}" y="{ly + 4}">{NAMES[k]}</text>')
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


def write_scale_chart(path: Path, scale: dict) -> None:
    """Restart-to-serving and wiped-follower rejoin time against tree size, both systems (compare.py --scale)."""
    series = {}
    for k in NAMES:
        rows = [r for r in scale["rows"].get(k, []) if "failed" not in r and "skipped" not in r]
        series[(k, "restart")] = [(r["znodes"], r["restart_seconds"]) for r in rows]
        series[(k, "rejoin")] = [(r["znodes"], r["rejoin_seconds"]) for r in rows]
    xs = [x for pts in series.values() for x, _ in pts] or [1]
    ys = [y for pts in series.values() for _, y in pts] or [1]
    w, h = 760, 440
    left, right, top, bottom = 90, 230, 50, 60
    pw, ph = w - left - right, h - top - bottom
    x_max, x_step = _nice_ceiling(max(xs) * 1.05)
    y_max, y_step = _nice_ceiling(max(ys) * 1.1)

    def x_of(v: float) -> float:
        return left + pw * v / x_max

    def y_of(v: float) -> float:
        return top + ph * (1 - v / y_max)

    x_ticks = [i * x_step for i in range(int(x_max / x_step + 1e-9) + 1)]
    out = _svg_axes(w, h, (left, top, pw, ph), "Restart and wiped-follower rejoin time vs. tree size (3 servers)",
                    f'{scale["znode_bytes"]}-byte znodes; restart: all three to serving; rejoin: empty dataDir to '
                    "serving", x_ticks, y_max, y_step, x_of, y_of, "znodes", "seconds")
    for i, ((k, what), pts) in enumerate(series.items()):
        colour = COLOURS[k]
        dash = ' stroke-dasharray="6 4"' if what == "rejoin" else ""
        if len(pts) > 1:
            coords = " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in pts)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y in pts:
            out.append(f'<circle cx="{x_of(x):.1f}" cy="{y_of(y):.1f}" r="3.5" fill="{colour}">'
                       f'<title>{NAMES[k]} {what}: {_num(x)} znodes, {y:.1f} s</title></circle>')
        ly = top + 20 + i * 22
        out.append(f'<line x1="{left + pw + 16}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + pw + 48}" y="{ly + 4}">{NAMES[k]} {what}</text>')
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


SCALE_TITLE = "## Big trees (compare.py --scale)"


def scale_section(scale: dict) -> list[str]:
    """compare.py --scale's tables: per size and system, memory and times, then writes while snapshots are written."""
    def cell(r: dict) -> str:
        if "skipped" in r:
            return r["skipped"][:160]
        if "failed" in r:
            why = r["failed"].removeprefix("warren bench: setup failed: ")[:160]
            return why if why.startswith("not tried") else "failed: " + why
        per = max(r["rss_servers"])
        raw = r.get("raw_bytes") or 0
        ratio = f" ({per / raw:.2f}× raw)" if raw else ""
        one = f" (one server {r['restart_one_seconds']:.1f} s)" if "restart_one_seconds" in r else ""
        return (f"RSS/server {per / 2**20:,.0f} MiB{ratio}; load {r['load_seconds']:.0f} s; restart "
                f"{r['restart_seconds']:.1f} s{one}; wiped follower serving in {r['rejoin_seconds']:.1f} s")

    def writes(r: dict) -> str:
        if "failed" in r or "skipped" in r or "writes_steady" not in r:
            return "—"
        a, b = r["writes_steady"], r["writes_snapshotting"]
        if "failed" in a or "failed" in b:
            return "failed: " + (a.get("failed") or b.get("failed"))[:80]
        ratio = b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else float("nan")
        return (f"p99 {a['p99_ms']:.1f} → {b['p99_ms']:.1f} ms (**{ratio:.2f}×**), max {b['max_ms']:.0f} ms, "
                f"snapshots written {'/'.join(str(x) for x in r['snapshots_during_window'])}")
    sizes = sorted({r["znodes"] for rows in scale["rows"].values() for r in rows})
    per_dir = scale.get("keys_per_dir")
    shape = (f"in {per_dir:,}-child directories (`warren bench --keys-per-dir {per_dir}`: "
             "/warren-bench/keys/d<j>/k<i>)") if per_dir else "flat, under one parent"
    lines = [SCALE_TITLE, "", *_machine_line(scale.get("machine"), "python3 Tests/bench/compare.py --scale"),
             f"A fresh 3-server ensemble per size and system with the zoo.cfg above (ZooKeeper: "
             f"`{' '.join(scale['zk_jvm_flags'])}`), loaded with that many {scale['znode_bytes']}-byte znodes by "
             f"`warren bench`, {shape}. RSS per server is the largest of the three after the load, "
             "against the raw paths + data (`zk_approximate_data_size`); restart is all three stopped and started "
             "until each answers getData of the last key, one server is a follower kill -9'd and started while the "
             "others serve; the wiped follower is kill -9'd, its dataDir and dataLogDir emptied (myid kept) and "
             "started, until it answers getData of the last key (a SNAP sync). "
             "A system that fails a size is not tried at larger ones"
             + (f"; ZooKeeper is not tried above {scale['zk_max_znodes']:,} znodes (three heaps of the size it "
                "needs there would not fit this machine's 24 GiB)" if scale.get("zk_max_znodes") else "") + ".", "",
             "![restart and rejoin time vs tree size](benchmarks-scale.svg)", "",
             "| znodes | Warren | Apache ZooKeeper |", "| --: | --- | --- |"]
    for n in sizes:
        by = {k: next((r for r in scale["rows"].get(k, []) if r["znodes"] == n), None) for k in NAMES}
        lines.append(f"| {n:,} | " + " | ".join(cell(by[k]) if by[k] else "—" for k in NAMES) + " |")
    if any("writes_steady" in r for rows in scale["rows"].values() for r in rows):
        lines += ["", f"Writes while the whole tree is snapshotted: setData of 100 B on 1,000 keys of their own at "
                  f"{scale['write_rate']:,}/s on a fixed schedule (latency counted from the scheduled time, so a stall "
                  f"counts against every write due during it), first {scale['steady_s']} s that no server's snapshot "
                  f"point falls in (steady, after {scale.get('warmup_s', 0)} s unmeasured), then {scale['snapshot_window_s']} s in which every server passes its "
                  "point (snapCount 100,000) and writes a snapshot of the whole tree; p99 steady → while "
                  "snapshotting, and the snapshots each server wrote in the window.", "",
                  "| znodes | Warren | Apache ZooKeeper |", "| --: | --- | --- |"]
        for n in sizes:
            by = {k: next((r for r in scale["rows"].get(k, []) if r["znodes"] == n), None) for k in NAMES}
            lines.append(f"| {n:,} | " + " | ".join(writes(by[k]) if by[k] else "—" for k in NAMES) + " |")
    return lines + [""]


# -- document -------------------------------------------------------------------------------------------------------


def _cell(r: dict | None, what: str) -> str:
    if not r:
        return "–"
    if "failed" in r:
        return "failed"
    lat = r["latencyMicros"]
    if what == "ops":
        all_ops = r.get("opsPerSecondAll", [])
        if len(all_ops) < 2 or r["opsPerSecond"] == 0:
            return _num(r["opsPerSecond"])
        spread = (max(all_ops) - min(all_ops)) / 2 / r["opsPerSecond"] * 100
        return f"{_num(r['opsPerSecond'])} ±{spread:.0f}%"
    if what == "lat":
        return f"{_num(lat['p50'])} / {_num(lat['p99'])} / {_num(lat['p999'])}"
    if what == "err":
        return str(r.get("errorsAllRepeats", r["errorsTotal"] + r["connectionErrors"]))
    if what == "cpu":
        return f"{r['generatorCPUPercent']:.0f}%"
    raise ValueError(what)


def _throughput_table(runs: list) -> list[str]:
    lines = [
        "| Workload | Warren ops/s | ZooKeeper ops/s | Warren ÷ ZK | Warren p50 / p99 / p99.9 µs "
        "| ZooKeeper p50 / p99 / p99.9 µs | p99 Warren ÷ ZK | Errors W / Z | Generator CPU W / Z |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        w, z = run.results.get("warren"), run.results.get("zookeeper")
        ops_ratio = _ratio(w["opsPerSecond"], z["opsPerSecond"]) if _ok(w) and _ok(z) else "–"
        p99_ratio = (_ratio(w["latencyMicros"]["p99"], z["latencyMicros"]["p99"])
                     if _ok(w) and _ok(z) else "–")
        lines.append(
            f"| {run.label} | {_cell(w, 'ops')} | {_cell(z, 'ops')} | {ops_ratio} | {_cell(w, 'lat')} "
            f"| {_cell(z, 'lat')} | {p99_ratio} | {_cell(w, 'err')} / {_cell(z, 'err')} "
            f"| {_cell(w, 'cpu')} / {_cell(z, 'cpu')} |")
    return lines


def _equal_load_table(equal: list) -> list[str]:
    lines = [
        "| Workload at the same offered load (open loop) | Warren achieved ops/s | ZooKeeper achieved ops/s "
        "| Warren p50 / p99 / p99.9 µs | ZooKeeper p50 / p99 / p99.9 µs | p99 Warren ÷ ZK | Never sent W / Z |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for run in equal:
        w, z = run.results.get("warren"), run.results.get("zookeeper")
        p99_ratio = (_ratio(w["latencyMicros"]["p99"], z["latencyMicros"]["p99"]) if _ok(w) and _ok(z) else "–")
        dropped = " / ".join(str(r.get("dropped", "–")) if _ok(r) else "–" for r in (w, z))
        lines.append(f"| {run.label} | {_cell(w, 'ops')} | {_cell(z, 'ops')} | {_cell(w, 'lat')} | {_cell(z, 'lat')} "
                     f"| {p99_ratio} | {dropped} |")
    return lines


def _failover_table(fo: dict) -> list[str]:
    lines = ["| System | Trials | Median gap | Longest gap | Acknowledged writes lost | Sessions kept |",
             "|---|--:|--:|--:|--:|--:|"]
    for k in ("warren", "zookeeper"):
        v = fo.get(k, {})
        trials = v.get("trials", [])
        failed = [t["failed"] for t in trials if "failed" in t]
        if "median_gap_s" not in v:
            lines.append(f"| {NAMES[k]} | {len(trials)} | failed | | | |")
            continue
        ok = len(trials) - len(failed)
        lines.append(f"| {NAMES[k]} | {len(trials)}{f' ({len(failed)} failed)' if failed else ''} "
                     f"| {v['median_gap_s'] * 1000:.0f} ms | {v['max_gap_s'] * 1000:.0f} ms | {v['lost']} "
                     f"| {v['sessions_kept']} of {ok} |")
    return lines


def _median_spread(xs: list[float]) -> str:
    """The median of `xs` with ± half their range as a share of it."""
    xs = sorted(xs)
    m = xs[len(xs) // 2]
    if len(xs) < 2 or m == 0:
        return _num(m) if m >= 10 else f"{m:.1f}"
    text = _num(m) if m >= 10 else f"{m:.1f}"
    return f"{text} ±{(xs[-1] - xs[0]) / 2 / m * 100:.0f}%"


def clients_table(raw: dict) -> list[str]:
    """Markdown table of Tests/bench/clients.py's results: per generator and workload, both systems' ops/s,
    p50/p99 (of the median run by ops/s), servers' CPU µs per op (median over repeats), errors and generator CPU."""
    lines = [
        "| Generator | Workload | Warren ops/s | ZooKeeper ops/s | Warren ÷ ZK | Warren p50 / p99 µs "
        "| ZooKeeper p50 / p99 µs | Warren server CPU µs/op | ZooKeeper server CPU µs/op | CPU/op Warren ÷ ZK "
        "| Errors W / Z | Generator CPU W / Z |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in raw["rows"]:
        cells: dict[str, dict] = {}
        for k in NAMES:
            xs = row["samples"].get(k, [])
            ok = sorted((x for x in xs if "failed" not in x), key=lambda x: x["opsPerSecond"])
            if not ok:
                cells[k] = {"failed": xs[-1]["failed"] if xs else "not run"}
                continue
            med = ok[len(ok) // 2]
            cpu = [x["serverCPUMicrosPerOp"] for x in ok if x.get("serverCPUMicrosPerOp") is not None]
            cells[k] = {
                "ops": med["opsPerSecond"], "ops_text": _median_spread([x["opsPerSecond"] for x in ok]),
                "lat": f"{_num(med['latencyMicros']['p50'])} / {_num(med['latencyMicros']['p99'])}",
                "cpu": sorted(cpu)[len(cpu) // 2] if cpu else None, "cpu_text": _median_spread(cpu) if cpu else "–",
                "err": sum(x["errorsTotal"] + x["connectionErrors"] for x in ok) + len(xs) - len(ok),
                "gen": f"{med['generatorCPUPercent']:.0f}%",
            }
        w, z = cells["warren"], cells["zookeeper"]

        def get(c: dict, key: str) -> str:
            return "failed" if "failed" in c else c[key]

        both = "failed" not in w and "failed" not in z
        lines.append(
            f"| {row['driver']} | {row['workload']} | {get(w, 'ops_text')} | {get(z, 'ops_text')} "
            f"| {_ratio(w['ops'], z['ops']) if both else '–'} | {get(w, 'lat')} | {get(z, 'lat')} "
            f"| {get(w, 'cpu_text')} | {get(z, 'cpu_text')} | {_ratio(w['cpu'], z['cpu']) if both else '–'} "
            f"| {get(w, 'err')} / {get(z, 'err')} | {get(w, 'gen')} / {get(z, 'gen')} |")
    for row in raw["rows"]:
        for k in NAMES:
            for x in row["samples"].get(k, []):
                if "failed" in x:
                    lines.append(f"\n{row['driver']}, {row['workload']}, {NAMES[k]}: failed: `{x['failed']}`")
    return lines


CLIENTS_TITLE = "## Real clients: C client and kazoo"


def clients_section(clients: dict) -> list[str]:
    """The benchmarks.md section for Tests/bench/clients.py's results, with that run's own machine line when it ran
    on its own (`clients.py --docs`) rather than inside compare.py."""
    cs = clients["settings"]
    m = clients.get("machine")
    ran = [f"Measured by `python3 Tests/bench/clients.py{' --quick' if cs['quick'] else ''} --docs Docs` on "
           f"{m['date']} at commit `{m['commit']}` (Warren release binary built {m.get('warren_binary_built', '?')}), "
           f"{m['cpus']} × {m['cpu_model']}, 1/5/15-minute "
           f"load average {' / '.join(m['loadavg'])} at start"
           + (f" and {' / '.join(m['loadavg_end'])} at end" if "loadavg_end" in m else "")
           + ": the machine was shared with other builds and tests, so ops/s and latency are noisy; the servers' "
           "CPU per op much less so.", ""] if m else []
    return [
        CLIENTS_TITLE,
        "",
        *ran,
        "The same read, write and 90 %-read workloads driven by three generators (`Tests/bench/clients.py`, fresh "
        "3-server ensembles of both systems with the zoo.cfg above): `warren bench`; the ZooKeeper C client's "
        "asynchronous API (`Tests/bench/cload.c` on Debian's libzookeeper_mt 3.8, `zoo_aget`/`zoo_aset` with "
        "completion callbacks, one zhandle per session); and kazoo's `get_async`/`set_async` "
        f"(`Tests/bench/kload.py`, the sessions divided among {cs['kazoo_processes']} worker processes). Each "
        f"opens {cs['connections']} sessions spread over the three servers with {cs['outstanding']} requests in "
        f"flight on each, {cs['value_bytes']}-byte values over {cs['keys']:,} keys, {cs['warmup']:g} s warm-up "
        f"then {cs['duration']:g} s measured; {cs['repeat']} {'run' if cs['repeat'] == 1 else 'runs'} per row and "
        "system (the whole list run that many times over), alternating which system goes first, each run starting "
        "once all six servers are quiet. ops/s is the median with ± half the range of the runs; latency is the median run's, as "
        "the generator saw it; errors are summed over all runs.",
        "",
        "**Server CPU µs/op** is the user + system time of all three server processes over the measured window "
        "only, divided by the operations completed in it (median over the runs, ± half the range). Key creation, "
        "warm-up and cleanup are outside the window: cload and kload print when it opens and closes; for "
        "`warren bench` it is taken as its `run:` progress line plus the warm-up. Unlike ops/s it does not depend "
        "much on how much of the 2 shared cores the generator and the other work on the machine take, so it "
        "compares the servers' own cost even where the generator, not the server, limits throughput (see the "
        "generator CPU column: share of one core over the window, all its threads and processes). A write costs "
        "CPU on all three servers (forward to the leader, proposal, log append and fsync, commit); a read only on "
        "the server its session is connected to.",
        "",
        *clients_table(clients),
        "",
    ]


def put_section(path: Path, title: str, section: list[str]) -> None:
    """Replaces (or adds, before "Not measured here") the section `title` of an existing benchmarks.md, for a
    script run on its own; the rest of the document stays as compare.py last wrote it."""
    lines = path.read_text().split("\n")
    if title in lines:
        start = lines.index(title)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        start = end = next((i for i, l in enumerate(lines) if l == "## Not measured here"), len(lines))
    lines[start:end] = section
    path.write_text("\n".join(lines))


def publish(raw: dict, title: str, section: list[str], out: Path | None, docs: Path | None) -> None:
    """What a benchmark script run on its own does with its results: prints its section, keeps the raw JSON in
    `out`, and puts the section into `docs`/benchmarks.md."""
    import json
    if out:
        out.write_text(json.dumps(raw, indent=1, default=str))
    print("\n".join(section))
    if docs:
        put_section(docs / "benchmarks.md", title, section)
        print(f"wrote '{title[3:]}' in {docs / 'benchmarks.md'}")


def put_clients_section(path: Path, clients: dict) -> None:
    put_section(path, CLIENTS_TITLE, clients_section(clients))


def _machine_line(m: dict | None, script: str) -> list[str]:
    if not m:
        return []
    end = f"; at end: {' / '.join(m['loadavg_end'])}" if "loadavg_end" in m else ""
    return [f"Measured by `{script}` on {m['date']} at commit `{m['commit']}`, {m['cpus']} × {m['cpu_model']} "
            f"(1/5/15-minute load average at start: {' / '.join(m['loadavg'])}{end}).", ""]


LARGE_VALUES_TITLE = "## Large values"


def large_values_section(raw: dict) -> list[str]:
    """Tests/bench/large_values.py's rows: per workload and value size, both systems side by side."""
    from large_values import fmt  # the row format lives with the script that measures it

    def median(xs: list[dict]) -> dict:
        ok = sorted((x for x in xs if "failed" not in x and "megabytesPerSecond" in x),
                    key=lambda x: x["opsPerSecond"])
        return ok[len(ok) // 2] if ok else (xs[-1] if xs else {"failed": "not run"})

    sizes = raw["sizes"]
    lines = [LARGE_VALUES_TITLE, "", *_machine_line(raw.get("machine"), "python3 Tests/bench/large_values.py"),
             f"3-server ensembles of each system with the zoo.cfg above and `jute.maxbuffer` raised to 16 MiB on both "
             f"(ZooKeeper: `-Djute.maxbuffer`, heap `-Xmx{raw['zkHeap']}` as zkEnv.sh sets it); `warren bench` "
             f"setData (write) and getData (read) over 16 keys, 4 sessions × 2 requests in flight spread over the "
             f"servers, {raw['duration']:g} s per run, median of {raw['repeat']} runs by ops/s, a fresh ensemble per "
             "value size and system. Peak RSS is summed over the three servers (sampled every 50 ms); CPU/op is "
             "the three servers' user + system time over the run ÷ operations.", "",
             "| workload | Warren | Apache ZooKeeper | Warren ÷ ZooKeeper (MB/s) |", "| --- | --- | --- | ---: |"]
    rows = raw["rows"]
    for key in sorted(rows, key=lambda k: (k.split()[0] != "write", sizes.index(k.split(" ", 1)[1]))):
        w, z = median(rows[key].get("warren", [])), median(rows[key].get("zookeeper", []))
        ok = "megabytesPerSecond" in w and "megabytesPerSecond" in z and z["megabytesPerSecond"]
        ratio = f"{w['megabytesPerSecond'] / z['megabytesPerSecond']:.2f}×" if ok else "—"
        lines.append(f"| {key} | {fmt(w)} | {fmt(z)} | {ratio} |")
    spread = {key: {k: [round(x.get("megabytesPerSecond", 0)) for x in xs] for k, xs in by.items()}
              for key, by in rows.items()}
    lines += ["", "MB/s of every run: " + "; ".join(
        f"{key}: " + ", ".join(f"{k} {v}" for k, v in by.items()) for key, by in spread.items()), ""]
    return lines


SESSIONS_TITLE = "## Many sessions and watches"


def sessions_section(raw: dict) -> list[str]:
    """Tests/bench/sessions.py's figures: idle sessions, watches, fan-out, setWatches, leader kill, full restart."""
    results = raw["results"]
    a = raw["settings"]

    def s(x, unit="s", scale=1.0, nd=2):
        return "—" if x is None else f"{x * scale:.{nd}f} {unit}"

    rows = [
        (f"sessions opened ({a['workers']} client processes)", lambda r: f"{r['sessions']:,} in {r['open_s']:.1f} s"),
        ("server RSS per idle session (3 servers summed)", lambda r: f"{r['bytes_per_idle_session']:,.0f} B"),
        ("watches set (data + child)", lambda r: f"{r['watches']:,} in {r['watch_set_s']:.1f} s"),
        ("server RSS per watch (3 servers summed)", lambda r: f"{r['bytes_per_watch']:,.0f} B"),
        ("one change to every session: p50 / p99 / last notified", lambda r: " / ".join(
            s(r["fanout"][k], "ms", 1000, 0) for k in ("p50_s", "p99_s", "max_s"))),
        ("setWatches of 10,000 watches after a reconnect", lambda r: s(r["setwatches"]["seconds"], "ms", 1000, 0)),
    ]
    for key, name in (("leader_kill", "leader SIGKILLed"), ("full_restart", "all 3 SIGKILLed and restarted")):
        rows += [
            (f"{name}: ensemble serving again", lambda r, k=key: s(r[k]["serving_s"])),
            (f"{name}: sessions back, p50 / p99 / all", lambda r, k=key: " / ".join(
                s(r[k][q]) for q in ("p50_s", "p99_s", "max_s"))),
            (f"{name}: sessions expired / not back", lambda r, k=key: f"{r[k]['expired']} / {r[k]['missing']}"),
        ]
    names = {"warren": "Warren", "zookeeper": "Apache ZooKeeper"}
    return [SESSIONS_TITLE, "", *_machine_line(raw.get("machine"), "python3 Tests/bench/sessions.py"),
            f"A fresh 3-server ensemble per system with the zoo.cfg above (ZooKeeper: zkEnv.sh's heap). "
            f"{a['sessions']:,} sessions of 30 s from {a['workers']} client processes (asyncio, the wire protocol "
            "written in the script), spread round-robin over the servers, pinging as clients do, and reconnecting "
            "as kazoo and the C client do when a connection drops (another server of the list, the same session, "
            f"every watch re-registered with one setWatches). Each session sets {a['watches']} watches on 1,000 "
            "nodes (half data watches, half child watches). The fan-out is one setData of a node every session "
            "watches; setWatches is a separate session holding 10,000 data watches that reconnects to another "
            "server. A session is back after a fault when a request it sent on a new connection is answered. "
            "RSS figures are deltas of the three servers' summed RSS (a JVM's heap grows in steps, so ZooKeeper's "
            "are coarse).", "",
            "| | " + " | ".join(names.get(r["system"], r["system"]) for r in results) + " |",
            "|---|" + "---|" * len(results),
            *[f"| {n} | " + " | ".join(f(r) for r in results) + " |" for n, f in rows], ""]


def _find(runs: list, label: str, system: str) -> dict | None:
    for run in runs:
        if run.label == label or run.label.startswith(label + " at "):
            r = run.results.get(system)
            return r if _ok(r) else None
    return None


def _targets(runs: list, equal: list, res: dict, fo: dict, s) -> list[str]:
    """Each target of the performance issue, the measured value and whether it is met, from this run's data."""
    rows = []

    def add(target: str, value: str, met: bool | None) -> None:
        rows.append(f"| {target} | {value} | {'met' if met else 'not met' if met is not None else 'not measured'} |")

    for label in ("read (getData)", "write (setData)", "mixed 90% reads"):
        w, z = _find(runs, label, "warren"), _find(runs, label, "zookeeper")
        if w and z and z["opsPerSecond"]:
            x = w["opsPerSecond"] / z["opsPerSecond"]
            add(f"Throughput ≥ 3× ZooKeeper: {label}", f"{x:.2f}× ({_num(w['opsPerSecond'])} vs "
                f"{_num(z['opsPerSecond'])} ops/s)", x >= 3)
        else:
            add(f"Throughput ≥ 3× ZooKeeper: {label}", "–", None)
    for label in ("read (getData)", "write (setData)", "mixed 90% reads"):
        w, z = _find(equal, label, "warren"), _find(equal, label, "zookeeper")
        if w and z and z["latencyMicros"]["p99"]:
            x = w["latencyMicros"]["p99"] / z["latencyMicros"]["p99"]
            add(f"p99 ≤ 1/3 of ZooKeeper's at equal offered load: {label}",
                f"{x:.2f}× ({_num(w['latencyMicros']['p99'])} vs {_num(z['latencyMicros']['p99'])} µs)", x <= 1 / 3)
        else:
            add(f"p99 ≤ 1/3 of ZooKeeper's at equal offered load: {label}", "–", None)
    for label, limit in (("read, 1 session × 1 outstanding", 60), ("write, 1 session × 1 outstanding", 300)):
        w, z = _find(runs, label, "warren"), _find(runs, label, "zookeeper")
        if w:
            p50 = w["latencyMicros"]["p50"]
            zk = f", ZooKeeper {_num(z['latencyMicros']['p50'])} µs" if z else ""
            add(f"{label}: p50 ≤ {limit} µs", f"{_num(p50)} µs{zk}", p50 <= limit)
    w, z = res.get("warren", {}), res.get("zookeeper", {})
    raw = w.get("approximate_data_size")
    if raw and w.get("rss_loaded_servers"):
        per = max(w["rss_loaded_servers"])
        per_restarted = max(w.get("rss_restarted_servers") or [per])
        add(f"RSS per server ≤ 1.5× raw paths + data ({s.znodes:,} znodes of {s.znode_bytes} B, "
            f"raw {_mib(raw)})", f"{per / raw:.2f}× after the load ({_mib(per)}), {per_restarted / raw:.2f}× after "
            f"restart ({_mib(per_restarted)})", per / raw <= 1.5)
        if z.get("rss_loaded_servers"):
            zper = max(z["rss_loaded_servers"])
            add("RSS about 1/4 of ZooKeeper's", f"{per / zper:.2f}× ({_mib(per)} vs {_mib(zper)})", per / zper <= 0.25)
    else:
        add("RSS per server ≤ 1.5× raw paths + data", "–", None)
    if "restart_seconds" in w:
        zr = f" (ZooKeeper {z['restart_seconds']:.2f} s)" if "restart_seconds" in z else ""
        add(f"Restart to serving with {s.znodes:,} znodes ≤ 1 s", f"{w['restart_seconds']:.2f} s{zr}",
            w["restart_seconds"] <= 1.0)
    else:
        add("Restart to serving ≤ 1 s", "–", None)
    dw, dz = w.get("disk_loaded", {}), z.get("disk_loaded", {})
    if dw.get("allocated") and dz.get("allocated"):
        x = dw["allocated"] / dz["allocated"]
        xa = dw["apparent"] / dz["apparent"]
        add("Disk footprint ≤ 1/5 of ZooKeeper's (default settings)",
            f"{x:.2f}× allocated ({_mib(dw['allocated'])} vs {_mib(dz['allocated'])}), {xa:.2f}× apparent", x <= 0.2)
    else:
        add("Disk footprint ≤ 1/5 of ZooKeeper's", "–", None)
    fw = fo.get("warren", {})
    if "median_gap_s" in fw:
        zg = fo.get("zookeeper", {}).get("median_gap_s")
        add("Leader failover write gap ≤ 200 ms", f"median {fw['median_gap_s'] * 1000:.0f} ms, longest "
            f"{fw['max_gap_s'] * 1000:.0f} ms" + (f" (ZooKeeper median {zg * 1000:.0f} ms)" if zg else ""),
            fw["median_gap_s"] <= 0.2)
    else:
        add("Leader failover write gap ≤ 200 ms", "–", None)
    return ["| Target | Measured here | |", "|---|---|---|", *rows]


def _resources_table(res: dict, s) -> list[str]:
    w, z = res.get("warren", {}), res.get("zookeeper", {})

    def row(label: str, fw, fz, fmt, better: str) -> str:
        return f"| {label} | {fmt(fw)} | {fmt(fz)} | {_ratio(fw, fz)} ({better} is better) |"

    def get(r: dict, *keys):
        for k in keys:
            if not isinstance(r, dict) or k not in r:
                return None
            r = r[k]
        return r

    def secs(v):
        return "–" if v is None else f"{v:.2f} s"

    lines = ["| Measure | Warren | ZooKeeper | Warren ÷ ZK |", "|---|--:|--:|--:|"]
    n = f"{s.znodes:,} znodes of {s.znode_bytes} bytes"
    lines.append(row("RSS, idle after start", get(w, "rss_idle"), get(z, "rss_idle"), _mib, "lower"))
    lines.append(row(f"RSS after loading {n}", get(w, "rss_loaded"), get(z, "rss_loaded"), _mib, "lower"))
    lines.append(row("RSS after restart (recovered from disk)", get(w, "rss_restarted"), get(z, "rss_restarted"),
                     _mib, "lower"))
    per_w, per_z = get(w, "rss_loaded_servers"), get(z, "rss_loaded_servers")
    if per_w or per_z:
        lines.append(row("Largest RSS of one server after the load", max(per_w) if per_w else None,
                         max(per_z) if per_z else None, _mib, "lower"))
    raw_w, raw_z = get(w, "approximate_data_size"), get(z, "approximate_data_size")
    if raw_w or raw_z:
        lines.append(f"| Raw paths + data (`zk_approximate_data_size`) | {_mib(raw_w)} | {_mib(raw_z)} | |")
    lines.append(row(f"Time to load {n} (pipelined creates)", get(w, "load_seconds"), get(z, "load_seconds"),
                     secs, "lower"))
    lines.append(row("Restart to serving (process start to first getData answered)",
                     get(w, "restart_seconds"), get(z, "restart_seconds"), secs, "lower"))
    def stop_text(r: dict) -> str:
        if "stop_seconds" not in r:
            return "–"
        if r.get("stop_killed"):
            return f"no exit; SIGKILL after {r['stop_seconds']:.0f} s"
        return f"{r['stop_seconds']:.2f} s"

    if "stop_seconds" in w or "stop_seconds" in z:
        lines.append(f"| Stop on SIGTERM (after the load) | {stop_text(w)} | {stop_text(z)} | |")
    snap_w, snap_z = get(w, "disk_restarted", "snapshot"), get(z, "disk_restarted", "snapshot")
    lines.append(row("Newest snapshot, after restart", snap_w or None, snap_z or None,
                     lambda v: "none yet" if v is None else _mib(v), "lower"))
    lines.append(row("dataDir + dataLogDir, apparent size, after load", get(w, "disk_loaded", "apparent"),
                     get(z, "disk_loaded", "apparent"), _mib, "lower"))
    lines.append(row("dataDir + dataLogDir, allocated on disk, after load", get(w, "disk_loaded", "allocated"),
                     get(z, "disk_loaded", "allocated"), _mib, "lower"))
    lines.append(row("dataDir + dataLogDir, allocated on disk, after restart", get(w, "disk_restarted", "allocated"),
                     get(z, "disk_restarted", "allocated"), _mib, "lower"))
    for k, r in (("Warren", w), ("ZooKeeper", z)):
        if "failed" in r:
            lines.append(f"\n{k}'s measurement failed: `{r['failed']}`")
    return lines


def write_report(path: Path, runs: list, resources: dict, s, info: dict, cfg: dict, jvm_flags: list[str],
                 equal: list | None = None, failover: dict | None = None, clients: dict | None = None,
                 sessions: dict | None = None, large_values: dict | None = None) -> None:
    equal, failover = equal or [], failover or {}
    mode = "quick" if s.quick else "full"
    cfg_text = ", ".join(f"`{k}={v}`" for k, v in cfg.items())
    lines = [
        "# Benchmarks: Warren vs Apache ZooKeeper",
        "",
        f"Generated by `python3 Tests/bench/compare.py{' --quick' if s.quick else ''}` ({mode} mode, "
        f"`{s.layout}` layout) on {info['date']} at commit `{info['commit']}`. Do not edit by hand: rerun the "
        "harness.",
        "",
        "## Targets",
        "",
        "The targets of the performance issue, computed from this run's data (details below).",
        "",
        *_targets(runs, equal, resources, failover, s),
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpus']} × {info['cpu_model']} (1/5/15-minute load average at start: "
        f"{' / '.join(info['loadavg'])}" + (f"; at end: {' / '.join(info['loadavg_end'])}" if "loadavg_end" in info
                                            else "") + ")",
        f"- Memory: {info['mem_bytes'] / 2**30:.1f} GiB; kernel {info['kernel']}",
        f"- {info['swift']}; {info['java']}; Apache ZooKeeper {info['zookeeper']} (Debian package)",
        "",
        "The generator and both servers share these cores, and the machine was shared with other work while "
        "the harness ran, so absolute numbers are noisy; runs alternate between the two systems (the first "
        "system alternates too) so drift does not favour either.",
        "",
        "## Setup",
        "",
        f"- Both systems get the same zoo.cfg: {cfg_text}, plus their own `dataDir`/`dataLogDir` side by side on "
        "the same disk and a free loopback port.",
        "- Warren: release build of the working tree (commit above"
        + ({None: "", 0: ", no uncommitted source changes"}.get(info.get("uncommitted_source_files"),
           f", plus {info.get('uncommitted_source_files')} uncommitted source files of work in progress")
           if "uncommitted_source_files" in info else " plus whatever work in progress was uncommitted")
        + "), `warren server --config zoo.cfg`.",
        f"- ZooKeeper: `java {' '.join(jvm_flags)} -cp zookeeper.jar:slf4j-simple.jar "
        "org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg` (JDK default GC and JIT).",
        f"- Load: `warren bench` (the same binary for both) with {s.connections} sessions × {s.outstanding} "
        f"pipelined requests, {s.value_bytes}-byte values over {s.keys:,} keys, {s.warmup:g} s warm-up then "
        f"{s.duration:g} s measured per run; each run is repeated {s.repeat} {'time' if s.repeat == 1 else 'times'}, repeats going round the "
        "whole list, and the table shows the median repeat (by ops/s) with ± half the range of its repeats. "
        f"Errors are summed over all repeats. watch-fanout uses 1 writer and {s.watchers} watching sessions (an op "
        f"is one notification, its latency measured from the write); session-churn runs {s.session_loops} loops "
        "of connect + create session + closeSession (an op is the whole cycle).",
        "- Latency is measured per request from the generator's send to its reply (µs); \"Generator CPU\" is the "
        "generator's own user+system time over the measured window, as a share of one core.",
        "",
        "## Throughput and latency",
        "",
        "Ratios are Warren ÷ ZooKeeper: above 1 means Warren did more ops/s; for p99, below 1 means Warren's tail "
        "was shorter.",
        "",
        *_throughput_table(runs),
        "",
        "![Throughput vs read percentage](benchmarks-throughput.svg)",
        "",
    ]
    if equal:
        lines += [
            "## Latency at equal offered load",
            "",
            f"Open loop (`warren bench --rate`): both systems get the same schedule, {s.equal_load_fraction:.0%} of "
            "the throughput ZooKeeper sustained closed loop in the table above, spread over the same sessions; "
            "each request's latency counts from its scheduled send time, so a stall shows up as latency instead "
            f"of a slower schedule. A request due on a session that already has {s.outstanding} in flight waits "
            "until a reply frees a slot and still counts from its scheduled time (no coordinated omission); "
            "\"Never sent\" counts those still waiting when the run ended.",
            "",
            *_equal_load_table(equal),
            "",
        ]
    if resources:
        lines += [
            "## Memory, disk and restart",
            "",
            f"Fresh servers of each system in turn: RSS (`VmRSS` from `/proc/<pid>/status`, summed over the "
            f"{'servers' if s.layout != 'standalone' else 'server'} unless a row says otherwise) idle, 5 s after loading "
            f"{s.znodes:,} znodes of {s.znode_bytes} bytes with `warren bench --duration 0 --no-cleanup`, and "
            "after a restart (SIGTERM, then start and time until a getData of the last znode is answered).",
            "",
            *_resources_table(resources, s),
            "",
            "ZooKeeper's transaction log files are preallocated in 64 MiB steps, which inflates its on-disk size; "
            "the allocated size counts only blocks written. ZooKeeper's RSS includes whatever heap the JVM has "
            "touched (up to `-Xmx`), not just live data. ZooKeeper writes a snapshot every time it starts; "
            "otherwise both systems snapshot after about `snapCount` transactions (\"none yet\" means the loaded "
            "znodes are only in the transaction log).",
            "",
        ]
    if failover:
        lines += [
            "## Leader failover",
            "",
            "Fresh 3-server ensemble per trial (`Tests/bench/failover.py`'s trial): one kazoo client given all "
            "three hosts writes sequential znodes one at a time; after 2 s the leader is SIGKILLed; the gap is the "
            "longest time between two acknowledged writes that ends after the kill. Every acknowledged write "
            f"is checked afterwards. tickTime {cfg.get('tickTime')} ms for both.",
            "",
            *_failover_table(failover),
            "",
        ]
    if clients:
        lines += clients_section(clients)
    if large_values:
        lines += large_values_section(large_values)
    if sessions:
        lines += sessions_section(sessions)
    lines += [
        "## Not measured here",
        "",
        "- Machines with more cores than the 2 shared here (where the servers and the generator would not "
        "compete), and the 10-million-znode scale runs.",
        "- How the numbers were reached, with profiles: `Docs/performance.md`.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
