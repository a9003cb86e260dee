"""From a completion to a proof body, in one place (both Lean and Coq).

What a real prover model writes is not a bare proof body: it may think first
(``<think>...</think>``), answer in a code block and add prose after it, restate the
header and the theorem, or end a continued code block with its closing fence. The steps,
in order:

1. The reasoning block is split off: the text up to a reasoning end marker
   (``</think>`` by default), with its start marker removed when present. A start marker
   that is never closed means the model ran out of tokens before answering: refused.
2. The rest is cut at the first configured stop string.
3. The code: in ``continue`` mode (the prompt left a code block open) everything up to
   the first closing fence; in ``answer`` mode the last fenced block (the last one tagged
   with the backend's language, if any is), or the whole text when there is no fence.
4. A restated theorem is accepted only when it is the given theorem: a declaration of any
   other name, or of the given name with another statement, is refused with the reason,
   before any prover runs. Statements are compared token by token (identifiers, numbers
   and single symbols), so only whitespace may differ. Imports, opens and options before
   the theorem are dropped (the framework owns the header); anything else there is
   refused. Lean: ``theorem``/``lemma`` name ... ``:= by``; Coq: ``Theorem``/``Lemma``/...
   name ``: ... .``, then an optional ``Proof.``; a final ``Qed.``/``Defined.`` is dropped.
5. The body is dedented and stripped: the canonical form the verifier composes and the
   trainer renders.

``bare`` mode (the ``ratchet`` format) keeps today's rule exactly: the stripped completion
is the body. Nothing here runs a prover: a refusal is the framework saying that the
completion holds no body for this theorem.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from prover.prompting import Mode, PromptInput

LEAN_DECL = re.compile(r"^[ \t]*(?:@\[[^\]\n]*\][ \t]*)?(?:private[ \t]+|protected[ \t]+)?(theorem|lemma)[ \t]+"
                       r"([^\s:({\[]+)", re.MULTILINE)
COQ_DECL = re.compile(r"^[ \t]*(Theorem|Lemma|Example|Corollary|Proposition|Fact|Remark)[ \t]+([A-Za-z_][\w']*)",
                      re.MULTILINE)
LEAN_PREAMBLE = re.compile(r"^(import|open|set_option|universe|noncomputable[ \t]+section|section|namespace)\b")
COQ_PREAMBLE = re.compile(r"^(Require|From|Import|Export|Open|Local[ \t]+Open|Set|Unset)\b")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_NEXT = re.compile(r"\s*(\w+|[^\w\s])")  # the next token after optional whitespace
FENCE_TAGS = {"lean": ("lean4", "lean"), "coq": ("coq", "rocq")}
REASON_WIDTH = 160


@dataclass(frozen=True)
class Extraction:
    """``body`` is None exactly when ``refused`` says why."""
    body: str | None
    reasoning: str | None = None
    refused: str | None = None


def _short(text: str, width: int = REASON_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def split_reasoning(text: str, start: str, end: str) -> tuple[str | None, str | None, str | None]:
    """(reasoning or None, the rest, refusal or None)."""
    if not end:
        return None, text, None
    if end in text:
        thought, rest = text.split(end, 1)
        if start and start in thought:
            thought = thought.split(start, 1)[1]
        return thought.strip(), rest, None
    if start and start in text:
        return text.split(start, 1)[1].strip(), "", f"reasoning block never closed ({end} missing): no final answer"
    return None, text, None


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(tag, content) of each ``` block, in order; an unclosed last block runs to the end."""
    blocks, tag, lines = [], None, []
    for line in text.split("\n"):
        stripped = line.strip()
        if tag is None:
            if stripped.startswith("```"):
                tag, lines = stripped[3:].strip().lower(), []
        elif stripped.startswith("```"):
            blocks.append((tag, "\n".join(lines)))
            tag = None
        else:
            lines.append(line)
    if tag is not None:
        blocks.append((tag, "\n".join(lines)))
    return blocks


def find_code(text: str, backend: str, mode: Mode) -> str:
    if mode == "continue":
        return text.split("```", 1)[0]
    blocks = _fenced_blocks(text)
    if not blocks:
        return text
    tagged = [content for tag, content in blocks if tag in FENCE_TAGS[backend]]
    return tagged[-1] if tagged else blocks[-1][1]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _strip_comments(text: str, backend: str) -> str:
    if backend == "lean":
        text = re.sub(r"/-.*?-/", "", text, flags=re.DOTALL)
        return re.sub(r"--[^\n]*", "", text)
    return re.sub(r"\(\*.*?\*\)", "", text, flags=re.DOTALL)


def _match_statement(code: str, start: int, expected: list[str],
                     keywords: tuple[str, ...]) -> tuple[int | None, list[str]]:
    """Read the token sequence `expected` in `code` from `start` (first token: any of `keywords`).

    (end offset, []) when it is there; (None, the tokens read up to the differing one and a few
    after it, for the message) when not.
    """
    pos, seen = start, []
    for i, want in enumerate(expected):
        m = _NEXT.match(code, pos)
        got = m.group(1) if m else "<end>"
        seen.append(got)
        if got != want and not (i == 0 and got in keywords and want in keywords):
            return None, seen + _tokens(code[m.end():m.end() + 200])[:3] if m else seen
        pos = m.end()
    return pos, []


