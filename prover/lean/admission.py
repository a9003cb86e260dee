"""The Lean admission rule, in one place. Nothing downstream re-judges a Lean proof.

A proof body is admitted (``verified``) only if all of these hold, in order:

1. The static screen (``prover.lean.screen``) accepts the body (checked by the
   verifier before any process runs).
2. The framework composes ``theorem <name> : <statement> := by`` followed by the
   body, every line indented by two spaces, and runs it as one REPL command in
   the header's environment. The response has no message of severity
   ``error``, an empty (or absent) ``sorries`` list, and no sorry warning in
   either spelling (``declaration uses 'sorry'`` up to Lean v4.27,
   ``declaration uses `sorry` `` from v4.28).
3. ``#print axioms <name>`` runs as a separate command in the environment the
   proof produced. Its response must contain exactly one axioms report for
   ``<name>`` (either "does not depend on any axioms" or "depends on axioms:
   [...]"), the axioms must be a subset of {propext, Classical.choice,
   Quot.sound}, and the same command prints a fresh random nonce that must come
   back in the same response: a proof that made Lean print a forged report
   cannot also forge the nonce, which did not exist when the proof ran.
4. Kernel replay, where there is a checker (the toolchain's ``leanchecker``, Lean
   v4.28 on, or ``lean4checker`` built by ``lean_project/setup.sh``): the header and the composed theorem are compiled
   as a module and every declaration in it is replayed through the kernel from
   the imports' environment. This catches environment hacking that bypasses the
   elaborator's own kernel check.
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from prover.lean.pool import ReplProtocolError, ReplSession, run_limited
from prover.lean.protocol import CommandResponse, ReplError, ReplResponse, TacticResponse
from prover.verdict import ProofTask, Status, Verdict

ALLOWED_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LEAN_KEYWORDS = frozenset({"theorem", "def", "by", "fun", "have", "show", "from", "at", "do", "then",
                            "else", "if", "let", "in", "match", "with", "sorry", "where", "end", "open"})


class CompositionError(ValueError):
    """The task itself is malformed (a bad theorem name): misuse, not a failed proof."""


SIGNATURE_META_KEY = "lean_signature"  # task.meta: the statement is a signature "(x : T) ... : P"
KEYWORD_META_KEY = "lean_keyword"  # task.meta: "def" for benchmark entries stated as definitions
KEYWORDS = ("theorem", "def", "noncomputable def")


def compose_theorem(name: str, statement: str, body: str, *, signature: bool = False,
                    keyword: str = "theorem") -> str:
    """``theorem <name> : <statement> := by`` and the body, each line indented two spaces.

    With ``signature``, the statement already holds its binders and colon
    (``(x : ℕ) (h : 0 < x) : 1 ≤ x``, as benchmark files write it) and goes
    right after the name. The common indentation of the body is removed first,
    so a body written at column 0 and one written at column 2 compose to the same command.
    """
    if keyword not in KEYWORDS:
        raise CompositionError(f"declaration keyword {keyword!r} is not one of {KEYWORDS}")
    if not _NAME.fullmatch(name) or name in _LEAN_KEYWORDS:
        raise CompositionError(f"theorem name {name!r} is not a plain Lean identifier")
    if not statement.strip():
        raise CompositionError("empty statement")
    lines = textwrap.dedent(body.strip("\n")).split("\n")
    indented = "\n".join(("  " + line) if line.strip() else "" for line in lines)
    return f"{keyword} {name}{' ' if signature else ' : '}{statement} := by\n{indented}"


def axioms_command(name: str, nonce: str) -> str:
    return f'#print axioms {name}\n#print "ratchet-sync {nonce}"'


# ---------------------------------------------------------------------------------------------
# Pure checks on responses (also run on recorded transcripts)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """The outcome of one admission step: ``status`` None means "passed, go on"."""
    status: Status | None
    reason: str
    messages: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status is None


def check_compiled(response: ReplResponse | None, *, timed_out: bool = False) -> Check:
    """Step 2: the proof command's response has no errors, no sorries, no sorry warning."""
    if timed_out:
        return Check(Status.TIMEOUT, "Lean timed out")
    if response is None:
        return Check(Status.ERROR, "no response")
    if isinstance(response, ReplError):
        if response.message.startswith(("Unknown environment", "Unknown proof state")):
            # The REPL lost the header environment: our fault, not the proof's.
            return Check(Status.ERROR, f"REPL: {response.message}", (response.message,))
        return Check(Status.REJECTED, f"Lean error: {_first_line(response.message)}", (response.message,))
    if isinstance(response, TacticResponse):
        return Check(Status.ERROR, "a tactic response where a command response was expected")
    rendered = tuple(m.render() for m in response.messages)
    errors = response.errors
    if errors:
        ident = errors[0].unknown_identifier
        detail = f"unknown identifier {ident}" if ident else _first_line(errors[0].data)
        where = f" at line {errors[0].pos.line}" if errors[0].pos else ""
        return Check(Status.REJECTED, f"Lean error{where}: {detail}", rendered)
    if response.sorries:
        return Check(Status.REJECTED, f"proof contains sorry ({len(response.sorries)} reported)", rendered)
    if any(m.is_sorry_warning for m in response.messages):
        return Check(Status.REJECTED, "declaration uses sorry", rendered)
    return Check(None, "compiled: no errors, no sorry", rendered)


