"""Checkers over a recorded history: pure functions, no I/O, no servers.

An operation is an `Op`: who (client, session), what (kind, register/path, arguments), when (invocation and
completion on the runner's monotonic clock) and how it ended: "ok", "fail" (a definite error such as BadVersion:
the operation did not take effect) or "info" (indeterminate: connection loss, expiry or a timeout; it may take
effect at any time after its invocation, or never).

Register model. Each register is a znode holding (value, version). A `cas` is `set(path, new, version=v)`: when it
takes effect the version must be v and becomes v + 1 with value `new`; a `cas` that failed with BadVersion took
effect at a point where the version was not v. A `read` is `sync` then `get` and must see the state at some point
between its invocation and completion. Versions only grow, which the search uses: an indeterminate cas expecting
version v can no longer take effect once the state's version is past v, so indeterminate operations never blow up
the memo (see `_key`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

INF = float("inf")


@dataclass
class Op:
    client: int
    session: int
    kind: str             # "cas" | "read" | "get" | "create" | "ephemeral"
    key: str              # register or path
    invoke: float
    complete: float = INF
    outcome: str = "info"  # "ok" | "fail" | "info"
    expect: int = -1       # cas: expected version
    value: str = ""        # cas: value written; read/get: value seen
    version: int = -1      # read/get: version seen
    mzxid: int = -1        # read/get: mzxid seen
    error: str = ""
    index: int = field(default=-1, compare=False)

    def brief(self) -> str:
        end = "   ...   " if self.complete == INF else f"{self.complete:9.3f}"
        if self.kind == "cas":
            what = f"cas({self.expect} -> {self.value!r})"
        elif self.kind in ("read", "get"):
            what = f"{self.kind} = ({self.value!r}, v{self.version})" if self.outcome == "ok" else self.kind
        else:
            what = f"{self.kind} {self.value!r}"
        err = f" [{self.error}]" if self.error else ""
        return f"[{self.invoke:9.3f} {end}] c{self.client} s{self.session:x} {self.key} {what} {self.outcome}{err}"


# -- linearizability of one register -------------------------------------------------------------------------------

UNKNOWN = None  # a window's initial state: whatever the first operation needs it to be


def _step(state, op: Op):
    """The state after `op` takes effect in `state`, or None if it cannot take effect there."""
    if op.kind == "cas":
        if op.outcome == "fail":
            if state is UNKNOWN or state[1] != op.expect:
                return state
            return None
        if state is UNKNOWN or state[1] == op.expect:
            return (op.value, op.expect + 1)
        return None
    if op.kind == "read":
        seen = (op.value, op.version)
        if state is UNKNOWN or state == seen:
            return seen
        return None
    raise ValueError(f"not a register operation: {op.kind}")


def linearizable(ops: list[Op], initial=("init", 0), node_budget: int = 5_000_000) -> tuple[bool | None, int]:
    """Wing–Gong search with Lowe's memoization over (set of linearized determinate ops, state).

    `ops` are one register's cas and read operations; indeterminate ones (outcome "info") may take effect at any
    point after their invocation or never. Returns (True | False | None when the budget ran out, index of the
    determinate op the deepest attempt could not place, or -1).
    """
    ops = [o for o in ops if not (o.kind == "read" and o.outcome != "ok")]
    ops = sorted(ops, key=lambda o: o.invoke)
    n = len(ops)
    det = [i for i, o in enumerate(ops) if o.outcome != "info"]
    det_mask = 0
    for i in det:
        det_mask |= 1 << i
    ends = sorted((ops[i].complete, i) for i in det)
    # Indeterminate cas by the version they expect: only those matching the state's version can change it.
    info_by_expect: dict[int, list[int]] = {}
    for i, o in enumerate(ops):
        if o.outcome == "info":
            info_by_expect.setdefault(o.expect, []).append(i)
    all_info = sorted(i for v in info_by_expect.values() for i in v)
    # A search node: (linearized bitset, state, first unlinearized position in `ends`, first unlinearized
    # determinate index). From it, a candidate is any unlinearized op invoked no later than the earliest
    # completion among unlinearized determinate ops (Lowe's "minimal" ops).
    seen: set = set()
    stack = [(0, initial, 0, 0, 0)]
    deepest, stuck = -1, -1
    nodes = 0
    while stack:
        done, state, e, lo, count = stack.pop()
        nodes += 1
        if nodes > node_budget:
            return None, stuck
        while e < len(ends) and (done >> ends[e][1]) & 1:
            e += 1
        if e == len(ends):
            return True, -1
        horizon, first = ends[e]
        while lo < n and ((done >> lo) & 1 or ops[lo].outcome == "info"):
            lo += 1
        if count > deepest:
            deepest, stuck = count, first
        infos = all_info if state is UNKNOWN else info_by_expect.get(state[1], ())
        candidates = [i for i in infos if ops[i].invoke <= horizon and not (done >> i) & 1]
        i = lo
        while i < n and ops[i].invoke <= horizon:
            if ops[i].outcome != "info" and not (done >> i) & 1:
                candidates.append(i)
            i += 1
        for i in candidates:
            o = ops[i]
            nxt = _step(state, o)
            if nxt is None:
                continue
            if o.outcome == "info" and nxt == state:
                continue  # an indeterminate op that does nothing is the same as one that never happens
            nd = done | (1 << i)
            key = (nd & det_mask, nxt)
            if key in seen:
                continue
            seen.add(key)
            stack.append((nd, nxt, e, lo, count + (o.outcome != "info")))
    return False, stuck


def smallest_bad_window(ops: list[Op]) -> list[Op]:
    """A short run of `ops` (by invocation) that cannot be linearized from any initial state.

    Every op overlapping the window is kept, and every indeterminate op invoked before its end, so a window that
    fails proves the whole history fails."""
    ops = sorted(ops, key=lambda o: o.invoke)

    def window(lo: int, hi: int) -> list[Op]:
        t0, t1 = ops[lo].invoke, ops[hi - 1].invoke
        return [o for o in ops if o.invoke <= t1 and (o.complete >= t0 or o.outcome == "info")]

    def bad(lo: int, hi: int) -> bool:
        return linearizable(window(lo, hi), initial=UNKNOWN, node_budget=500_000)[0] is False

    n = len(ops)
    if not bad(0, n):
        return []
    lo_hi, hi = 1, n  # smallest prefix that fails
    while lo_hi < hi:
        mid = (lo_hi + hi) // 2
        if bad(0, mid):
            hi = mid
        else:
            lo_hi = mid + 1
    lo, top = 0, hi - 1  # latest start that still fails
    while lo < top:
        mid = (lo + top + 1) // 2
        if bad(mid, hi):
            lo = mid
        else:
            top = mid - 1
    return window(lo, hi)


# -- the other checkers -----------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)
    window: tuple[float, float] | None = None  # times around the first problem, for the nemesis log
    kind: str = "safety"  # "safety": a guarantee broken; "availability": a server crashed or stopped serving


def check_registers(ops: list[Op], with_reads: bool) -> Verdict:
    """Each register's cas history (and, with_reads, its sync+get reads) is linearizable."""
    name = "linearizable registers (cas + sync reads)" if with_reads else "linearizable registers (cas)"
    by_key: dict[str, list[Op]] = {}
    for o in ops:
        if o.kind == "cas" or (with_reads and o.kind == "read"):
            by_key.setdefault(o.key, []).append(o)
    details, window, unknown = [], None, []
    for key in sorted(by_key):
        result, _ = linearizable(by_key[key])
        if result is None:
            unknown.append(key)
        elif result is False:
            w = smallest_bad_window(by_key[key])
            details.append(f"{key}: {len(by_key[key])} ops cannot be linearized; smallest window "
                           f"({len(w)} ops) that cannot be ordered:")
            details += ["    " + o.brief() for o in w[:60]]
            if w and window is None:
                window = (w[0].invoke, max(o.complete if o.complete != INF else o.invoke for o in w))
    counts = ", ".join(f"{k}: {len(v)}" for k, v in sorted(by_key.items()))
    if details:
        return Verdict(name, False, f"NOT linearizable ({counts})", details, window)
    if unknown:
        return Verdict(name, False, f"search budget exhausted on {unknown} ({counts})")
    return Verdict(name, True, f"linearizable ({counts})")


