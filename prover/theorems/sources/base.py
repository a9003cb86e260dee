"""A theorem that came from outside the generators, and the errors reading one can raise.

``SourceTheorem`` answers the same questions as ``prover.theorems.core.Theorem``
(``id``, ``family``, ``difficulty``, ``name``, ``statement(backend)``,
``reference_proofs(backend)``, ``row``), so the loop handles both alike, and
adds what a real theorem carries: its own header, where it came from, and for
a Coq library lemma the context it was stated in.

It has one language. ``statement`` is in that language; for a Lean theorem
with binders it is the signature (``(x : ℕ) (h : 0 < x) : 1 ≤ x``) and
``lean_signature`` is True, so the verifier composes
``theorem NAME <signature> := by`` rather than ``theorem NAME : <statement>``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class SourceError(ValueError):
    """A source file is malformed; the message starts with ``file:line:`` where there is a line."""


@dataclass(frozen=True)
class ContextFile:
    """One library file a context is a prefix of (its text is read once and shared)."""
    key: str  # the file relative to theories/, e.g. "Lists/List.v"
    text: str


@dataclass(frozen=True)
class SourceTheorem:
    id: str  # "<source>/<theorem name>"
    source: str
    name: str  # the theorem's own name, declared by the framework when it composes the proof
    language: str  # "coq" | "lean"
    text: str  # the statement (Coq: a term; Lean: a type, or a signature when lean_signature)
    header: str | None = None  # None = the verifier's default header
    family: str = ""  # what tables group by: the source, or the file for library lemmas
    informal_prefix: str = ""
    split: str | None = None  # the file's own split label, if any
    goal: str | None = None
    lean_signature: bool = False
    keyword: str = "theorem"  # Lean: "theorem", or "def" for benchmark entries stated as definitions
    human_proof: str | None = None  # a known proof body; used only to bootstrap from warm-start theorems
    informal_in_prompt: bool = False
    formal_statement: str = ""  # the source file's own declaration, as written (JSONL sources)
    # Library lemmas: where the statement starts, and the file prefix that is its context.
    file: str | None = None
    line: int | None = None
    context_file: ContextFile | None = field(default=None, repr=False, compare=False)
    context_end: int | None = None  # offset in context_file.text where the lemma's statement starts
    difficulty: int = 0
    meta: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def context(self) -> str | None:
        """The file up to the lemma's statement: everything before it, nothing after."""
        if self.context_file is None or self.context_end is None:
            return None
        return self.context_file.text[: self.context_end]

    def header_for(self, backend: str) -> str | None:
        """The header a verifier loads before this theorem: the context for library lemmas."""
        self._check(backend)
        return self.context if self.context_file is not None else self.header

    def statement(self, backend: str) -> str:
        return self.text if self._check(backend) else ""

    def reference_proofs(self, backend: str) -> list[str]:
        self._check(backend)
        return [self.human_proof] if self.human_proof else []

    def prompt_statement(self, backend: str) -> str:
        """What the prompt shows: the statement, after the informal statement when configured."""
        text = self.statement(backend)
        if self.informal_in_prompt and self.informal_prefix.strip():
            return f"{self.informal_prefix.strip()}\n{text}"
        return text

    def row(self, pool: str, backend: str) -> dict:
        return {"id": self.id, "family": self.family, "difficulty": self.difficulty, "pool": pool,
                "name": self.name, "statement": self.statement(backend),
                "statement_coq": self.text if self.language == "coq" else None,
                "statement_lean": self.text if self.language == "lean" else None,
                "file": self.file, "line": self.line}

    def _check(self, backend: str) -> bool:
        if backend != self.language:
            raise ValueError(f"theorem {self.id} is a {self.language} theorem; the run's backend is {backend}")
        return True
