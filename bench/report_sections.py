"""A docs file that several benchmarks write: each owns one top-level section (from its "# " heading
to the next one), which it replaces, or adds at the end, leaving the others as they were."""

from __future__ import annotations

from pathlib import Path


def with_section(document: str, section: str) -> str:
    """``document`` with the section that has ``section``'s first line as its heading replaced by
    ``section`` (added at the end if there is none)."""
    heading = section.splitlines()[0]
    if not heading.startswith("# "):
        raise ValueError("a section starts with a top-level heading (# ...)")
    lines = document.splitlines()
    if heading not in lines:
        return "\n".join(lines + ([""] if lines else []) + section.rstrip("\n").splitlines()) + "\n"
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# ")), len(lines))
    tail = [""] + lines[end:] if end < len(lines) else []
    return "\n".join(lines[:start] + section.rstrip("\n").splitlines() + tail) + "\n"


def write_section(path: Path, section: str) -> None:
    path.write_text(with_section(path.read_text() if path.exists() else "", section))
