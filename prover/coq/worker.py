"""One persistent ``coqtop`` process: the header loaded once, then many proofs, each undone or kept in place.

Each proof is a file, run with ``Load``
---------------------------------------
The worker writes every proof into a file of its own, in a private directory,
and runs it with one top-level command, ``Load "<file>"``. The file ends with
a sentence that always fails (it names an unguessable constant), so the Load
always fails, and coqtop's answer to a failed command is to return to the
state before it: every definition, option, notation, hint or tactic the proof
made is gone before the next proof starts, exactly as the header left it.
This replaces an explicit ``Reset``, and it is what makes the pool fast:

* ``Load`` stops at the first error, as ``coqc`` does; coqtop reading from a
  pipe would go on running every later sentence of a failed proof;
* an error made inside a proof, then undone with ``Reset``, leaves coqtop's
  document a little longer each time, and every later Reset and error pays
  for all of them (measured on Coq 8.16.1: a failed proof cost 9 ms, and
  165 ms after 800 failed proofs); a failed top-level ``Load`` leaves nothing
  behind, so a failed proof costs about 0.5 ms however many came before.

Talking to coqtop over a pipe
-----------------------------
coqtop writes messages (command output, and anything a proof prints with
``idtac``) to stdout, and prompts, warnings and errors to stderr. The two pipes
are read separately, so text a proof prints can never be taken for an error,
and an error is never looked for where a proof can write.

A proof can print anything, so nothing it prints may look like the verifier's
own markers. Every marker is named by a nonce of 64 random bits drawn after
the proof was written, and a proof cannot read the file it is in. After each
top-level command the worker sends a mark, answered on each stream:

    Locate ratchet__s_<nonce>.   stdout: No object of basename ratchet__s_<nonce>
    Set Ratchet_<nonce>.         stderr: Warning: There is no flag or option with this
                                         name: "Ratchet_<nonce>".

Neither answer occurs in the request text (which says ``Locate ...`` and
``Set Ratchet_...`` without quotes), so neither an echo of the input in an
error message nor a proof's output can forge it, and what each stream says
between two marks belongs to the command between them.

Single pass: proofs kept in place (the pool's default)
-----------------------------------------------------
Running a proof's tactics is most of what checking it costs, so the pool runs
them once. Before any proof, every statement of the batch is bound, in the
environment the header made, under a name no proof can guess (``bind``)::

    Definition ratchet__st_<s> : Type := (<statement>).   (one for each distinct statement)
    Definition ratchet__base_<r> := Prop.                  (the marker ``reset`` returns to)

Then each proof is one Load that, unlike the files below, has no failing last
sentence (``commit``)::

    Theorem <name> : <statement>.
    Abort.
    Locate ratchet__s_<a>.                  -> stdout: it can be stated where coqc would state it
    Module ratchet__m_<k>.
    Section ratchet__x_<k>.
    Theorem <name> : <statement>.
    Proof.
    <body>
    Unshelve.
    all: fail "ratchet__open_<c>".
    Locate ratchet__s_<b>.                  -> stdout: every tactic ran and no goal is left
    Qed.                                    -> the kernel checks the term
    End ratchet__x_<k>.
    End ratchet__m_<k>.
    Locate ratchet__s_<d>.                  -> stdout: it compiled
    Definition ratchet__chk_<k> : ratchet__st_<s> := ratchet__m_<k>.<name>.
    Locate ratchet__s_<e>.                  -> stdout: it proves the statement as bound

A proof that fails anywhere is undone with its Load, as always. One that gets
through is kept: its module stays, so its term can be audited later without
running its tactics again. The module and section are named by nonces, so no
proof can end them early or import them: whatever a kept proof's tactics
declare is out of reach of every later proof, and what a section keeps local
(hints, notations, options, tactic definitions) ends with it; Coq also refuses
to change the kernel's typing flags inside a section. The statement each proof
is checked against was bound before anything was kept, so what earlier proofs
did cannot change what a later one must prove.

Every so many kept proofs, the pool prints their assumptions together
(``assume``: one ``Print Assumptions`` over a list of all of them, undone
after) and returns to the marker (``reset``: ``Reset``, which drops every kept
module and keeps the bound statements). A proof that failed while others were
kept is judged again after the reset, in the header's environment alone, and
that verdict is final; so a kept proof can never make another one fail.

What isolation rests on here: nothing a tactic can do outlives a module and a
section. A vernacular command can (one with a ``Global`` attribute, or
``Require``), which is why the static screen refuses every sentence of a body
that is not a tactic; the two-phase mode below (``check`` then ``audit``, in
which every proof first runs alone and is undone) does not depend on that, and
is what the pool runs where modules cannot be used (a header that leaves a
section open: ``modules_ok``).

What one proof's file says (phase 1)
------------------------------------
::

    Definition ratchet__st_<a> : Type := (<statement>).
    Locate ratchet__s_<b>.                  -> stdout: the statement elaborated
    Theorem <name> : <statement>.
    Locate ratchet__s_<f>.                  -> stdout: the theorem could be stated (name free)
    Proof.
    <body>
    Unshelve.
    all: fail "ratchet__open_<c>".          -> fails if any goal is left, shelved ones included
    Locate ratchet__s_<d>.                  -> stdout: every tactic ran and no goal is left
    Check ratchet__undo_<e>.                -> the error that undoes the Load

The first error stops the file; which of the ``Locate`` answers came before it
says which part failed, and the error itself (on stderr) says why. Phase 1
runs the tactics only: there is no ``Qed`` and no statement check here. Both
are the audit's, which must compile the proof again anyway to keep its term,
so the kernel checks each proof once, not twice.

What the audit's file says (phase 2)
------------------------------------
The proofs that passed phase 1 are replayed together, one module each::

    Definition ratchet__st_<t>_<i> : Type := (<statement i>).      (for every i, first)
    Module ratchet__m_<t>_<i>.
    Theorem ratchet__pa_<t>_<i> : <statement i>.
    Proof.
    <body i>
    Qed.                                    -> the kernel checks the term
    End ratchet__m_<t>_<i>.
    Locate ratchet__s_<p>.                  -> stdout: proof i compiled
    Definition ratchet__chk_<t>_<i> : ratchet__st_<t>_<i> := ratchet__m_<t>_<i>.ratchet__pa_<t>_<i>.
    Definition ratchet__acc_<t>_<i+1> := pair ... ratchet__chk_<t>_<i> ratchet__acc_<t>_<i>.
    Locate ratchet__s_<q>.                  -> stdout: it inhabits statement i as elaborated
    ...
    Print Assumptions ratchet__acc_<t>_<k>. (between two more Locate marks)
    Check ratchet__undo_<u>.

The statement is bound before any proof runs, under a name no proof can
guess, and checked by the elaborator and the kernel, not by a tactic the body
could have shadowed. The module is what keeps the verdict independent of the
rest of the group: a constant that a proof's tactics declare
(``transparent_abstract ... using NAME``, a scheme Coq derives on demand such
as ``internal_eq_rew_r_dep``) is reachable after ``End`` only as
``ratchet__m_<t>_<i>.NAME``, a name no other proof can know, so no proof
replayed later can pick it up, as none could in phase 1 or under ``coqc``.

``Print Assumptions`` is the expensive check (about 0.3 s for a proof that uses
``lia``: it walks every opaque proof the theorem depends on, and Coq keeps no
cache between calls), which is why the group's proofs are bound in one tuple
and its assumptions printed once: a shared dependency is walked once for the
whole group. Only if the tuple is not closed (which the static screen makes
rare) are the proofs audited in smaller groups, down to one, so the reason
names a proof's own axioms. That file is undone like any other.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from prover.coq.process import Interactive, OutputLimit, ProcessDied, ProcessTimeout, find_program
from prover.verdict import ProofTask, Status, Verdict

CLOSED = "Closed under the global context"
# coqtop flags shared with the fresh-process baseline: no rc file; native_compute off (it
# would compile and run OCaml outside the kernel; the screen refuses it as well).
COQ_FLAGS = ["-q", "-native-compiler", "no"]


class CoqInfraError(RuntimeError):
    """coqtop cannot be started or the header does not load: proofs cannot be judged."""


def _nonce() -> str:
    return secrets.token_hex(8)


def _mark(nonce: str) -> str:
    """The commands that end a part of a request: one answer on stdout, one on stderr."""
    return f"Locate ratchet__s_{nonce}.\nSet Ratchet_{nonce}.\n"


def _read_part(process: Interactive, nonce: str, deadline: float) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines) of one part of a request, up to its marks."""
    out = process.read_until("out", f"No object of basename ratchet__s_{nonce}", deadline)
    # The warning may be wrapped over two lines; the quoted name itself is never split.
    err = process.read_until("err", f'"Ratchet_{nonce}".', deadline, contains=True)
    return out, err


