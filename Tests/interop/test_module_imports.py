"""The pure modules stay pure: WarrenJute, WarrenTree, WarrenZab and WarrenRandom import nothing that does I/O or
reads a clock (no NIO, Dispatch, Foundation, Glibc), only each other and the C hot paths, so that a seed replays
their runs exactly (Docs/architecture.md). No server needed."""

from __future__ import annotations

import re

from servers import REPO_ROOT

PURE = {
    "WarrenRandom": set(),
    "WarrenJute": set(),
    "WarrenTree": {"WarrenJute", "WarrenRandom", "CHotPaths"},
    "WarrenZab": {"WarrenJute", "WarrenRandom"},
}


def test_pure_modules_import_only_pure_modules():
    bad = []
    for module, allowed in PURE.items():
        files = sorted((REPO_ROOT / "Sources" / module).rglob("*.swift"))
        assert files, f"no sources for {module}"
        for f in files:
            for m in re.finditer(r"^[ \t]*(?:@\w+[ \t]+)*import[ \t]+(?:(?:struct|class|enum|protocol|func|var|let|typealias)[ \t]+)?([\w.]+)", f.read_text(), re.M):
                name = m.group(1).split(".")[0]
                if name not in allowed:
                    bad.append(f"{f.relative_to(REPO_ROOT)}: import {m.group(1)}")
    assert bad == [], "pure modules importing outside their set:\n" + "\n".join(bad)
