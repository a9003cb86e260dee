"""Lemmas of the installed Coq standard library, each to be proved where it was stated.

Debian's ``coq`` package installs the library's ``.v`` sources next to the
compiled files (``coqc -where``/theories). A file is cut into sentences with
Coq's lexical rules (``prover.coq.lexer.mask``: comments blanked, strings
kept apart); every sentence that starts with ``Lemma``, ``Theorem``, ``Fact``,
``Remark``, ``Corollary`` or ``Proposition`` and whose proof ends in ``Qed``
is a theorem. Its context is the file's text up to the first character of
that sentence: the ``Require``s, sections, variables, notations and every
proof before it, and nothing of the lemma itself or after it, so its own name
and every later lemma are unknown there by construction.

Lemmas are left out when this reader cannot restate them faithfully as
``Theorem NAME : STATEMENT.`` (binders ``forall`` cannot take, string
literals in the statement) or when their proof does not end in ``Qed``
(``Defined`` lemmas compute; ``Admitted`` ones are not proved); they remain in
the context, replayed as written.
"""
from __future__ import annotations

import fnmatch
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from prover.coq.lexer import BLANKS, mask
from prover.coq.screen import check_coq_screen
from prover.theorems.sources.base import ContextFile, SourceError, SourceTheorem
from prover.theorems.sources.config import CoqStdlibSource
from prover.theorems.sources.statements import COQ_KEYWORDS, split_coq


def stdlib_root(explicit: str | None = None) -> Path:
    """The library's theories/ directory: ``explicit``, or ``$(coqc -where)/theories``."""
    if explicit:
        root = Path(explicit)
    else:
        try:
            where = subprocess.run(["coqc", "-where"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise SourceError(f"coq-stdlib: cannot run `coqc -where` ({err}); install Coq or set `root`") from None
        root = Path(where.stdout.strip()) / "theories"
    if not root.is_dir():
        raise SourceError(f"coq-stdlib: {root} is not a directory (set `root` to the library's theories/)")
    return root


@dataclass(frozen=True)
class Sentence:
    start: int  # offset of its first non-blank character
    end: int  # offset just past its final "."
    code: str  # its masked code (comments blanked)


def sentences(text: str) -> list[Sentence]:
    """The file's sentences: each ends at a "." followed by a blank or the end of the text."""
    code = mask(text)
    out, start = [], 0
    for k, ch in enumerate(code):
        if ch == "." and (k + 1 == len(code) or code[k + 1] in BLANKS):
            s = start
            while s < k and code[s] in BLANKS:
                s += 1
            out.append(Sentence(s, k + 1, code[s:k + 1]))
            start = k + 1
    return out


def _head(code: str) -> str:
    return code.split(None, 1)[0] if code.split() else ""


def read_file_lemmas(source: str, key: str, text: str) -> tuple[list[SourceTheorem], int]:
    """(theorems of one file, how many lemma sentences were left out)."""
    ctx = ContextFile(key, text)
    sents = sentences(text)
    module = key[:-2].replace("/", ".") if key.endswith(".v") else key
    out: list[SourceTheorem] = []
    skipped = 0
    line_starts = _line_starts(text)
    for i, s in enumerate(sents):
        if _head(s.code) not in COQ_KEYWORDS:
            continue
        # The proof: an optional "Proof." sentence, tactics, and the sentence that closes it.
        j = i + 1
        body_start = s.end
        usable_proof = True
        if j < len(sents) and _head(sents[j].code) == "Proof" or (j < len(sents) and sents[j].code.startswith("Proof.")):
            words = sents[j].code.split()
            if len(words) > 1 and words[1] == "with":
                usable_proof = False  # its "..." sentences need the "with" tactic
            body_start = sents[j].end
            j += 1
        while j < len(sents) and _head(sents[j].code) not in ("Qed.", "Defined.", "Admitted.", "Abort.", "Save"):
            if _head(sents[j].code) in COQ_KEYWORDS:
                break
            j += 1
        if j >= len(sents) or sents[j].code.strip() != "Qed.":
            skipped += 1
            continue
        original = text[s.start:s.end - 1]
        if '"' in original:
            skipped += 1
            continue
        try:
            name, statement, names = split_coq(s.code[:-1])
        except ValueError:
            skipped += 1
            continue
        statement = " ".join(statement.split())
        proof = text[body_start:sents[j].start].strip("\n")
        proof = _dedent(proof)
        if names and usable_proof:
            proof = f"intros {' '.join(names)}.\n{proof}"
        # A human proof is bootstrap data only if the model could have written it: one the
        # admission policy refuses (file-local Ltac such as `Z.swap_greater`, `...`) is left out.
        usable_proof = usable_proof and check_coq_screen(proof).admissible
        line = _line_of(line_starts, s.start)
        out.append(SourceTheorem(id=f"{source}/{module}.{name}", source=source, name=name, language="coq",
                                 text=statement, family=key, file=key, line=line,
                                 human_proof=proof if usable_proof and proof.strip() else None,
                                 context_file=ctx, context_end=s.start))
    # Two sections of one file may state lemmas of the same name: the later ones get their line.
    seen: dict[str, int] = {}
    for k, t in enumerate(out):
        if t.id in seen:
            out[k] = SourceTheorem(**{**t.__dict__, "id": f"{t.id}~{t.line}"})
        seen[t.id] = k
    return out, skipped


def _dedent(proof: str) -> str:
    lines = proof.split("\n")
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents, default=0)
    return "\n".join(ln[cut:] for ln in lines).strip()


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for k, ch in enumerate(text):
        if ch == "\n":
            starts.append(k + 1)
    return starts


def _line_of(starts: list[int], offset: int) -> int:
    import bisect
    return bisect.bisect_right(starts, offset)


def read_coq_stdlib(cfg: CoqStdlibSource) -> list[SourceTheorem]:
    """Every usable lemma of the configured files, in file order, files in the order of ``files``."""
    root = stdlib_root(cfg.root)
    keys: list[str] = []
    for pattern in cfg.files:
        found = sorted(str(p.relative_to(root)) for p in root.glob(pattern) if p.suffix == ".v")
        if not found:
            raise SourceError(f"coq-stdlib: files pattern {pattern!r} matches no .v file under {root}")
        keys.extend(k for k in found if k not in keys)
    out: list[SourceTheorem] = []
    for key in keys:
        text = (root / key).read_text(encoding="utf-8")
        lemmas, _ = read_file_lemmas(cfg.source_name(), key, text)
        out.extend(lemmas[: cfg.max_per_file] if cfg.max_per_file else lemmas)
    return out


def heldout_by_file(cfg: CoqStdlibSource, theorem: SourceTheorem) -> bool:
    return any(fnmatch.fnmatch(theorem.file or "", g) for g in cfg.heldout_files)


def context_digest(theorem: SourceTheorem) -> str:
    """A short fingerprint of a lemma's context (what ``ratchet theorems --show`` prints)."""
    return hashlib.sha256((theorem.context or "").encode()).hexdigest()[:12]
