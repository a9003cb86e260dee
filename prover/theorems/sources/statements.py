"""Splitting a written theorem into its name and what follows, for Coq and Lean.

The framework composes every proof itself (``Theorem NAME : STATEMENT.`` in
Coq, ``theorem NAME SIGNATURE := by`` in Lean), so a statement read from a
file is cut into the name and the rest.

Coq: ``Lemma app_nil_r (A : Type) (l : list A) : l ++ [] = l`` becomes the
statement ``forall (A : Type) (l : list A), l ++ [] = l``; a proof written for
the original starts with the binders already introduced, so its known proof
gets ``intros A l.`` in front. Binders this cannot say as ``forall`` (let
binders ``(x := t)``, generalizing binders with a backquote, patterns) are
refused with a reason.
"""
from __future__ import annotations

import re

COQ_KEYWORDS = ("Lemma", "Theorem", "Fact", "Remark", "Corollary", "Proposition")
_IDENT = r"[A-Za-z_][A-Za-z0-9_']*"
_COQ_HEAD = re.compile(rf"^\s*(?:{'|'.join(COQ_KEYWORDS)})\s+({_IDENT})(?=[\s(:{{\[])", re.S)
_LEAN_HEAD = re.compile(r"^\s*(theorem|lemma|def|noncomputable\s+def)\s+([^\s:({\[⦃]+)", re.S)
_OPEN, _CLOSE = "([{⦃", ")]}⦄"


def top_level_colon(text: str) -> int | None:
    """Offset of the first ':' outside brackets that is not part of ':=' or '::'; None if there is none."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif ch == ":" and depth == 0:
            nxt = text[i + 1: i + 2]
            prev = text[i - 1: i] if i else ""
            if nxt not in ("=", ":") and prev != ":":
                return i
    return None


def binder_names(binders: str) -> list[str]:
    """The names a Coq binder list introduces, in order; ValueError for binders ``forall`` cannot take."""
    names: list[str] = []
    i, s = 0, binders.strip()
    while i < len(s):
        ch = s[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "({":
            close = ")" if ch == "(" else "}"
            depth, j = 0, i
            while j < len(s):
                if s[j] in "({[":
                    depth += 1
                elif s[j] in ")}]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(s) or s[j] != close:
                raise ValueError(f"unbalanced binder {s[i:]!r}")
            inner = s[i + 1: j]
            if ":=" in inner:
                raise ValueError(f"let binder {s[i:j + 1]!r}")
            colon = top_level_colon(inner)
            head = inner[:colon] if colon is not None else inner
            if colon is None and ch == "(":
                raise ValueError(f"binder without a type {s[i:j + 1]!r}")
            group = head.split()
            if not group or not all(re.fullmatch(_IDENT, n) for n in group):
                raise ValueError(f"binder names {head.strip()!r}")
            names.extend(group)
            i = j + 1
            continue
        m = re.match(_IDENT, s[i:])
        if not m:
            raise ValueError(f"binder {s[i:i + 20]!r}")
        names.append(m.group(0))
        i += m.end()
    if "_" in names:
        raise ValueError("an anonymous binder '_'")
    return names


def explicit_binders(binders: str) -> str:
    """``binders`` with implicit groups made explicit: ``{A} (l : list A)`` -> ``A (l : list A)``.

    The verifier binds a statement as a type and checks the proof against it; maximal implicit
    binders there make Coq insert arguments where the check expects none. Whether an argument of
    the restated theorem is implicit does not change what has to be proved.
    """
    out, i, s, level = [], 0, binders, 0
    while i < len(s):
        if s[i] == "{" and level == 0:  # a binder group; braces inside a binder's type stay
            depth, j = 0, i
            while j < len(s):
                depth += s[j] in "({[" and 1 or 0
                depth -= s[j] in ")}]" and 1 or 0
                if depth == 0:
                    break
                j += 1
            inner = s[i + 1:j]
            out.append(f"({inner})" if top_level_colon(inner) is not None else inner)
            i = j + 1
        else:
            level += (s[i] in "([{") - (s[i] in ")]}")
            out.append(s[i])
            i += 1
    return "".join(out)


def _explicit_leading_forall(body: str) -> str:
    """A type ``forall {A} x, P`` with its leading binders made explicit (other types unchanged)."""
    m = re.match(r"\s*forall\s", body)
    if not m:
        return body
    rest = body[m.end():]
    depth = 0
    for k, ch in enumerate(rest):
        depth += ch in "({[" and 1 or 0
        depth -= ch in ")}]" and 1 or 0
        if ch == "," and depth == 0:
            binders = rest[:k]
            try:
                binder_names(binders)
            except ValueError:
                return body
            return f"forall {explicit_binders(binders).strip()},{rest[k + 1:]}"
    return body


def split_coq(sentence: str) -> tuple[str, str, list[str]]:
    """(name, statement as one term, names the binders introduce) of ``Lemma name binders : type``.

    ``sentence`` is the statement sentence without its final period.
    """
    m = _COQ_HEAD.match(sentence)
    if not m:
        raise ValueError(f"expected `{'|'.join(COQ_KEYWORDS)} NAME ... : TYPE`")
    name, rest = m.group(1), sentence[m.end():]
    colon = top_level_colon(rest)
    if colon is None:
        raise ValueError("no ':' before the statement's type")
    binders, body = rest[:colon].strip(), rest[colon + 1:].strip()
    if not body:
        raise ValueError("empty type")
    if "`" in binders:
        raise ValueError("generalizing binders (`) are not supported")
    names = binder_names(binders) if binders else []
    body = _explicit_leading_forall(body)
    statement = f"forall {explicit_binders(binders)}, {body}" if binders else body
    return name, statement, names


def split_lean(formal_statement: str) -> tuple[str, str, bool, str]:
    """(name, signature or type, whether it is a signature, keyword) of ``theorem NAME ... :=`` [``by``].

    ``lemma`` is Mathlib's synonym and is written back as ``theorem``; ProofNet states a few
    exercises as ``def`` (a structure to construct), which keep their keyword.
    """
    text = formal_statement.strip()
    m = _LEAN_HEAD.match(text)
    if not m:
        raise ValueError("formal_statement must start with `theorem NAME` (or lemma, def)")
    keyword = " ".join(m.group(1).split()).replace("lemma", "theorem")
    name, rest = m.group(2), text[m.end():]
    rest = re.sub(r":=\s*(?:by\s*)?$", "", rest.rstrip()).rstrip()
    if rest == text[m.end():].rstrip():
        raise ValueError("formal_statement must end with `:=` or `:= by`")
    colon = top_level_colon(rest)
    if colon is None:
        raise ValueError("no ':' before the theorem's type")
    if not rest[colon + 1:].strip():
        raise ValueError("empty type")
    if rest[:colon].strip():
        return name, rest.strip(), True, keyword
    return name, rest[colon + 1:].strip(), False, keyword
