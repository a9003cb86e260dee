"""The static screen for Lean proof bodies: a fast first line, run before any prover.

A body is the tactic block after ``:= by``; anything that is not a tactic
script (a command, an escape hatch, a way to run code or change how Lean reads
or checks the proof) is rejected here, with the name of the rule it broke. The
screen is never the last line: the admission rule (``prover.lean.admission``)
still requires a clean compile, no sorry, an axiom allowlist and kernel replay.

The body is read with Lean's own lexical rules, so comments and text hidden
in them are handled the way Lean handles them:

* ``--`` starts a comment to the end of the line (also inside an expression);
* ``/-`` starts a block comment that nests and ends at the matching ``-/``
  (doc comments ``/--`` and ``/-!`` are delimited the same way);
* identifiers follow Lean's character classes (ASCII letters, ``_``, Greek and
  letter-like symbols; then digits, ``'``, ``!``, ``?`` and subscripts), may be
  dotted, and a ``«...»`` part is one identifier whatever it contains;
* string and character literals and backtick quotations are not needed in a
  proof body and are rejected outright, so the lexer never has to agree with
  Lean on escape sequences, raw strings or interpolation.

Words are then compared as whole tokens (a keyword cannot be an identifier in
Lean, so there are no false positives on names like ``h_end``), and the names
of dangerous constants are compared per dotted component (``Lean.ofReduceBool``).
"""
from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass

from prover.screen import ADMISSIBLE, ScreenResult, refuse

MAX_PROOF_CHARS = 20_000

# Each rule names the attack it defeats (README "Trusting the verifier — Lean" lists them).
RULES: dict[str, str] = {
    "empty": "an empty body (nothing to check)",
    "too-long": f"bodies over {MAX_PROOF_CHARS} characters (resource exhaustion in the parser)",
    "control-character": "tabs, carriage returns, NUL and other control characters (Lean and "
                         "Python would split lines or tokens differently)",
    "invisible-character": "zero-width and bidirectional-override characters (text that reads "
                           "differently from what Lean parses: 'Trojan Source')",
    "lookalike": "Cyrillic/Greek/full-width look-alikes of a forbidden word (hides intent from "
                 "reviewers and naive filters)",
    "unterminated-comment": "a block comment that never closes (swallows whatever the framework appends)",
    "unterminated-identifier": "a «...» identifier that never closes",
    "string-literal": "string literals (escape/raw-string/interpolation tricks that make a filter "
                      "and Lean disagree about where code is)",
    "char-literal": "character literals (a quote character that hides a string delimiter)",
    "quotation": "backtick syntax quotations and name literals (metaprogramming)",
    "sorry": "`sorry`, and `stop` (which expands to `repeat sorry`): unproved goals",
    "admit": "`admit` (a synonym of sorry)",
    "native-decide": "`native_decide`, `decide +native`, `native := true` (trusts compiled code: "
                     "axiom Lean.ofReduceBool)",
    "forbidden-constant": "direct use of sorryAx, Lean.ofReduceBool/ofReduceNat, trustCompiler "
                          "(the axioms behind sorry and native evaluation)",
    "decide-config": "`decide := true` configuration tricks",
    "set-option": "`set_option` (e.g. debug.skipKernelTC, maxHeartbeats 0, pp options that "
                  "fake the printed axioms)",
    "hash-command": "`#`-commands: #exit, #eval, #print, #check, #guard_msgs, ... (run code, "
                    "print forged reports, or end the file early)",
    "metaprogramming": "run_cmd, run_tac, run_elab, run_meta, by_elab, eval%, elab, elab_rules, "
                       "macro, macro_rules, syntax, simproc, initialize (run arbitrary code or "
                       "change how later text is read)",
    "notation": "notation, infix, infixl, infixr, prefix, postfix (redefine what text means)",
    "private": "`open private` and `private` (reach hidden implementation details)",
    "unsafe": "`unsafe` and unsafe* constants (unchecked code and casts)",
    "implemented-by": "`implemented_by` (replace a definition's code by other code)",
    "extern": "`extern` (replace a definition by foreign code)",
    "axiom": "`axiom` (assume anything)",
    "instance": "`instance` (a global instance that changes elaboration or decidability)",
    "import": "`import` (load other code)",
    "search-tactic": "apply?, exact?, rw?, library_search, rw_search, observe? (slow search; "
                     "leaves sorry or suggestions, not proofs)",
    "external-tool": "polyrith (calls an external web service)",
    "attribute": "`@[...]` and `attribute` (change simp sets, instances, code generation)",
    "local-scoped": "`local`/`scoped` modifiers (scoped instances, notations, attributes)",
    "mutual": "`mutual` blocks (a second declaration beside the theorem)",
    "declaration": "def, theorem, lemma, example, abbrev, opaque, structure, class, inductive, "
                   "deriving (a new declaration after the tactic block ends)",
    "scope-command": "end, namespace, section (close the theorem's scope, open another)",
    "command": "other commands: universe, variable, export, omit, include, open ... in commands "
               "that are not tactics, noncomputable, partial, protected, alias, ...",
    "declaration-suffix": "where, termination_by, decreasing_by (attach auxiliary declarations "
                          "or proofs to the theorem outside the tactic block)",
    "debug-output": "dbg_trace, dbgTrace, dbg_trace_if_shared (write to the REPL's output)",
}

