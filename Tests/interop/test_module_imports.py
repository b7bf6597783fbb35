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


# The server core's files inside WarrenServer (the shell's files beside them do the I/O): until they become a module
# of their own (issue 17's WarrenCore), these may import only pure modules and the few libraries that do no I/O of
# their own (swift-log's API, swift-collections); what they need from the host comes in as `HostFacts` and `Now`.
SERVER_CORE_FILES = [
    "ServerCore.swift", "ServerCore+Connect.swift", "ServerCore+Pipeline.swift", "ServerCore+ReadOnly.swift",
    "ServerCore+Reads.swift", "ServerCore+Throttle.swift", "EnsembleCore.swift", "EnsembleForward.swift",
    "EnsembleHeldConnects.swift", "EnsembleReconfig.swift", "DynamicConfig.swift", "FourLetterWords.swift",
    "ServerFacts.swift", "HostFacts.swift", "TextFormat.swift",
]
SERVER_CORE_ALLOWED = {"WarrenJute", "WarrenTree", "WarrenZab", "WarrenRandom", "DequeModule", "Logging"}


def test_server_core_files_import_no_io():
    bad = []
    for name in SERVER_CORE_FILES:
        f = REPO_ROOT / "Sources" / "WarrenServer" / name
        assert f.exists(), f"{name} is gone: update SERVER_CORE_FILES"
        for imported in imports(f):
            if imported.split(".")[0] not in SERVER_CORE_ALLOWED:
                bad.append(f"Sources/WarrenServer/{name}: import {imported}")
    assert bad == [], "server core files importing I/O modules:\n" + "\n".join(bad)
