"""Writing what a run or a cached model records: JSON files that appear whole, and library versions.

Used by prover/ (the bootstrap cache's done.json) and loop/ (summary.json, manifest.json),
so it lives on the prover side of the prover → loop import direction.
"""
from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable


def write_json_atomic(path: Path, data: Any, sort_keys: bool = False) -> None:
    """Write `data` as indented JSON to `path` via a sibling temporary file and a rename.

    A reader (or a run killed mid-write) sees the old file or the new one, never half of one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")
    os.replace(tmp, path)


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """The installed version of each distribution, "absent" for one that is not installed."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out
