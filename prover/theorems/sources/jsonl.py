"""Benchmark files in the miniF2F / ProofNet JSONL convention (Lean or Coq).

One JSON object per line: ``name``, ``formal_statement``, ``header`` (strings),
optionally ``informal_prefix``, ``split``, ``goal`` and ``proof`` (a known proof
body, used only when the theorem is in the warm-start pool). Blank lines are
skipped. Any other malformation is a ``SourceError`` naming ``file:line``,
raised before anything is returned, so nothing downstream starts.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from prover.theorems.sources.base import SourceError, SourceTheorem
from prover.theorems.sources.config import JsonlSource
from prover.theorems.sources.statements import split_coq, split_lean

REQUIRED = ("name", "formal_statement", "header")
OPTIONAL = ("informal_prefix", "split", "goal", "proof")


def read_jsonl(cfg: JsonlSource) -> list[SourceTheorem]:
    path = Path(cfg.path)
    if not path.is_file():
        raise SourceError(f"{path}: file not found (theorems.sources[{cfg.source_name()}].path)")
    source = cfg.source_name()
    out: list[SourceTheorem] = []
    with path.open(encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                raise SourceError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(obj, dict):
                raise SourceError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            for key in REQUIRED:
                if not isinstance(obj.get(key), str):
                    raise SourceError(f"{where}: field {key!r} is missing or not a string")
            for key in OPTIONAL:
                if obj.get(key) is not None and not isinstance(obj[key], str):
                    raise SourceError(f"{where}: field {key!r} must be a string")
            thm = _theorem(cfg, source, obj, where)
            if cfg.splits is not None and thm.split not in cfg.splits:
                raise SourceError(f"{where}: split {thm.split!r} is not in splits {sorted(cfg.splits)}")
            out.append(thm)
            if cfg.limit is not None and len(out) >= cfg.limit:
                break
    return _unique_ids(out, path)


def _unique_ids(theorems: list[SourceTheorem], path: Path) -> list[SourceTheorem]:
    """Ids ``<source>/<name>``; a name the file uses more than once (ProofNet has 19: exercises of
    different books) gets ``~<hash of its header and statement>``, stable while the line is."""
    counts = Counter(t.name for t in theorems)
    out, seen = [], set()
    for t in theorems:
        if counts[t.name] > 1:
            digest = hashlib.sha1(f"{t.header}\n{t.text}".encode()).hexdigest()[:8]
            t = replace(t, id=f"{t.id}~{digest}")
        if t.id in seen:
            raise SourceError(f"{path}: theorem {t.name!r} appears twice with the same header and statement")
        seen.add(t.id)
        out.append(t)
    return out


def _theorem(cfg: JsonlSource, source: str, obj: dict, where: str) -> SourceTheorem:
    formal = obj["formal_statement"]
    try:
        if cfg.language == "lean":
            name, text, signature, keyword = split_lean(formal)
            proof = obj.get("proof")
        else:
            sentence = formal.strip()
            sentence = sentence[: -len("Proof.")].rstrip() if sentence.endswith("Proof.") else sentence
            if not sentence.endswith("."):
                raise ValueError("a Coq formal_statement ends with '.'")
            name, text, names = split_coq(sentence[:-1])
            signature, keyword = False, "Theorem"
            proof = obj.get("proof")
            if proof and names:
                proof = f"intros {' '.join(names)}.\n{proof}"
    except ValueError as err:
        raise SourceError(f"{where}: formal_statement: {err}") from None
    if name != obj["name"]:
        raise SourceError(f"{where}: formal_statement declares {name!r} but name is {obj['name']!r}")
    return SourceTheorem(id=f"{source}/{name}", source=source, name=name, language=cfg.language, text=text,
                         header=obj["header"], family=source, informal_prefix=obj.get("informal_prefix") or "",
                         split=obj.get("split"), goal=obj.get("goal"), lean_signature=signature,
                         human_proof=proof, informal_in_prompt=cfg.informal_prefix_in_prompt, keyword=keyword,
                         formal_statement=formal)