# Whole-token keywords. Lean keywords cannot be identifiers, so exact matches are never a
# legitimate name.
_KEYWORDS: dict[str, str] = {
    "sorry": "sorry", "stop": "sorry", "admit": "admit",
    "native_decide": "native-decide", "native": "native-decide",
    "set_option": "set-option",
    "run_cmd": "metaprogramming", "run_tac": "metaprogramming", "run_elab": "metaprogramming",
    "run_meta": "metaprogramming", "by_elab": "metaprogramming", "elab": "metaprogramming",
    "elab_rules": "metaprogramming", "macro": "metaprogramming", "macro_rules": "metaprogramming",
    "syntax": "metaprogramming", "declare_syntax_cat": "metaprogramming", "simproc": "metaprogramming",
    "dsimproc": "metaprogramming", "simproc_decl": "metaprogramming", "dsimproc_decl": "metaprogramming",
    "initialize": "metaprogramming", "builtin_initialize": "metaprogramming",
    "notation": "notation", "infix": "notation", "infixl": "notation", "infixr": "notation",
    "prefix": "notation", "postfix": "notation",
    "private": "private", "unsafe": "unsafe",
    "implemented_by": "implemented-by", "extern": "extern",
    "axiom": "axiom", "instance": "instance", "import": "import",
    "apply?": "search-tactic", "exact?": "search-tactic", "rw?": "search-tactic",
    "library_search": "search-tactic", "rw_search": "search-tactic", "observe?": "search-tactic",
    "polyrith": "external-tool",
    "attribute": "attribute",
    "local": "local-scoped", "scoped": "local-scoped",
    "mutual": "mutual",
    "def": "declaration", "theorem": "declaration", "lemma": "declaration", "example": "declaration",
    "abbrev": "declaration", "opaque": "declaration", "structure": "declaration", "class": "declaration",
    "inductive": "declaration", "coinductive": "declaration", "deriving": "declaration",
    "irreducible_def": "declaration",
    "end": "scope-command", "namespace": "scope-command", "section": "scope-command",
    "universe": "command", "variable": "command", "export": "command", "omit": "command",
    "include": "command", "noncomputable": "command", "partial": "command", "protected": "command",
    "nonrec": "command", "alias": "command", "assert_not_exists": "command", "library_note": "command",
    "add_decl_doc": "command", "register_simp_attr": "command", "register_option": "command",
    "compile_inductive": "command", "initialize_simps_projections": "command",
    "where": "declaration-suffix", "termination_by": "declaration-suffix",
    "decreasing_by": "declaration-suffix",
    "dbg_trace": "debug-output", "dbgTrace": "debug-output", "dbg_trace_if_shared": "debug-output",
}

# Dangerous constants, matched against every component of a dotted name.
_CONSTANTS: dict[str, str] = {
    "sorryAx": "forbidden-constant", "ofReduceBool": "forbidden-constant",
    "ofReduceNat": "forbidden-constant", "reduceBool": "forbidden-constant",
    "reduceNat": "forbidden-constant", "trustCompiler": "forbidden-constant",
    "implemented_by": "implemented-by", "native_decide": "native-decide",
    "unsafeCast": "unsafe", "unsafeIO": "unsafe", "unsafeBaseIO": "unsafe", "unsafeEIO": "unsafe",
    "dbgTrace": "debug-output", "dbgTraceIfShared": "debug-output",
}

# Zero-width, bidi and other invisible formatting characters.
_INVISIBLE = {0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x2028, 0x2029,
              0x3164, 0xFEFF, 0xFFA0} | set(range(0x200B, 0x2010)) | set(range(0x202A, 0x202F)) \
    | set(range(0x2060, 0x2070)) | set(range(0xFE00, 0xFE10)) | set(range(0xE0000, 0xE0080))

# Letters that render like ASCII letters (enough to spell every forbidden word).
_CONFUSABLES = {
    "а": "a", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "о": "o",
    "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԝ": "w", "ԁ": "d", "ɡ": "g", "ı": "i",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "К": "K", "М": "M", "О": "O", "Р": "P",
    "Т": "T", "Х": "X", "Α": "A", "Β": "B", "Ε": "E", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Χ": "X",
}


