"""`zkfs --help` and the Options section of Docs/zkfs.md name every mount option that Sources/ZKFS/Options.swift
parses (and every option mount(8) passes that it ignores), so neither can fall behind the parser. Runs the built
binary; no server needed."""

from __future__ import annotations

import re
import subprocess

from servers import REPO_ROOT
from test_zkfs import zkfs_binary

OPTIONS_SWIFT = REPO_ROOT / "Sources" / "ZKFS" / "Options.swift"
ZKFS_MD = REPO_ROOT / "Docs" / "zkfs.md"


def parsed_options() -> set[str]:
    """The keys `apply(key:value:)` switches on (`case "ro":`, `case "inotify": ...`) and the ignored ones."""
    text = OPTIONS_SWIFT.read_text()
    switch = text[text.index("switch key {"):]
    switch = switch[:switch.index("default:")]
    keys = set(re.findall(r'^\s*case\s+((?:"[^"]+"\s*,?\s*)+):', switch, re.M))
    names = {k for group in keys for k in re.findall(r'"([^"]+)"', group)}
    ignored = text[text.index("ignoredOptions: Set<String> = ["):]
    names |= set(re.findall(r'"([^"]+)"', ignored[:ignored.index("]")]))
    return names


def test_help_lists_every_parsed_option():
    names = parsed_options()
    assert {"ro", "inotify", "noinotify", "events_name", "jute_maxbuffer", "nofail"} <= names, names
    out = subprocess.run([str(zkfs_binary()), "--help"], capture_output=True, text=True, timeout=30).stdout
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", out))
    missing = sorted(n for n in names if n not in words)
    assert missing == [], f"zkfs --help does not mention {missing}"


def test_the_manual_lists_every_parsed_option():
    doc = ZKFS_MD.read_text()
    section = doc[doc.index("\n## Options\n"):]
    section = section[:section.index("\n## ", 1)]
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", section))
    # `atime` variants are named as such in the manual.
    missing = sorted(n for n in parsed_options() if n not in words and "atime" not in n)
    assert missing == [], f"Docs/zkfs.md's Options section does not mention {missing}"