def _difference(expected: list[str], seen: list[str]) -> str:
    """`... expected` vs `... got` around the first differing token, a few tokens of context."""
    i = next((k for k, (a, b) in enumerate(zip(expected, seen)) if a != b), min(len(expected), len(seen)) - 1)
    lo = max(0, i - 6)
    lead = "… " if lo else ""
    want = lead + " ".join(expected[lo:i + 4]) + (" …" if i + 4 < len(expected) else "")
    got = lead + " ".join(seen[lo:i + 4]) + (" …" if i + 4 < len(seen) else "")
    return f"expected `{_short(want, 70)}`, got `{_short(got, 70)}`"


def _expected_tokens(inp: PromptInput) -> list[str]:
    tokens = _tokens(inp.formal_statement)
    if inp.backend == "lean":
        if tokens[-1:] == ["by"]:
            tokens = tokens[:-1]
        if tokens[-2:] == [":", "="]:
            tokens = tokens[:-2]
    return tokens


def _take(code: str, pos: int, *words: str) -> int | None:
    """Offset after the tokens `words` read from `pos`, or None."""
    for w in words:
        m = _NEXT.match(code, pos)
        if m is None or m.group(1) != w:
            return None
        pos = m.end()
    return pos


def _restated(code: str, inp: PromptInput) -> tuple[str | None, str | None]:
    """(the body after a restated declaration, or the code itself if none; refusal or None)."""
    lean = inp.backend == "lean"
    decls = list((LEAN_DECL if lean else COQ_DECL).finditer(code))
    if not decls:
        return code, None
    mine = [d for d in decls if d.group(2) == inp.name]
    others = [f"{d.group(1)} {d.group(2)}" for d in decls if d.group(2) != inp.name]
    if not mine:
        return None, f"the completion declares {', '.join(others)}, not the theorem {inp.name}"
    if others or len(mine) > 1:
        extra = others or [f"{inp.name} twice"]
        return None, f"the completion declares {', '.join(extra)} besides {inp.name}: only a proof body is accepted"
    decl = mine[0]
    before = _strip_comments(code[:decl.start()], inp.backend)
    preamble = LEAN_PREAMBLE if lean else COQ_PREAMBLE
    for line in before.split("\n"):
        if line.strip() and not preamble.match(line.strip()):
            return None, f"text before theorem {inp.name} that is not an import, open or option: {_short(line, 80)}"
    keywords = ("theorem", "lemma") if lean else ("Theorem", "Lemma", "Example", "Corollary", "Proposition",
                                                   "Fact", "Remark")
    expected = _expected_tokens(inp)
    end, seen = _match_statement(code, decl.start(), expected, keywords)
    if end is None:
        return None, f"restated theorem {inp.name} has a different statement: {_difference(expected, seen)}"
    if lean:
        after = _take(code, end, ":", "=")
        if after is None:
            return None, f"restated theorem {inp.name} is not followed by `:=`"
        by = _take(code, after, "by")
        if by is None:
            return None, f"theorem {inp.name} is proved by a term (`:=` without `by`): only tactic proofs are accepted"
        return code[by:], None
    after = _take(code, end, "Proof", ".")
    return code[end if after is None else after:], None


def _finish(body: str, backend: str) -> str:
    if backend == "coq":
        body = re.sub(r"(?:^|\s)(?:Qed|Defined)\s*\.\s*$", "", body.rstrip())
        body = re.sub(r"^\s*Proof\s*\.[ \t]*", "", body)  # continue mode: the model opened the proof itself
    return textwrap.dedent(body.strip("\n").rstrip()).strip("\n")


def extract_body(completion: str, inp: PromptInput, *, mode: Mode, stop: tuple[str, ...] = (),
                 reasoning: tuple[str, str] = ("<think>", "</think>")) -> Extraction:
    """The proof body in `completion`, the reasoning split off, or the reason there is none."""
    if mode == "bare":
        return Extraction(body=completion.strip())
    thought, text, refused = split_reasoning(completion, *reasoning)
    if refused:
        return Extraction(None, thought, refused)
    for s in stop:
        if s:
            text = text.split(s, 1)[0]
    code = find_code(text, inp.backend, mode)
    if mode == "continue" and inp.backend == "lean" and not _tokens(inp.formal_statement)[-1:] == ["by"]:
        # The prompt ended before `:= by` (a term-style formal statement): the model writes it.
        pos = _take(code, 0, ":", "=")
        pos = _take(code, pos if pos is not None else 0, "by")
        if pos is None:
            return Extraction(None, thought, f"the completion does not go on with `:= by` after theorem {inp.name}")
        code = code[pos:]
    body, refused = _restated(code, inp)
    if refused:
        return Extraction(None, thought, refused)
    body = _finish(body or "", inp.backend)
    if not body:
        return Extraction(None, thought, "the completion holds no proof body")
    return Extraction(body=body, reasoning=thought)