@dataclass(frozen=True)
class Violation:
    rule: str
    text: str
    line: int
    column: int

    def describe(self) -> str:
        return f"{self.rule}: {self.text!r} at line {self.line}, column {self.column}"


class _Reject(Exception):
    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.describe())
        self.violation = violation


def check_lean_screen(proof: str) -> ScreenResult:
    """Admissible, or the first rule the body breaks (``rule``) and what and where (``detail``)."""
    violation = find_violation(proof)
    return ADMISSIBLE if violation is None else refuse(violation.rule, violation.describe())


def find_violation(proof: str) -> Violation | None:
    """The first rule the body breaks, with where; None if the body is admissible."""
    if not proof.strip():
        return Violation("empty", "", 1, 0)
    if len(proof) > MAX_PROOF_CHARS:
        return Violation("too-long", f"{len(proof)} characters", 1, 0)
    try:
        _check_characters(proof)
        tokens = _Lexer(proof).tokens()
        _check_tokens(tokens)
        _check_lookalikes(tokens)
    except _Reject as reject:
        return reject.violation
    return None


# ---------------------------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------------------------

def _check_characters(text: str) -> None:
    line, column = 1, 0
    for ch in text:
        code = ord(ch)
        if ch == "\n":
            line, column = line + 1, 0
            continue
        if code in _INVISIBLE or unicodedata.category(ch) == "Cf":
            raise _Reject(Violation("invisible-character", f"U+{code:04X}", line, column))
        if unicodedata.category(ch) == "Cc":
            raise _Reject(Violation("control-character", f"U+{code:04X}", line, column))
        column += 1


# ---------------------------------------------------------------------------------------------
# Lexer (Lean's lexical rules, as far as a proof body needs them)
# ---------------------------------------------------------------------------------------------

def _is_letter_like(ch: str) -> bool:
    c = ord(ch)
    return ((0x3B1 <= c <= 0x3C9 and c != 0x3BB)                   # lower Greek except λ
            or (0x391 <= c <= 0x3A9 and c not in (0x3A0, 0x3A3))   # upper Greek except Π, Σ
            or 0x3CA <= c <= 0x3FB                                 # Coptic
            or 0x1F00 <= c <= 0x1FFE                               # polytonic Greek
            or 0x2100 <= c <= 0x214F                               # letter-like symbols
            or 0x1D49C <= c <= 0x1D59F)                            # script, double-struck, Fraktur


def _is_subscript(ch: str) -> bool:
    c = ord(ch)
    return 0x2080 <= c <= 0x2089 or 0x2090 <= c <= 0x209C or 0x1D62 <= c <= 0x1D6A


