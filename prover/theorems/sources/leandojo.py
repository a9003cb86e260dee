"""LeanDojo Benchmark 4 split files, read with lean-dojo's own types.

A split directory (``random/`` or ``novel_premises/``) holds ``train.json``,
``val.json`` and ``test.json``: lists of objects with ``url``, ``commit``,
``file_path``, ``full_name``, ``start``/``end`` (``[line, column]``) and
``traced_tactics`` (each with ``tactic`` and ``state_before``). The goal a
theorem starts from is the first tactic's ``state_before``; its human proof
is the tactics in order.

GitHub stays off the import path: constructing ``lean_dojo.LeanGitRepo``
resolves the commit on GitHub (``__post_init__`` calls the GitHub API), so
reading builds only ``Pos`` values and keeps url and commit as strings;
``dojo_theorem`` builds ``LeanGitRepo`` and ``Theorem`` when a proof is to be
checked, and ``check_ready`` first says what is missing (a Lean toolchain,
the traced repository) so a run fails at once rather than at the first proof.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from prover.theorems.sources.base import SourceError, SourceTheorem
from prover.theorems.sources.config import LeanDojoSource


def _lean_dojo():
    try:
        import lean_dojo
    except ImportError as err:  # pragma: no cover - lean-dojo is a pinned dependency
        raise SourceError(f"leandojo: the lean-dojo package is not importable ({err}); pip install lean-dojo") \
            from None
    return lean_dojo


def read_leandojo(cfg: LeanDojoSource) -> list[SourceTheorem]:
    ld = _lean_dojo()
    root = Path(cfg.path)
    if not root.is_dir():
        raise SourceError(f"{root}: not a directory (theorems.sources[{cfg.source_name()}].path: a LeanDojo "
                          "Benchmark 4 split directory holding train.json, val.json, test.json)")
    source = cfg.source_name()
    out: list[SourceTheorem] = []
    for stem in cfg.files:
        path = root / f"{stem}.json"
        if not path.is_file():
            raise SourceError(f"{path}: file not found (listed in `files`)")
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise SourceError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
        if not isinstance(items, list):
            raise SourceError(f"{path}: expected a JSON list of theorems")
        for k, item in enumerate(items[: cfg.limit] if cfg.limit else items):
            where = f"{path}: theorem {k}"
            try:
                url, commit, file_path, full_name = (item[f] for f in ("url", "commit", "file_path", "full_name"))
                start, end = ld.Pos(*item["start"]), ld.Pos(*item["end"])
                tactics = [t["tactic"] for t in item.get("traced_tactics", [])]
                goal = item["traced_tactics"][0]["state_before"] if item.get("traced_tactics") else None
            except (KeyError, TypeError, IndexError) as err:
                raise SourceError(f"{where}: missing or malformed field ({err})") from None
            if not all(isinstance(x, str) for x in (url, commit, file_path, full_name)):
                raise SourceError(f"{where}: url, commit, file_path and full_name must be strings")
            out.append(SourceTheorem(
                id=f"{source}/{full_name}", source=source, name=full_name.split(".")[-1], language="lean",
                text=goal or full_name, family=source, split=stem, goal=goal, file=file_path, line=start.line_nb,
                human_proof="\n".join(tactics) or None,
                meta={"url": url, "commit": commit, "full_name": full_name, "start": start, "end": end,
                      "pool": cfg.files[stem]}))
    return out


def check_ready() -> str | None:
    """What is missing to check LeanDojo theorems in context here, or None when nothing is."""
    missing = [p for p in ("lean", "lake") if shutil.which(p) is None]
    if missing:
        return ("leandojo: checking proofs in context needs a Lean 4 toolchain (" + ", ".join(missing)
                + " not on PATH; install elan) and the benchmark's repository traced by lean-dojo "
                "(LeanGitRepo(url, commit) with network access to GitHub, then lean_dojo.trace)")
    return None


def dojo_theorem(theorem: SourceTheorem):
    """The lean-dojo ``Theorem`` for a LeanDojo source theorem (builds LeanGitRepo: needs GitHub)."""
    ld = _lean_dojo()
    repo = ld.LeanGitRepo(theorem.meta["url"], theorem.meta["commit"])
    return ld.Theorem(repo, Path(theorem.file or ""), theorem.meta["full_name"])