def _undo(nonce: str) -> str:
    """The last sentence of every file: it always fails, so coqtop undoes the whole Load."""
    return f"Check ratchet__undo_{nonce}.\n"


def _undone(err: list[str], nonce: str) -> bool:
    """Whether the Load failed at its last sentence, i.e. everything before it ran and was undone."""
    return first_error(err) == f"Error: The reference ratchet__undo_{nonce} was not found in the current environment."


def _coq_string(text: str) -> str:
    """``text`` as a Coq string literal (a double quote is written twice)."""
    return '"' + text.replace('"', '""') + '"'


def _after(lines: list[str], wanted: str, start: int = 0) -> int | None:
    """The index just past the first line equal to ``wanted`` at or after ``start``; None if absent."""
    try:
        return lines.index(wanted, start) + 1
    except ValueError:
        return None


def first_error(lines: list[str]) -> str | None:
    """Coq's first error in a block of output, joined onto one line; None if there is none."""
    for i, line in enumerate(lines):
        if line.startswith("Error:") or line.startswith("Anomaly"):
            block = [line]
            for more in lines[i + 1:]:
                if not more.strip() or more.startswith("Toplevel input"):
                    break
                block.append(more.strip())
            text = " ".join(" ".join(block).split())
            return text if len(text) <= 300 else text[:297] + "..."
    return None


