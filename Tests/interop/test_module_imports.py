"""The pure modules stay pure: WarrenJute, WarrenTree, WarrenZab, WarrenCore and WarrenRandom import nothing that
does I/O or reads a clock (no NIO, Dispatch, Foundation, Glibc), only each other, the C hot paths and the two
libraries that do no I/O of their own (swift-log's API, swift-collections), so that a seed replays their runs
exactly (Docs/architecture.md). No server needed."""

from __future__ import annotations

import re

from servers import REPO_ROOT

PURE = {
    "WarrenRandom": set(),
    "WarrenJute": set(),
    "WarrenTree": {"WarrenJute", "WarrenRandom", "CHotPaths"},
    "WarrenZab": {"WarrenJute", "WarrenRandom"},
    # The server core: what it needs from the host comes in as `HostFacts`, `Now` and `CoreConfig`.
    "WarrenCore": {"WarrenJute", "WarrenTree", "WarrenZab", "WarrenRandom", "DequeModule", "Logging"},
}


def imports(swift_file) -> list[str]:
    """The modules a Swift file imports (`import X`, `@testable import X`, `import struct X.Y`)."""
    return re.findall(r"^[ \t]*(?:@\w+[ \t]+)*import[ \t]+(?:(?:struct|class|enum|protocol|func|var|let|typealias)[ \t]+)?([\w.]+)", swift_file.read_text(), re.M)


def test_pure_modules_import_only_pure_modules():
    bad = []
    for module, allowed in PURE.items():
        files = sorted((REPO_ROOT / "Sources" / module).rglob("*.swift"))
        assert files, f"no sources for {module}"
        for f in files:
            for imported in imports(f):
                if imported.split(".")[0] not in allowed:
                    bad.append(f"{f.relative_to(REPO_ROOT)}: import {imported}")
    assert bad == [], "pure modules importing outside their set:\n" + "\n".join(bad)


def test_pure_modules_depend_only_on_pure_targets():
    """The manifest agrees: a pure module's target lists no I/O dependency (an import could otherwise come in
    through `@_exported` or a C module)."""
    manifest = (REPO_ROOT / "Package.swift").read_text()
    bad = []
    for module, allowed in PURE.items():
        m = re.search(r'\.target\(name: "%s"(?:, dependencies: \[(.*?)\])?' % module, manifest, re.S)
        assert m, f"no target {module} in Package.swift"
        deps = set(re.findall(r'"(\w+)"', m.group(1) or ""))
        deps = {d for d in deps if not d.startswith("swift-")}
        extra = deps - allowed
        if extra:
            bad.append(f"{module}: {sorted(extra)}")
    assert bad == [], "pure targets depending outside their set:\n" + "\n".join(bad)
