"""One persistent ``coqtop`` process: the header loaded once, then many proofs, each undone after use.

Talking to coqtop over a pipe
-----------------------------
coqtop reads sentences from stdin; it writes messages (command output, and
anything a proof prints with ``idtac``) to stdout, and prompts and errors to
stderr. The two pipes are read separately, so text a proof prints can never be
taken for an error, and an error is never looked for where a proof can write.

A proof can print anything, so nothing it prints may look like the verifier's
own markers. Every part of a request therefore ends with a mark on each
stream, named by a nonce of 64 random bits drawn after the proof was written:

    Locate ratchet__s_<nonce>.   stdout: No object of basename ratchet__s_<nonce>
    Set Ratchet_<nonce>.         stderr: Warning: There is no flag or option with this
                                         name: "Ratchet_<nonce>".

Neither answer occurs in the request text (which says ``Locate ...`` and
``Set Ratchet_...`` without quotes), so neither an echo of the input in an
error message nor a proof's output can forge it, and what each stream says
between two marks belongs to the commands between them. The stderr mark is a
warning, not an error, on purpose: every error makes coqtop's document grow a
branch that Reset does not remove, and each later command gets slower.

What one proof costs
--------------------
All of a chunk's proofs go to coqtop in a single write and are read back in
order: one round trip per chunk, not per sentence. For each proof (phase 1):

    Definition ratchet__st_<n> : Type := (<statement>).   -> an error: bad statement (infra error)
    Theorem <name> : <statement>. Proof. <body> Qed.     -> any error: rejected, with Coq's message
    Definition ratchet__chk_<n> : ratchet__st_<n> := <name>.
                                        -> an error: the theorem does not prove the statement
    Reset ratchet__marker.                   -> the environment is as the header left it

``Print Assumptions`` is the expensive check (about 0.3 s for a proof that uses
``lia``: it walks every opaque proof the theorem depends on, and Coq keeps no
cache between calls). Phase 2 therefore replays a chunk's accepted proofs
under fresh names, binds them in one tuple and prints the assumptions of that
tuple once; a shared dependency is walked once for the whole chunk. Only if
the tuple is not closed (which the static policy makes rare) are the proofs
audited in smaller groups, down to one, so the reason names a proof's own axioms.
Each phase ends with a Reset, so every proof in phase 1 runs in exactly the
environment the header made.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from prover.coq.process import Interactive, OutputLimit, ProcessDied, ProcessTimeout, find_program
from prover.verdict import ProofTask, Status, Verdict

MARKER = "ratchet__marker"
CLOSED = "Closed under the global context"
# coqtop flags shared with the fresh-process baseline: no rc file; native_compute off (it
# would compile and run OCaml outside the kernel; the policy refuses it as well).
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


_RESET = f"Abort All.\nReset {MARKER}.\nDefinition {MARKER} := tt.\n"


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
    names, notes = [], []
    for line in lines:
        if not line.strip() or line[0].isspace() or line.rstrip().endswith(":") or line.startswith("Error"):
            continue  # blank lines, type continuation lines, headings such as "Axioms:", errors
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
    """What phase 1 concluded about one task: a final verdict, or 'passed, needs the axiom audit'."""
    verdict: Verdict | None
    seconds: float


class CoqWorker:
    def __init__(self, header: str, memory_mb: int, max_output_bytes: int = 1_000_000,
                 startup_timeout_s: float = 120.0, coqtop: str = "coqtop"):
        path = find_program(coqtop)
        if path is None:
            raise CoqInfraError(f"{coqtop} not found on PATH; install Coq (Debian/Ubuntu: apt-get install coq)")
        self.uses = 0
        self.process = Interactive([path, *COQ_FLAGS], memory_mb, max_output_bytes)
        n = _nonce()
        # Silent: coqtop would otherwise print every goal after every tactic, which costs time and output.
        # The unknown-option warning is the stderr mark: make sure the header did not silence it.
        self.process.send(f'{header}\nSet Warnings "unknown-option".\nSet Silent.\n'
                          f"Definition {MARKER} := tt.\n{_mark(n)}")
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

    # -- phase 1: compile each proof in the pristine environment -------------------------------

    def check(self, tasks: list[ProofTask], timeout_s: float) -> tuple[list[Phase1], bool]:
        """Phase 1 for a chunk, in one write. Returns results for a prefix of ``tasks``.

        The second value is False when the worker had to be killed (timeout,
        death, output flood, failed reset): the prefix then ends with the task
        that did it, and the rest must go to a new worker.
        """
        plans = []
        text = []
        for t in tasks:
            n = [_nonce() for _ in range(4)]
            plans.append(n)
            text.append(
                # The statement, elaborated before the proof runs, under a name no proof can guess:
                # nothing the body does (redefining a name, a notation, a tactic) can change it.
                f"Definition ratchet__st_{n[0]} : Type := ({t.statement}).\n{_mark(n[0])}"
                f"Theorem {t.name} : {t.statement}.\nProof.\n{t.proof}\nQed.\n{_mark(n[1])}"
                # Whatever the name now denotes must inhabit that statement: checked by the
                # elaborator and the kernel, not by a tactic the body could have shadowed.
                f"Abort All.\nDefinition ratchet__chk_{n[0]} : ratchet__st_{n[0]} := {t.name}.\n"
                f"Locate ratchet__chk_{n[0]}.\n{_mark(n[2])}"
                f"{_RESET}{_mark(n[3])}")
        self.process.send("".join(text))
        results: list[Phase1] = []
        start = time.monotonic()
        for t, n in zip(tasks, plans):
            deadline = start + timeout_s
            try:
                _, statement_err = _read_part(self.process, n[0], deadline)
                _, proof_err = _read_part(self.process, n[1], deadline)  # what the proof printed: ignored
                check_out, check_err = _read_part(self.process, n[2], deadline)
                _, reset_err = _read_part(self.process, n[3], deadline)
            except ProcessTimeout:
                results.append(Phase1(Verdict(Status.TIMEOUT, f"timeout after {timeout_s:.1f}s",
                                              seconds=timeout_s), timeout_s))
                return results, False
            except ProcessDied as died:
                tail = " ".join(died.last_output.split())[-200:]  # coqtop's last words on stderr
                results.append(Phase1(Verdict(Status.REJECTED, f"rejected: coqtop died ({tail or 'no output'})",
                                              seconds=time.monotonic() - start), time.monotonic() - start))
                return results, False
            except OutputLimit as exc:
                results.append(Phase1(Verdict(Status.REJECTED, f"rejected: output limit ({exc})",
                                              seconds=time.monotonic() - start), time.monotonic() - start))
                return results, False
            now = time.monotonic()
            seconds = now - start
            start = now
            self.uses += 1
            results.append(Phase1(self._judge_phase1(t, n[0], statement_err, proof_err, check_out, check_err,
                                                     seconds), seconds))
            if first_error(reset_err):
                # Nothing a tactic proof does should stop a Reset; if it did, do not trust this worker.
                results[-1] = Phase1(Verdict(Status.REJECTED, "rejected: the worker's state could not be "
                                             f"restored ({first_error(reset_err)})", seconds=seconds), seconds)
                return results, False
        return results, True

    @staticmethod
    def _judge_phase1(task: ProofTask, token: str, statement_err: list[str], proof_err: list[str],
                      check_out: list[str], check_err: list[str], seconds: float) -> Verdict | None:
        """The verdict from phase 1's output, or None when the proof passed (the axiom audit decides).

        Errors are read from stderr, which a proof cannot write to; stdout is
        read only after the proof is over, for Coq's answer to ``Locate``.
        """
        err = first_error(statement_err)
        if err:
            return Verdict(Status.ERROR, f"error: the statement does not elaborate: {err}",
                           all_errors(statement_err), seconds)
        # Any error while the body ran fails the proof, as coqc would stop at it
        # (coqtop goes on after an error, so a later tactic could otherwise paper over it).
        err = first_error(proof_err)
        if err:
            return Verdict(Status.REJECTED, f"rejected: {err}", all_errors(proof_err), seconds)
        defined = any(ln.startswith("Constant ") and ln.endswith(f".ratchet__chk_{token}") for ln in check_out)
        if not defined or first_error(check_err):
            why = first_error(check_err)
            return Verdict(Status.REJECTED, f"rejected: {task.name} does not prove the stated statement"
                           + (f" ({why})" if why else ""), all_errors(check_err), seconds)
        return None

    # -- phase 2: print the assumptions of the accepted proofs ---------------------------------

    def audit(self, tasks: list[ProofTask], timeout_s: float) -> list[str] | None:
        """``Print Assumptions`` output for all of ``tasks`` at once, or None if the worker failed.

        The proofs are replayed under fresh names, each is checked against its
        statement, and all are bound in one tuple, so a dependency they share is
        walked once. Raises nothing; on a timeout or death the worker is
        unusable and the caller replaces it.
        """
        tag = _nonce()
        k = len(tasks)
        n = [_nonce() for _ in range(3)]
        # Statements and the pairing function are bound under unguessable names before any
        # proof is replayed, so no replayed proof can change what the checks below mean.
        parts = [f"Definition ratchet__st_{tag}_{i} : Type := ({t.statement}).\n" for i, t in enumerate(tasks)]
        parts.append(f"Definition ratchet__pair_{tag} := @pair.\nDefinition ratchet__acc_{tag}_0 := tt.\n")
        parts += [f"Theorem ratchet__pa_{tag}_{i} : {t.statement}.\nProof.\n{t.proof}\nQed.\n"
                  for i, t in enumerate(tasks)]
        parts.append("Abort All.\n")
        for i in range(k):
            parts.append(f"Definition ratchet__chk_{tag}_{i} : ratchet__st_{tag}_{i} := ratchet__pa_{tag}_{i}.\n"
                         f"Definition ratchet__acc_{tag}_{i + 1} := ratchet__pair_{tag} _ _ "
                         f"ratchet__chk_{tag}_{i} ratchet__acc_{tag}_{i}.\n")
        parts.append(f"{_mark(n[0])}Print Assumptions ratchet__acc_{tag}_{k}.\n{_mark(n[1])}{_RESET}{_mark(n[2])}")
        self.process.send("".join(parts))
        deadline = time.monotonic() + timeout_s
        try:
            _read_part(self.process, n[0], deadline)  # the replay's own output: not trusted, not read
            assumptions, errors = _read_part(self.process, n[1], deadline)
            _, reset_err = _read_part(self.process, n[2], deadline)
        except (ProcessTimeout, ProcessDied, OutputLimit):
            return None
        if first_error(reset_err):
            return None
        # A failed replay leaves no tuple to print: report the error, which is not "closed".
        return assumptions + [ln for ln in errors if ln.startswith("Error")]