def all_errors(lines: list[str]) -> tuple[str, ...]:
    out = []
    for i, line in enumerate(lines):
        if line.startswith("Error:") or line.startswith("Anomaly"):
            out.append(first_error(lines[i:]) or line)
    return tuple(out)


def axioms_reason(lines: list[str]) -> str:
    """One line saying what ``Print Assumptions`` listed, e.g. ``axioms: depends on classic``."""
    entries: list[str] = []  # Coq wraps long entries: an indented line continues the one above
    for line in lines:
        if line[:1].isspace() and line.strip() and entries:
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    names, notes = [], []
    for line in entries:
        if not line.strip() or line.rstrip().endswith(":") or line.startswith("Error"):
            continue  # blank lines, headings such as "Axioms:", errors
        if " : " in line:
            names.append(line.split(" : ", 1)[0].strip())
        else:
            notes.append(line.strip().rstrip("."))  # e.g. "f is assumed to be guarded."
    names, notes = list(dict.fromkeys(names)), list(dict.fromkeys(notes))
    parts = ([f"depends on {', '.join(names)}"] if names else []) + notes
    if parts:
        return "axioms: " + "; ".join(parts)
    err = first_error(lines)
    return f"axioms: the assumptions could not be printed ({err or 'no answer'})"


def closed(lines: list[str]) -> bool:
    """Whether ``Print Assumptions`` said exactly that the term is closed, and nothing else."""
    return [ln.strip() for ln in lines if ln.strip()] == [CLOSED]


@dataclass
class Phase1:
    """What phase 1 concluded about one task: a final verdict, or 'passed, needs the audit'.

    ``crashed``: coqtop died while running this proof (the verdict then says so); the
    pool gives such a proof one more try on a fresh worker before it believes it.
    """
    verdict: Verdict | None
    seconds: float
    crashed: bool = False


@dataclass
class Audit:
    """What replaying a group of proofs in one file (phase 2) showed.

    ``outcome`` is one of:

    * ``"assumptions"``: every proof compiled, was kept, and proves its statement;
      ``lines`` is what ``Print Assumptions`` said of all of them together;
    * ``"compile"`` or ``"check"``: proof number ``failed`` did not compile (``Qed``
      included), or what it defined does not prove its statement; ``lines`` holds the error;
    * ``"timeout"``, ``"died"``, ``"output"``: the worker had to be killed (``lines``
      holds coqtop's last words when it died);
    * ``"unknown"``: the answer made no sense (the worker is not to be trusted).
    """
    outcome: str
    lines: list[str]
    failed: int | None = None


@dataclass
class Kept:
    """What running one proof to its end in place (``CoqWorker.commit``) showed.

    ``check`` names the definition that now holds a proof that compiled and proves its
    statement: the proof is kept on the worker, and only its assumptions are left to
    judge. Otherwise ``verdict`` says why not (``crashed`` as for ``Phase1``).
    """
    verdict: Verdict | None
    seconds: float
    check: str | None = None
    crashed: bool = False


_MODULE_PREFIX = re.compile(r"ratchet__m_[0-9a-f]+(?:_\d+)?\.")
_INTERNAL_NAME = re.compile(r"ratchet__(?:pa|chk|acc)_[0-9a-f]+(?:_\d+)?")


def own_name(lines: list[str] | tuple[str, ...], name: str) -> list[str]:
    """Coq's messages about a replayed or kept proof, with its internal names replaced by the task's own."""
    return [_INTERNAL_NAME.sub(name, _MODULE_PREFIX.sub("", ln)) for ln in lines]