def _is_id_first(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ch == "_" or _is_letter_like(ch)


def _is_id_rest(ch: str) -> bool:
    return _is_id_first(ch) or ("0" <= ch <= "9") or ch in "'!?" or _is_subscript(ch)


@dataclass(frozen=True)
class _Token:
    kind: str  # "ident" | "symbol" | "number" | "reject"
    text: str  # for identifiers: the name with «» removed from each part
    parts: tuple[str, ...]
    line: int
    column: int
    raw: str
    rule: str = ""  # for "reject" tokens: the rule that stops lexing here


# Characters that start something a proof body never needs and a filter could misread.
_UNLEXABLE = {'"': "string-literal", "'": "char-literal", "`": "quotation"}


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self._line_starts = [0] + [k + 1 for k, ch in enumerate(text) if ch == "\n"]

    def _where(self, index: int | None = None) -> tuple[int, int]:
        """(line from 1, column from 0) of a character index."""
        index = self.i if index is None else index
        line = bisect.bisect_right(self._line_starts, index)
        return line, index - self._line_starts[line - 1]

    def _reject(self, rule: str, raw: str, start: int) -> _Token:
        line, column = self._where(start)
        return _Token("reject", raw, (), line, column, raw, rule)

    def _peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.text[j] if j < len(self.text) else ""

    def tokens(self) -> list[_Token]:
        """Tokens in reading order. Where the body stops being lexable (a string, an open
        comment), a "reject" token carries the rule and lexing stops: whatever came
        before it is still checked first, so the first violation in reading order wins."""
        out: list[_Token] = []
        text = self.text
        while self.i < len(text):
            ch = text[self.i]
            if ch in " \n":
                self.i += 1
            elif ch == "-" and self._peek(1) == "-":
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end
            elif ch == "/" and self._peek(1) == "-":
                reject = self._block_comment()
                if reject is not None:
                    out.append(reject)
                    return out
            elif ch == "«" or _is_id_first(ch):
                token = self._identifier()
                out.append(token)
                if token.kind == "reject":
                    return out
            elif "0" <= ch <= "9":
                start = self.i
                while self.i < len(text) and "0" <= text[self.i] <= "9":
                    self.i += 1
                out.append(self._token("number", start))
            elif ch in _UNLEXABLE:
                out.append(self._reject(_UNLEXABLE[ch], ch, self.i))
                return out
            else:
                start = self.i
                two = text[self.i:self.i + 2]
                self.i += 2 if two in (":=", "@[") else 1
                out.append(self._token("symbol", start))
        return out

    def _token(self, kind: str, start: int, parts: tuple[str, ...] = ()) -> _Token:
        raw = self.text[start:self.i]
        line, column = self._where(start)
        return _Token(kind, ".".join(parts) if parts else raw, parts, line, column, raw)

    def _block_comment(self) -> _Token | None:
        """Skip a (nested) block comment; a reject token if it never ends."""
        start = self.i
        self.i += 2
        depth = 1
        text = self.text
        while self.i < len(text):
            if text.startswith("-/", self.i):
                depth -= 1
                self.i += 2
                if depth == 0:
                    return None
            elif text.startswith("/-", self.i):
                depth += 1
                self.i += 2
            else:
                self.i += 1
        return self._reject("unterminated-comment", "/-", start)

    def _identifier(self) -> _Token:
        start = self.i
        text = self.text
        parts = []
        while True:
            if self._peek() == "«":
                close = text.find("»", self.i + 1)
                if close < 0:
                    return self._reject("unterminated-identifier", "«", self.i)
                parts.append(text[self.i + 1:close])
                self.i = close + 1
            else:
                part_start = self.i
                self.i += 1
                while self.i < len(text) and _is_id_rest(text[self.i]):
                    self.i += 1
                parts.append(text[part_start:self.i])
            # A dot continues the name only if another identifier part follows at once.
            if self._peek() == "." and (self._peek(1) == "«" or _is_id_first(self._peek(1))):
                self.i += 1
                continue
            return self._token("ident", start, tuple(parts))


# ---------------------------------------------------------------------------------------------
# Token rules
# ---------------------------------------------------------------------------------------------

def _check_tokens(tokens: list[_Token]) -> None:
    for k, token in enumerate(tokens):
        following = tokens[k + 1] if k + 1 < len(tokens) else None
        adjacent = following is not None and following.line == token.line \
            and following.column == token.column + len(token.raw)
        if token.kind == "reject":
            _fail(token.rule, token)
        if token.kind == "symbol":
            if token.text == "#" and adjacent and following.kind == "ident":  # type: ignore[union-attr]
                _fail("hash-command", token, "#" + following.raw)  # type: ignore[union-attr]
            if token.text == "@[":
                _fail("attribute", token)
            continue
        if token.kind != "ident":
            continue
        rule = _KEYWORDS.get(token.text)
        if rule is not None:
            _fail(rule, token)
        for part in token.parts:
            if part in _CONSTANTS:
                _fail(_CONSTANTS[part], token)
            if part.startswith("unsafe"):
                _fail("unsafe", token)
        if token.text == "eval" and adjacent and following.text == "%":  # type: ignore[union-attr]
            _fail("metaprogramming", token, "eval%")
        # `decide := true` (and `native := true`) as a configuration field.
        if token.text in ("decide", "native") and k + 2 < len(tokens) \
                and tokens[k + 1].text == ":=" and tokens[k + 2].text == "true":
            _fail("decide-config", token, f"{token.text} := true")


def _fail(rule: str, token: _Token, text: str | None = None) -> None:
    raise _Reject(Violation(rule, text or token.raw, token.line, token.column))


def _skeleton(word: str) -> str:
    folded = unicodedata.normalize("NFKC", word)
    folded = "".join(_CONFUSABLES.get(ch, ch) for ch in folded)
    return "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))


def _check_lookalikes(tokens: list[_Token]) -> None:
    # Runs of word characters across identifier and symbol tokens: a Cyrillic letter is not
    # an identifier character for Lean, so `ѕorry` lexes as two tokens but reads as one word.
    forbidden = set(_KEYWORDS) | set(_CONSTANTS)
    run: list[_Token] = []

    def flush() -> None:
        if not run:
            return
        word = "".join(t.raw for t in run)
        skeleton = _skeleton(word)
        if skeleton != word and skeleton in forbidden:
            _fail("lookalike", run[0], word)
        for t in run:
            if t.kind == "ident":
                for part in t.parts:
                    folded = _skeleton(part)
                    if folded != part and folded in forbidden:
                        _fail("lookalike", t, part)
        run.clear()

    for token in tokens:
        wordlike = token.kind == "ident" or (token.kind == "symbol" and token.text.isalnum())
        if wordlike and run and (run[-1].line != token.line
                                 or run[-1].column + len(run[-1].raw) != token.column):
            flush()
        if wordlike:
            run.append(token)
        else:
            flush()
    flush()