def check_set(ops: list[Op], final: set[str]) -> Verdict:
    """Every acknowledged create is in the final set; every member of it was attempted (nothing phantom)."""
    creates = [o for o in ops if o.kind == "create"]
    acked = {o.value for o in creates if o.outcome == "ok"}
    attempted = {o.value for o in creates}
    failed = {o.value for o in creates if o.outcome == "fail"}
    indeterminate = {o.value for o in creates if o.outcome == "info"}
    lost = sorted(acked - final)
    phantom = sorted(final - attempted)
    failed_present = sorted((final & failed) - acked - indeterminate)
    maybe = len([v for v in final if v not in acked and v in attempted])
    ok = not lost and not phantom and not failed_present
    details = [f"lost (acknowledged, missing): {lost[:20]}"] if lost else []
    details += [f"phantom (never created): {phantom[:20]}"] if phantom else []
    details += [f"present though its create failed definitely: {failed_present[:20]}"] if failed_present else []
    return Verdict("set: no acknowledged create lost, nothing phantom", ok,
                   f"{len(acked)} acknowledged, {len(final)} present ({maybe} from indeterminate creates), "
                   f"{len(lost)} lost, {len(phantom) + len(failed_present)} phantom", details)


def check_no_phantom_reads(ops: list[Op]) -> Verdict:
    """Every register value read was written by some attempted cas (or is the initial value)."""
    written = {(o.key, o.value) for o in ops if o.kind == "cas" and o.outcome != "fail"}
    bad = [o for o in ops if o.kind in ("read", "get") and o.outcome == "ok" and o.value != "init"
           and (o.key, o.value) not in written]
    return Verdict("registers: nothing phantom", not bad,
                   f"{sum(1 for o in ops if o.kind in ('read', 'get') and o.outcome == 'ok')} reads, {len(bad)} of "
                   f"values never written (or written by a cas that failed definitely)",
                   [o.brief() for o in bad[:20]],
                   (bad[0].invoke, bad[0].complete) if bad else None)