class CoqWorker:
    def __init__(self, header: str, memory_mb: int, max_output_bytes: int = 1_000_000,
                 startup_timeout_s: float = 120.0, coqtop: str = "coqtop"):
        path = find_program(coqtop)
        if path is None:
            raise CoqInfraError(f"{coqtop} not found on PATH; install Coq (Debian/Ubuntu: apt-get install coq)")
        self.uses = 0
        # Single pass (see "Proofs kept in place" above): statement text -> the name it is bound
        # to on this worker, or the verdict for a statement that does not elaborate; the marker
        # that ``reset`` returns to; how many proofs are kept since the last reset.
        self.statements: dict[str, str | Verdict] = {}
        self.marker: str | None = None
        self.kept = 0
        self._modules: bool | None = None
        self.pristine: str | None = None  # ``fingerprint()`` with nothing kept (None: not available)
        self.process = Interactive([path, *COQ_FLAGS], memory_mb, max_output_bytes)
        self.files = Path(self.process.workdir)  # proofs are written here; it goes when the process does
        n = _nonce()
        # Silent: coqtop would otherwise print every goal after every tactic, which costs time and output.
        # The unknown-option warning is the stderr mark: make sure the header did not silence it.
        self.process.send(f'{header}\nSet Warnings "unknown-option".\nSet Silent.\n{_mark(n)}')
        try:
            _, lines = _read_part(self.process, n, time.monotonic() + startup_timeout_s)
        except ProcessTimeout:
            self.close()
            raise CoqInfraError(f"the header did not load within {startup_timeout_s:.0f}s") from None
        except ProcessDied as died:
            self.close()
            raise CoqInfraError(f"coqtop exited while loading the header (memory limit {memory_mb} MiB?): "
                                f"{died.last_output.strip()[-300:]}") from None
        except OutputLimit:
            self.close()
            raise CoqInfraError("the header printed too much output") from None
        err = first_error(lines)
        if err:
            self.close()
            raise CoqInfraError(f"the header failed to load: {err}")

    def close(self) -> None:
        self.process.kill()

    @staticmethod
    def _restored(err: list[str]) -> bool:
        """Whether coqtop undid a Load: it does so exactly when the Load failed, which it reports on stderr."""
        return first_error(err) is not None

    def _load(self, text: str) -> tuple[str, Path]:
        """Write ``text`` to a new file; the command that runs it, and the file."""
        path = self.files / f"p_{_nonce()}.v"
        path.write_text(text, encoding="utf-8")
        return f"Load {_coq_string(str(path))}.\n", path

    def _read_proof(self, nonce: str, start: float, timeout_s: float
                    ) -> tuple[list[str], list[str], tuple[Verdict, float, bool] | None]:
        """(stdout, stderr, None) of one proof's part, read up to its mark within ``timeout_s`` of
        ``start``; or ([], [], (verdict, seconds, crashed)) when the worker has to be killed."""
        try:
            out, err = _read_part(self.process, nonce, start + timeout_s)
            return out, err, None
        except ProcessTimeout:
            return [], [], (Verdict(Status.TIMEOUT, f"timeout after {timeout_s:.1f}s", seconds=timeout_s),
                            timeout_s, False)
        except ProcessDied as died:
            took = time.monotonic() - start
            return [], [], (Verdict(Status.REJECTED, _died(died), seconds=took), took, True)
        except OutputLimit as exc:
            took = time.monotonic() - start
            return [], [], (Verdict(Status.REJECTED, f"rejected: output limit ({exc})", seconds=took), took, False)

    # -- phase 1: run each proof's tactics in the pristine environment -------------------------

    def check(self, tasks: list[ProofTask], timeout_s: float) -> tuple[list[Phase1], bool]:
        """Phase 1 for a chunk, in one write. Returns results for a prefix of ``tasks``.

        The second value is False when the worker had to be killed (timeout,
        death, output flood) or its state can no longer be trusted (a Load that
        was not undone): the prefix then ends with the task that did it, and
        the rest must go to a new worker.
        """
        plans, commands, files = [], [], []
        for t in tasks:
            n = [_nonce() for _ in range(7)]
            command, path = self._load(
                f"Definition ratchet__st_{n[0]} : Type := ({t.statement}).\nLocate ratchet__s_{n[1]}.\n"
                f"Theorem {t.name} : {t.statement}.\nLocate ratchet__s_{n[6]}.\nProof.\n{t.proof}\n"
                # No goal may be left, shelved ones included (Qed refuses those too). Qed's kernel
                # check is left to the audit, which must compile the proof again anyway to keep
                # its term: done once, not twice. Outside a proof, Unshelve fails as Qed would.
                f'Unshelve.\nall: fail "ratchet__open_{n[2]}".\nLocate ratchet__s_{n[3]}.\n{_undo(n[4])}')
            plans.append(n)
            files.append(path)
            commands.append(command + _mark(n[5]))
        self.process.send("".join(commands))
        results: list[Phase1] = []
        start = time.monotonic()
        try:
            for t, n in zip(tasks, plans):
                out, err, killed = self._read_proof(n[5], start, timeout_s)
                if killed is not None:
                    results.append(Phase1(*killed))
                    return results, False
                now = time.monotonic()
                seconds, start = now - start, now
                self.uses += 1
                verdict = self._judge_phase1(n, out, err, seconds)
                if not self._restored(err):
                    # The Load did not fail, so coqtop did not undo it: whatever the proof left
                    # behind is still there. Judge nothing else on this worker.
                    results.append(Phase1(verdict or Verdict(Status.REJECTED, "rejected: the worker's state could "
                                                             "not be restored after the proof", seconds=seconds),
                                          seconds))
                    return results, False
                if verdict is None and not _undone(err, n[4]):
                    verdict = Verdict(Status.REJECTED, f"rejected: unexpected error after the proof: "
                                      f"{first_error(err)}", all_errors(err), seconds)
                results.append(Phase1(verdict, seconds))
            return results, True
        finally:
            for path in files:
                path.unlink(missing_ok=True)

    @staticmethod
    def _judge_phase1(n: list[str], out: list[str], err: list[str], seconds: float) -> Verdict | None:
        """The verdict from phase 1's output, or None when the proof passed (the audit decides).

        Which parts of the file ran is read from stdout answers that name
        nonces the proof could not know; why one failed is read from stderr,
        which a proof cannot write to.
        """
        why = first_error(err)
        elaborated = _after(out, f"No object of basename ratchet__s_{n[1]}")
        if elaborated is None:
            return Verdict(Status.ERROR, f"error: the statement does not elaborate: {why or 'no answer'}",
                           all_errors(err), seconds)
        stated = _after(out, f"No object of basename ratchet__s_{n[6]}", elaborated)
        if stated is None:  # the statement or the name cannot head a theorem (a name the header took)
            return Verdict(Status.ERROR, f"error: the theorem cannot be stated: {why or 'no answer'}",
                           all_errors(err), seconds)
        # Any error while the body ran fails the proof, as coqc would stop at it.
        if _after(out, f"No object of basename ratchet__s_{n[3]}", stated) is None:
            if why is not None and f"ratchet__open_{n[2]}" in why:
                return Verdict(Status.REJECTED, "rejected: the proof is incomplete (goals remain after its "
                               "last tactic)", all_errors(err), seconds)
            return Verdict(Status.REJECTED, f"rejected: {why or 'the proof did not run'}", all_errors(err), seconds)
        return None

    def _run_file(self, text: str, timeout_s: float) -> tuple[list[str], list[str]] | Audit:
        """Load ``text`` as one file: (stdout, stderr) up to a mark after it, or the Audit that says
        why the worker has to be killed (timeout, death, output flood)."""
        command, path = self._load(text)
        try:
            return self._send_part(command, timeout_s)
        except ProcessTimeout:
            return Audit("timeout", [])
        except ProcessDied as died:
            return Audit("died", [_died(died)])
        except OutputLimit as exc:
            return Audit("output", [str(exc)])
        finally:
            path.unlink(missing_ok=True)

    # -- phase 2: compile the passed proofs again, keep them, print their assumptions ----------

    def audit(self, tasks: list[ProofTask], timeout_s: float) -> Audit:
        """Replay ``tasks`` in one file and print the assumptions of all of them at once.

        Each proof is compiled (``Qed``: the kernel checks the term) under a
        fresh name and checked against its statement; all are bound in one
        tuple, so a dependency they share is walked once by ``Print Assumptions``.
        The file stops at the first failure, which is reported with the
        failing proof's position. On a timeout, death or flood the worker is
        unusable and the caller replaces it.
        """
        tag = _nonce()
        k = len(tasks)
        n = [_nonce() for _ in range(4)]
        marks = [(_nonce(), _nonce()) for _ in tasks]
        # Statements and the pairing function are bound under unguessable names before any
        # proof is replayed, so no replayed proof can change what the checks below mean.
        parts = [f"Definition ratchet__st_{tag}_{i} : Type := ({t.statement}).\n" for i, t in enumerate(tasks)]
        parts.append(f"Definition ratchet__pair_{tag} := @pair.\nDefinition ratchet__acc_{tag}_0 := tt.\n")
        for i, t in enumerate(tasks):
            # Each proof is replayed inside a module of its own, closed before the next proof:
            # whatever constant its tactics declare (a name given to ``abstract ... using``, a
            # scheme Coq derives on demand) is then reachable only through the module's
            # unguessable name, so no later proof of the group can use it.
            # A proof audited alone needs no module (the file is undone after it), and a library
            # context inside an open Section cannot have one (Coq refuses modules in sections).
            sentences = f"Theorem ratchet__pa_{tag}_{i} : {t.statement}.\nProof.\n{t.proof}\nQed.\n"
            theorem, replay = ((f"ratchet__pa_{tag}_{i}", sentences) if k == 1 else
                               _in_module(f"ratchet__m_{tag}_{i}", f"ratchet__pa_{tag}_{i}", sentences))
            parts.append(replay + f"Locate ratchet__s_{marks[i][0]}.\n"
                         f"Definition ratchet__chk_{tag}_{i} : ratchet__st_{tag}_{i} := {theorem}.\n"
                         f"Definition ratchet__acc_{tag}_{i + 1} := ratchet__pair_{tag} _ _ "
                         f"ratchet__chk_{tag}_{i} ratchet__acc_{tag}_{i}.\nLocate ratchet__s_{marks[i][1]}.\n")
        # Every replayed proof has run by the first Locate: nothing after it is the proofs' output.
        parts.append(f"Locate ratchet__s_{n[0]}.\nPrint Assumptions ratchet__acc_{tag}_{k}.\n"
                     f"Locate ratchet__s_{n[1]}.\n{_undo(n[2])}")
        answer = self._run_file("".join(parts), timeout_s)
        if isinstance(answer, Audit):
            return answer
        out, err = answer
        if not self._restored(err):
            return Audit("unknown", ["the replay was not undone"])
        at = 0
        for i, (compiled, checked) in enumerate(marks):
            ok = _after(out, f"No object of basename ratchet__s_{compiled}", at)
            if ok is None:
                return Audit("compile", list(all_errors(err)), i)
            at = _after(out, f"No object of basename ratchet__s_{checked}", ok)
            if at is None:
                return Audit("check", list(all_errors(err)), i)
        begin = _after(out, f"No object of basename ratchet__s_{n[0]}", at)
        end = _after(out, f"No object of basename ratchet__s_{n[1]}", begin or at)
        if begin is None or end is None or not _undone(err, n[2]):
            return Audit("unknown", list(all_errors(err)) or ["Print Assumptions gave no answer"])
        return Audit("assumptions", out[begin:end - 1])


    # -- single pass: every proof run once, to its end, and kept in place ------------------------

    def _send_part(self, text: str, timeout_s: float) -> tuple[list[str], list[str]]:
        """Send ``text`` and read both streams up to a mark after it (raises as ``_read_part``)."""
        n = _nonce()
        self.process.send(text + _mark(n))
        return _read_part(self.process, n, time.monotonic() + timeout_s)

    def modules_ok(self, timeout_s: float = 60.0) -> bool:
        """Whether a proof can be kept here in a module and section of its own.

        False where the header leaves a section open (Coq refuses modules inside sections):
        such a worker can only run the two-phase ``check`` and ``audit``.
        """
        if self._modules is None:
            n, u = _nonce(), _nonce()
            command, path = self._load(f"Module ratchet__m_{n}.\nSection ratchet__x_{n}.\nEnd ratchet__x_{n}.\n"
                                       f"End ratchet__m_{n}.\n{_undo(u)}")
            try:
                _, err = self._send_part(command, timeout_s)
            finally:
                path.unlink(missing_ok=True)
            self._modules = _undone(err, u)
        return self._modules

    def bind(self, statements: list[str], timeout_s: float) -> bool:
        """Bind every statement not yet bound here under a name no proof can guess.

        Must run while nothing is kept (the environment is then the header's own), so each
        statement means what it means under the header, whatever the proofs kept later do.
        All are bound in one Load; if one does not elaborate, that Load is undone, the
        statement is recorded with its verdict, and the rest are bound again without it.
        Then a new reset marker is set above the bindings, so ``reset`` keeps them. False
        if the worker had to be killed (the caller replaces it).
        """
        assert self.kept == 0, "statements are bound only while nothing is kept"
        todo = [st for st in dict.fromkeys(statements) if st not in self.statements]
        if not todo and self.marker is not None:
            return True
        try:
            while todo:
                names = [f"ratchet__st_{_nonce()}" for _ in todo]
                marks = [_nonce() for _ in todo]
                u = _nonce()
                command, path = self._load("".join(f"Definition {name} : Type := ({st}).\nLocate ratchet__s_{m}.\n"
                                                   for st, name, m in zip(todo, names, marks)))
                try:
                    out, err = self._send_part(command, timeout_s + 0.01 * len(todo))
                finally:
                    path.unlink(missing_ok=True)
                why = first_error(err)
                if why is None:
                    self.statements.update(zip(todo, names))
                    break
                # The first statement whose mark is missing is the one that failed; the Load was undone.
                at, bad = 0, 0
                while bad < len(todo) and (nxt := _after(out, f"No object of basename ratchet__s_{marks[bad]}", at)):
                    at, bad = nxt, bad + 1
                if bad == len(todo):
                    return False  # every statement ran, yet the Load failed: not to be trusted
                self.statements[todo[bad]] = Verdict(Status.ERROR, f"error: the statement does not elaborate: "
                                                     f"{why}", all_errors(err))
                todo = todo[bad + 1:] if bad == 0 else todo[:bad] + todo[bad + 1:]
            marker = f"ratchet__base_{_nonce()}"
            _, err = self._send_part(f"Definition {marker} := Prop.\n", timeout_s)
        except (ProcessTimeout, ProcessDied, OutputLimit):
            return False
        if first_error(err) is not None:
            return False
        self.marker = marker
        self.pristine = self.fingerprint(timeout_s)
        return True

    def fingerprint(self, timeout_s: float = 60.0) -> str | None:
        """A digest of the global state a kept proof could change and a later proof could see.

        The universe graph (``Print Universes`` into a file: it is large), every option and
        table (``Print Tables``) and the loaded libraries (``Print Libraries``). Kept modules
        are not in it: no later proof can reach into them. None when Coq will not print them.
        """
        path = self.files / f"u_{_nonce()}.dot"
        try:
            out, err = self._send_part(f"Print Universes {_coq_string(str(path))}.\nPrint Tables.\n"
                                       f"Print Libraries.\n", timeout_s)
            if first_error(err) is not None or not path.exists():
                return None
            said = [ln for ln in out if not ln.startswith("Universes written to file")]  # names the file
            return hashlib.sha256(path.read_bytes() + "\n".join(said).encode()).hexdigest()
        except (ProcessTimeout, ProcessDied, OutputLimit):
            return None
        finally:
            path.unlink(missing_ok=True)

    def commit(self, tasks: list[ProofTask], timeout_s: float) -> tuple[list[Kept], bool]:
        """Run each proof once, to its end, and keep the ones that compile and prove their statement.

        Every statement must have been bound (``bind``). Returns results for a prefix of
        ``tasks`` and whether the worker is still usable, as ``check`` does. A proof that
        fails is undone with its Load; one that succeeds stays, inside its module, until
        ``reset``.
        """
        plans, commands, files = [], [], []
        for t in tasks:
            st = self.statements[t.statement]
            assert isinstance(st, str), "a task whose statement does not elaborate is never committed"
            a, n = _nonce(), [_nonce() for _ in range(6)]
            proof, prefix = _enclosed(a, f"Theorem {t.name} : {t.statement}.\nProof.\n{t.proof}\nUnshelve.\n"
                                         f"all: fail \"ratchet__open_{n[1]}\".\nLocate ratchet__s_{n[2]}.\nQed.\n")
            command, path = self._load(
                # The name and statement can head a theorem where coqc would declare it (at top level).
                f"Theorem {t.name} : {t.statement}.\nAbort.\nLocate ratchet__s_{n[0]}.\n"
                f"{proof}Locate ratchet__s_{n[3]}.\n"
                # What the name denotes must inhabit the statement as bound before any proof was kept.
                f"Definition ratchet__chk_{a} : {st} := {prefix}{t.name}.\nLocate ratchet__s_{n[4]}.\n")
            plans.append((a, n))
            files.append(path)
            commands.append(command + _mark(n[5]))
        self.process.send("".join(commands))
        results: list[Kept] = []
        start = time.monotonic()
        try:
            for t, (a, n) in zip(tasks, plans):
                out, err, killed = self._read_proof(n[5], start, timeout_s)
                if killed is not None:
                    verdict, took, crashed = killed
                    results.append(Kept(verdict, took, crashed=crashed))
                    return results, False
                now = time.monotonic()
                seconds, start = now - start, now
                self.uses += 1
                result = self._judge_commit(t, a, n, out, err, seconds)
                results.append(result)
                if result.check is not None:
                    self.kept += 1
                elif result.verdict is None:
                    return results[:-1] + [Kept(Verdict(Status.REJECTED, "rejected: the verifier could not read "
                                                        "what the proof did", seconds=seconds), seconds)], False
            return results, True
        finally:
            for path in files:
                path.unlink(missing_ok=True)

    @staticmethod
    def _judge_commit(t: ProofTask, a: str, n: list[str], out: list[str], err: list[str],
                      seconds: float) -> Kept:
        """One commit's outcome from its marks (stdout) and its first error (stderr).

        A Load that failed was undone and the first missing mark says where; one that did
        not fail must show every mark, or nothing about it can be trusted (verdict None).
        """
        why = first_error(err)
        marks = [f"No object of basename ratchet__s_{m}" for m in (n[0], n[2], n[3], n[4])]
        at, reached = 0, 0
        for mark in marks:
            nxt = _after(out, mark, at)
            if nxt is None:
                break
            at, reached = nxt, reached + 1
        if why is None:
            return Kept(None, seconds, f"ratchet__chk_{a}") if reached == len(marks) else Kept(None, seconds)
        errors = own_name(all_errors(err), t.name)
        why = own_name([why], t.name)[0]
        if reached == 0:
            return Kept(Verdict(Status.ERROR, f"error: the theorem cannot be stated: {why}", errors, seconds), seconds)
        if reached == 1:
            if f"ratchet__open_{n[1]}" in why:
                return Kept(Verdict(Status.REJECTED, "rejected: the proof is incomplete (goals remain after its "
                                    "last tactic)", errors, seconds), seconds)
            return Kept(Verdict(Status.REJECTED, f"rejected: {why}", errors, seconds), seconds)
        if reached == 2:
            return Kept(Verdict(Status.REJECTED, f"rejected: {why}", errors, seconds), seconds)
        return Kept(Verdict(Status.REJECTED, f"rejected: {t.name} does not prove the stated statement ({why})",
                            errors, seconds), seconds)

    def assume(self, checks: list[str], timeout_s: float) -> Audit:
        """``Print Assumptions`` of kept proofs, all bound in one tuple so shared dependencies are walked once.

        The tuple is undone with its Load; the kept proofs stay. ``outcome`` is
        "assumptions" (``lines``: what Coq listed) or, when the worker had to be killed or
        its answer made no sense, "timeout", "died", "output" or "unknown".
        """
        tag, n = _nonce(), [_nonce() for _ in range(3)]
        # A list of (statement, proof) pairs, each of the same type {T : Type & T}: the term and
        # its type grow linearly with the group. (A tuple's type holds every statement before
        # it, and Print Assumptions walks each of those types: quadratic, 11 s for 545 proofs.)
        item = "(@sigT Type (fun T : Type => T))"
        checks_text = "".join(f"(@cons {item} (@existT Type (fun T : Type => T) _ {c})\n" for c in checks)
        parts = [f"Definition ratchet__acc_{tag} := {checks_text}(@nil {item}){')' * len(checks)}.\n",
                 f"Locate ratchet__s_{n[0]}.\nPrint Assumptions ratchet__acc_{tag}.\n"
                 f"Locate ratchet__s_{n[1]}.\n{_undo(n[2])}"]
        answer = self._run_file("".join(parts), timeout_s)
        if isinstance(answer, Audit):
            return answer
        out, err = answer
        begin = _after(out, f"No object of basename ratchet__s_{n[0]}")
        end = _after(out, f"No object of basename ratchet__s_{n[1]}", begin or 0)
        if begin is None or end is None or not _undone(err, n[2]):
            return Audit("unknown", list(all_errors(err)) or ["Print Assumptions gave no answer"])
        return Audit("assumptions", out[begin:end - 1])

    def reset(self, timeout_s: float = 60.0) -> bool:
        """Drop every kept proof: back to the marker above the header and the bound statements."""
        if self.kept == 0:
            return True
        assert self.marker is not None
        try:
            _, err = self._send_part(f"Reset {self.marker}.\nDefinition {self.marker} := Prop.\n", timeout_s)
        except (ProcessTimeout, ProcessDied, OutputLimit):
            return False
        if first_error(err) is not None:
            return False
        self.kept = 0
        return True


def _enclosed(a: str, sentences: str) -> tuple[str, str]:
    """``sentences`` in a module and a section of their own, both named by the nonce ``a``; and the
    prefix that reaches, from outside, what they declare.

    No proof can name either, so no proof can end them early or import the module: a constant
    a kept proof declares is reachable only through the prefix, and what a section keeps local
    (hints, notations, options, tactic definitions) ends with it. Coq also refuses changes to
    the kernel's typing flags (``Unset Guard Checking``) inside a section.
    """
    return (f"Module ratchet__m_{a}.\nSection ratchet__x_{a}.\n{sentences}End ratchet__x_{a}.\nEnd ratchet__m_{a}.\n",
            f"ratchet__m_{a}.")


def _in_module(module: str, theorem: str, sentences: str) -> tuple[str, str]:
    """``sentences`` (which declare ``theorem``) in a module of their own, so that nothing they
    declare is in reach once it ends; and the name that reaches ``theorem`` from outside."""
    return f"{module}.{theorem}", f"Module {module}.\n{sentences}End {module}.\n"


def _died(died: ProcessDied) -> str:
    tail = " ".join(died.last_output.split())[-200:]  # coqtop's last words on stderr
    return f"rejected: coqtop died ({tail or 'no output'})"