_AXIOMS_REPORT = re.compile(
    r"""^\s*['`«]?(?P<name>[^'`»\s]+)['`»]?\s+
        (?:(?P<none>does\ not\ depend\ on\ any\ axioms)
          |depends\ on\ axioms:\s*\[(?P<list>[^\]]*)\])\s*$""",
    re.VERBOSE | re.DOTALL)


def parse_axioms_report(text: str, name: str) -> tuple[str, ...] | None:
    """The axioms listed by ``#print axioms <name>``'s message, or None if ``text`` is not that report.

    Accepts the name quoted as 'n' or `n`, or qualified by a namespace the
    header left open (``Ns.n``), and a list wrapped over several lines.
    """
    match = _AXIOMS_REPORT.match(text)
    if not match:
        return None
    printed = match.group("name")
    if printed != name and not printed.endswith("." + name):
        return None
    if match.group("none"):
        return ()
    return tuple(a for a in re.split(r"[\s,]+", match.group("list")) if a)


def carries_nonce(response: ReplResponse, nonce: str) -> bool:
    """True if this response was produced by the request that printed ``nonce``."""
    return isinstance(response, CommandResponse) and any(
        m.severity == "info" and m.data.strip() == f"ratchet-sync {nonce}" for m in response.messages)


def check_axioms(response: ReplResponse, name: str, nonce: str) -> Check:
    """Step 3: the separate ``#print axioms`` command, with the nonce proving it is fresh output."""
    if not isinstance(response, CommandResponse):
        return Check(Status.ERROR, f"#print axioms: unexpected response {response}")
    rendered = tuple(m.render() for m in response.messages)
    if not carries_nonce(response, nonce):
        # Never an admission: this is not the answer to our request (forged or stale output).
        return Check(Status.REJECTED, "#print axioms response lacks this request's nonce (forged output?)",
                     rendered)
    if response.errors:
        return Check(Status.REJECTED, f"#print axioms failed: {_first_line(response.errors[0].data)}", rendered)
    reports = [r for r in (parse_axioms_report(m.data, name) for m in response.messages
                           if m.severity == "info") if r is not None]
    if len(reports) != 1:
        return Check(Status.ERROR, f"expected one axioms report for {name}, found {len(reports)}", rendered)
    axioms = reports[0]
    extra = sorted(set(axioms) - ALLOWED_AXIOMS)
    if extra:
        return Check(Status.REJECTED, f"depends on axioms outside the allowlist: {', '.join(extra)}", rendered)
    return Check(None, f"axioms: [{', '.join(axioms)}]", rendered)


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0][:300]


