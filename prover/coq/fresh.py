"""The reference check: one proof, one fresh ``coqc`` process, one file.

This is what a naive pipeline does (write a file, run the compiler), with the
same admission rule as the pool: the static screen first, then the theorem
must compile, must prove the statement as elaborated before the proof ran,
and ``Print Assumptions`` must say it is closed (read between two nonce
sentinels, as in the pool). ``ratchet bench verify`` times the pool against it and checks that both
give the same verdicts; tests use it as an independent second opinion.
"""
from __future__ import annotations

import re
import secrets
import tempfile
from pathlib import Path

from prover.coq.header import default_header
from prover.coq.process import LIMIT_FAILED_RC, find_program, run_limited
from prover.coq.worker import COQ_FLAGS, all_errors, axioms_reason, closed, first_error
from prover.verdict import ProofTask, Status, Verdict

_FILE_LINE = re.compile(r'^File "[^"]*", line (\d+)')


def fresh_verify(task: ProofTask, header: str | None = None, timeout_s: float = 10.0,
                 memory_mb: int = 2048, coqc: str = "coqc") -> Verdict:
    from prover.coq.verifier import precheck  # the same pre-prover checks as the pool

    early = precheck(task)
    if early is not None:
        return early
    path = find_program(coqc)
    if path is None:
        return Verdict(Status.ERROR, f"error: {coqc} not found on PATH; install Coq (apt-get install coq)")
    header = default_header() if header is None else header
    a, b, c = (secrets.token_hex(8) for _ in range(3))
    head = header.rstrip("\n") + "\n"
    statement_line = head.count("\n") + 1
    check_line = statement_line + 5 + task.proof.count("\n")  # Definition st, Theorem, Proof, body, Qed
    body = (f"Definition ratchet__st_{c} : Type := ({task.statement}).\n"
            f"Theorem {task.name} : {task.statement}.\nProof.\n{task.proof}\nQed.\n"
            f"Definition ratchet__chk_{c} : ratchet__st_{c} := {task.name}.\n"
            f"Locate ratchet__s_{a}.\nPrint Assumptions ratchet__chk_{c}.\nLocate ratchet__s_{b}.\n")
    with tempfile.TemporaryDirectory(prefix="ratchet-coqc-") as tmp:
        Path(tmp, "Ratchet.v").write_text(head + body, encoding="utf-8")
        done = run_limited([path, *COQ_FLAGS, "Ratchet.v"], cwd=tmp, timeout_s=timeout_s, memory_mb=memory_mb)
        crashed = _crashed(done)
        if crashed:  # a crash is not a rejection: once more, in a fresh process, as the pool does
            done = run_limited([path, *COQ_FLAGS, "Ratchet.v"], cwd=tmp, timeout_s=timeout_s, memory_mb=memory_mb)
    lines = done.stdout.splitlines()  # messages, including whatever the proof printed
    errors = done.stderr.splitlines()  # coqc's errors: a proof cannot write here
    if done.timed_out:
        return Verdict(Status.TIMEOUT, f"timeout after {timeout_s:.1f}s", seconds=done.seconds)
    if done.returncode == LIMIT_FAILED_RC:
        return Verdict(Status.ERROR, f"error: could not set a {memory_mb} MiB memory limit", seconds=done.seconds)
    if done.returncode != 0:
        err = first_error(errors)
        if err is None:
            tail = " ".join(done.stderr.split())[-200:]
            return Verdict(Status.REJECTED, f"rejected: crashed twice: coqc died (exit {done.returncode}: "
                                            f"{tail or 'no output'})", seconds=done.seconds)
        where = next((int(m.group(1)) for ln in errors if (m := _FILE_LINE.match(ln))), None)
        if where is not None and where < statement_line:
            return Verdict(Status.ERROR, f"error: the header failed to load: {err}", seconds=done.seconds)
        if where == statement_line:
            return Verdict(Status.ERROR, f"error: the statement does not elaborate: {err}", seconds=done.seconds)
        if where == statement_line + 1:  # the Theorem line: a name that is taken, a statement that is not one term
            return Verdict(Status.ERROR, f"error: the theorem cannot be stated: {err}", seconds=done.seconds)
        if where == check_line:
            return Verdict(Status.REJECTED, f"rejected: {task.name} does not prove the stated statement ({err})",
                           all_errors(errors), done.seconds)
        return Verdict(Status.REJECTED, f"rejected: {err}", all_errors(errors), done.seconds)
    try:
        start = lines.index(f"No object of basename ratchet__s_{a}")
        end = lines.index(f"No object of basename ratchet__s_{b}")
    except ValueError:
        return Verdict(Status.ERROR, "error: coqc output lacks the sentinels", seconds=done.seconds)
    assumptions = [ln for ln in lines[start + 1:end] if not ln.startswith("Fetching opaque proofs")]
    if not closed(assumptions):
        named = [ln.replace(f"ratchet__chk_{c}", task.name) for ln in assumptions]
        return Verdict(Status.REJECTED, axioms_reason(named), tuple(assumptions), done.seconds)
    return Verdict(Status.VERIFIED, "verified", seconds=done.seconds)


def _crashed(done) -> bool:
    """Whether coqc died rather than answered: it failed without a Coq error (killed, out of memory)."""
    return (not done.timed_out and done.returncode not in (0, LIMIT_FAILED_RC)
            and first_error(done.stderr.splitlines()) is None)
