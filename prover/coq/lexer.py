"""Coq's lexical rules, as far as the admission screen needs them.

The screen must see a proof body the way Coq's own lexer does, or an attacker
can write text that the screen reads as a comment and Coq reads as a command.
So this module follows Coq's rules exactly where they matter:

* comments are ``(* ... *)`` and nest;
* inside a comment, a ``"`` opens a string literal that must be closed, and a
  ``*)`` inside that string does not close the comment (Coq lexes strings in
  comments so that commented-out code keeps its strings);
* strings are ``"..."`` with ``""`` as the only escape, and may span lines;
* a sentence ends at a ``.`` followed by a blank (space, tab, newline, carriage
  return) or by the end of the text; bullets (``-``, ``+``, ``*`` runs) and the
  braces ``{`` ``}`` at the start of a sentence are sentences of their own.

Where Coq's behaviour is subtle the screen refuses instead of guessing: a ``.``
that neither ends a sentence nor sits inside a qualified name (``Nat.add_comm``)
is refused, as is a stray ``*)`` outside a comment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BLANKS = " \t\r\n"  # the characters after which a "." ends a Coq sentence
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'")
BULLET_CHARS = "-+*"

# A goal selector in front of a tactic or a brace: "2:", "1-3:", "1,4:", "all:", "!:", "par:", "[x]:".
SELECTOR = re.compile(r"(?:all|par|!|\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*"
                      r"|\[\s*[A-Za-z_][A-Za-z0-9_']*\s*\])\s*:")


class LexError(ValueError):
    """The text is not lexically well formed; ``rule`` names the screen rule that refuses it."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


@dataclass(frozen=True)
class Sentence:
    kind: str  # "tactic" (a sentence ended by "."), "bullet" or "brace"
    text: str  # the sentence's code, comments blanked, string contents replaced by "_"
    start: int  # offset of the sentence in the original text


def _skip_string(text: str, i: int) -> int:
    """``text[i]`` is the opening quote; return the offset just past the closing quote."""
    n = len(text)
    j = i + 1
    while j < n:
        if text[j] == '"':
            if j + 1 < n and text[j + 1] == '"':  # "" is an escaped quote, the string goes on
                j += 2
                continue
            return j + 1
        j += 1
    raise LexError("unterminated-string", f"unterminated string starting at offset {i}")


def _skip_comment(text: str, i: int) -> int:
    """``text[i:i+2]`` is ``(*``; return the offset just past the matching ``*)``."""
    n = len(text)
    depth = 0
    j = i
    while j < n:
        if text.startswith("(*", j):
            depth += 1
            j += 2
        elif text.startswith("*)", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        elif text[j] == '"':  # Coq lexes strings inside comments: "*)" in one does not close the comment
            j = _skip_string(text, j)
        else:
            j += 1
    raise LexError("unterminated-comment", f"unterminated comment starting at offset {i}")


def mask(text: str) -> str:
    """The text with comments turned into blanks and string contents into ``_``.

    The result has the same length as ``text`` (newlines inside comments are
    kept), so offsets carry over. Raises LexError for an unterminated comment or
    string, or a ``*)`` outside any comment.
    """
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        if text.startswith("(*", i):
            j = _skip_comment(text, i)
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif text.startswith("*)", i):
            raise LexError("stray-comment-close", f"'*)' outside a comment at offset {i}")
        elif text[i] == '"':
            j = _skip_string(text, i)
            for k in range(i + 1, j - 1):
                out[k] = "_"
            i = j
        else:
            i += 1
    return "".join(out)


def _period_ends_sentence(text: str, code: str, k: int) -> bool:
    """Whether the "." at offset k ends a sentence; raise if Coq's reading could be ambiguous."""
    nxt = text[k + 1] if k + 1 < len(text) else ""
    if nxt == "" or nxt in BLANKS:
        return True
    prev = code[k - 1] if k > 0 else ""
    if prev in _IDENT_CHARS and prev != "" and nxt in _IDENT_CHARS:
        return False  # inside a qualified name such as Nat.add_comm
    raise LexError("ambiguous-period",
                   f"'.' followed by {nxt!r} at offset {k} (end sentences with '.' and a blank)")


def sentences(text: str) -> list[Sentence]:
    """Split a proof body into Coq sentences, following Coq's lexical rules (see module doc)."""
    code = mask(text)
    out: list[Sentence] = []
    i, n = 0, len(code)
    while True:
        while i < n and code[i] in BLANKS:
            i += 1
        if i >= n:
            return out
        c = code[i]
        if c in "{}":
            out.append(Sentence("brace", c, i))
            i += 1
            continue
        if c in BULLET_CHARS:
            j = i
            while j < n and code[j] == c:
                j += 1
            out.append(Sentence("bullet", code[i:j], i))
            i = j
            continue
        sel = SELECTOR.match(code, i)
        if sel:
            after = sel.end()
            while after < n and code[after] in BLANKS:
                after += 1
            if after < n and code[after] == "{":  # "2: {" focuses a goal: a brace sentence
                out.append(Sentence("brace", code[i:after + 1], i))
                i = after + 1
                continue
        k = i
        while True:
            k = code.find(".", k)
            if k < 0:
                raise LexError("unterminated-sentence",
                               f"the last sentence does not end with '.': {_excerpt(code[i:])}")
            if _period_ends_sentence(text, code, k):
                break
            k += 1
        out.append(Sentence("tactic", code[i:k + 1], i))
        i = k + 1


def _excerpt(s: str, width: int = 40) -> str:
    s = " ".join(s.split())
    return repr(s if len(s) <= width else s[:width] + "...")