# ---------------------------------------------------------------------------------------------
# Kernel replay
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KernelChecker:
    """Compile ``header + theorem`` as a module and replay it with a kernel checker.

    ``lean`` and ``checker`` are argv prefixes; ``lean_path`` is the project's
    LEAN_PATH (from ``lake env``), to which the module's temporary directory is
    prepended so the checker can find the module by name; ``bin_dir`` (elan's
    proxies) goes first on PATH so the checker finds the pinned toolchain's
    sysroot from the project directory.
    """
    name: str
    lean: tuple[str, ...]
    checker: tuple[str, ...]
    cwd: str
    lean_path: str
    bin_dir: str
    memory_mb: int = 8192

    def replay(self, source: str, timeout_s: float) -> Check:
        module = "RatchetReplay"
        with tempfile.TemporaryDirectory(prefix="ratchet-lean-replay-") as tmp:
            path = Path(tmp) / f"{module}.lean"
            path.write_text(source + "\n", encoding="utf-8")
            env = dict(os.environ)
            env["LEAN_PATH"] = tmp + (os.pathsep + self.lean_path if self.lean_path else "")
            env["PATH"] = self.bin_dir + os.pathsep + env.get("PATH", "")
            # -R makes the module name RatchetReplay, as Lake would name it, so the checker finds it.
            code, output = self._run([*self.lean, "-R", tmp, "-o", str(Path(tmp) / f"{module}.olean"), str(path)],
                                     env, timeout_s)
            if code is None:
                return Check(Status.TIMEOUT, f"kernel replay: compiling the module took over {timeout_s:g} s")
            if code < 0:
                return Check(Status.REJECTED, f"kernel replay: crashed twice: compiling the module was killed by "
                                              f"signal {-code}, and again on a fresh process", (output,))
            if code != 0:
                return Check(Status.REJECTED, f"kernel replay: the module does not compile: {_first_line(output)}",
                             (output,))
            code, output = self._run([*self.checker, module], env, timeout_s)
            if code is None:
                return Check(Status.TIMEOUT, f"kernel replay: {self.name} took over {timeout_s:g} s")
            if code < 0:
                return Check(Status.REJECTED, f"kernel replay: crashed twice: {self.name} was killed by signal "
                                              f"{-code}, and again on a fresh process", (output,))
            if code != 0:
                return Check(Status.REJECTED, f"kernel replay: {self.name} rejected the module: "
                                              f"{_first_line(output)}", (output,))
        return Check(None, f"kernel replay: {self.name} accepted")

    def _run(self, argv: list[str], env: dict[str, str], timeout_s: float) -> tuple[int | None, str]:
        """Run one replay step; a process killed by a signal (a crash, not a verdict) runs once more."""
        code, output = run_limited(argv, cwd=self.cwd, env=env, timeout_s=timeout_s, memory_mb=self.memory_mb)
        if code is not None and code < 0:
            code, output = run_limited(argv, cwd=self.cwd, env=env, timeout_s=timeout_s, memory_mb=self.memory_mb)
        return code, output


# ---------------------------------------------------------------------------------------------
# The whole rule against a live REPL session
# ---------------------------------------------------------------------------------------------

def judge(session: ReplSession, task: ProofTask, deadline: float, *, header: str,
          checker: KernelChecker | None, replay_timeout_s: float) -> Verdict:
    """Steps 2-4 for one task on one session (step 1, the screen, ran before).

    REPL faults (timeout, crash, out-of-protocol output) propagate as exceptions
    for the pool to turn into verdicts and replace the process.
    """
    source = compose_theorem(task.name, task.statement, task.proof, signature=bool(task.meta.get(SIGNATURE_META_KEY)),
                             keyword=task.meta.get(KEYWORD_META_KEY, "theorem"))
    response = session.command(source, session.header_env, deadline)
    compiled = check_compiled(response)
    if not compiled.passed:
        return _verdict(compiled)
    assert isinstance(response, CommandResponse)
    if response.env is None:
        raise ReplProtocolError("the proof's response has no environment id")

    nonce = secrets.token_hex(12)
    printed = session.command(axioms_command(task.name, nonce), response.env, deadline)
    if not carries_nonce(printed, nonce):
        # The stream carried output this request did not produce: the pool rejects the proof
        # and replaces the process, whose later answers could be stale too.
        raise ReplProtocolError("the #print axioms answer lacks this request's nonce (forged or stale output)")
    checked = check_axioms(printed, task.name, nonce)
    if not checked.passed:
        return _verdict(checked, compiled.messages)

    replayed = "kernel replay: not available for this toolchain"
    if checker is not None:
        replay = checker.replay(f"{header}\n\n{source}", replay_timeout_s)
        if not replay.passed:
            return _verdict(replay, compiled.messages)
        replayed = replay.reason
    return Verdict(Status.VERIFIED, f"no errors, no sorry; {checked.reason}; {replayed}", compiled.messages)


def _verdict(check: Check, messages: tuple[str, ...] = ()) -> Verdict:
    assert check.status is not None
    return Verdict(check.status, check.reason, messages + check.messages)