def check_session_monotonic(ops: list[Op]) -> Verdict:
    """Within one session, a register's version and mzxid never go backwards across its reads and acked writes."""
    last: dict[tuple[int, str], tuple[int, int, Op]] = {}
    bad = []
    first = None
    for o in sorted(ops, key=lambda o: o.complete):
        if o.session == 0 or o.outcome != "ok" or o.kind not in ("read", "get", "cas"):
            continue
        k = (o.session, o.key)
        version = o.expect + 1 if o.kind == "cas" else o.version
        mzxid = o.mzxid
        prev = last.get(k)
        if prev is not None and (version < prev[0] or (mzxid >= 0 and prev[1] >= 0 and mzxid < prev[1])):
            if first is None:
                first = (prev[2].complete, o.complete)  # from the newer read to the older one: the faults between
            bad.append(f"session {o.session:x} saw {o.key} v{prev[0]} (mzxid {prev[1]:#x}) at "
                       f"{prev[2].complete:.3f}, then {o.brief()} (mzxid {mzxid:#x})")
        if prev is None or version >= prev[0]:
            last[k] = (version, max(mzxid, prev[1] if prev else -1), o)
    return Verdict("session never reads older than it has seen", not bad,
                   f"{len(bad)} backward reads", bad[:20], first)


def check_trees(trees: dict[int, dict | None]) -> Verdict:
    """All servers hold the same tree (path -> (data, version))."""
    got = {i: t for i, t in trees.items() if t is not None}
    details = []
    if got:
        ref_id = min(got)
        ref = got[ref_id]
        for i, t in sorted(got.items()):
            if t == ref:
                continue
            only_ref = sorted(set(ref) - set(t))[:5]
            only_t = sorted(set(t) - set(ref))[:5]
            diff = sorted(p for p in set(ref) & set(t) if ref[p] != t[p])[:5]
            details.append(f"server {i} differs from server {ref_id}: missing {only_ref}, extra {only_t}, "
                           f"different {[(p, ref[p], t[p]) for p in diff]}")
    sizes = ", ".join(f"s{i}: {len(t)} nodes" for i, t in sorted(got.items()))
    ok = not details and len(got) >= 2
    return Verdict("all servers' trees identical after healing", ok, sizes or "no tree read", details)


def check_serving(trees: dict[int, dict | None]) -> Verdict:
    """Every server answers a client (a session, a sync and reads) after healing."""
    missing = [i for i, t in sorted(trees.items()) if t is None]
    return Verdict("every server serves clients after healing", not missing,
                   f"{len(trees) - len(missing)} of {len(trees)} serve",
                   [f"server {i}: no session, sync or read answered" for i in missing], kind="availability")
