"""Check families against real coqc: reference proofs verify, canaries do not,
and which generic tactics solve what share of each family.

    .venv/bin/python -m prover.theorems.measure --sample 40          # coverage table
    .venv/bin/python -m prover.theorems.measure --check-references 300  # every reference proof of 300/family
    .venv/bin/python -m prover.theorems.measure --export-lean-jsonl refs.jsonl --sample 40
        # the Lean reference proofs as `ratchet verify` input, for a machine with Lean

Files are batched (one coqc run per family, all candidates in it), so the table takes
a minute or two on one core. This is a measuring tool, not the verifier: it
skips the admission checks that prover.coq performs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from prover.theorems.core import FAMILIES, Theorem, canary_theorems, count_available, generate_theorems
from prover.theorems.headers import COQ_HEADER

# Generic single tactics a model might fall back on. Each runs under `solve`,
# so it counts only if it closes the goal.
CANDIDATES = ("lia", "intros; lia", "nia", "ring", "intros; ring", "reflexivity", "auto", "tauto",
              "intuition", "intros; simpl; lia", "induction n; simpl; lia", "eauto")


@dataclass(frozen=True)
class CoqRun:
    rc: int | None  # None when killed on timeout
    stdout: str
    stderr: str
    seconds: float


def _limit_memory(mb: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mb * 2 ** 20, mb * 2 ** 20))
    return apply


def run_coqc(source: str, timeout_s: float = 120.0, memory_mb: int = 2048) -> CoqRun:
    """Compile ``source`` as a fresh .v file in a temp dir. The coqc process gets
    its own process group, which is killed (by pid) if it outlives ``timeout_s``."""
    with tempfile.TemporaryDirectory(prefix="ratchet-thm-") as tmp:
        path = Path(tmp) / "Check.v"
        path.write_text(source)
        start = time.monotonic()
        proc = subprocess.Popen(["coqc", "-q", path.name], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True, preexec_fn=_limit_memory(memory_mb))
        try:
            out, err = proc.communicate(timeout=timeout_s)
            rc: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            rc = None
        return CoqRun(rc, out, err, time.monotonic() - start)


def coq_theorem(thm: Theorem, body: str, name: str | None = None) -> str:
    return f"Theorem {name or thm.name} : {thm.coq}.\nProof.\n{body}\nQed.\n"


_ERROR_LINE = re.compile(r'File "[^"]*", line (\d+)')


def check_proofs(pairs: Sequence[tuple[Theorem, str]], timeout_s: float = 300.0) -> list[tuple[Theorem, str, str]]:
    """(theorem, body, coqc error) for every pair whose proof fails. All pairs go
    into one file; coqc stops at the first failure, everything before it passed,
    so the next run starts just after the failing pair."""
    remaining = list(pairs)
    failures: list[tuple[Theorem, str, str]] = []
    while remaining:
        chunks, starts, line = [], [], COQ_HEADER.count("\n") + 1
        for i, (thm, body) in enumerate(remaining):
            text = coq_theorem(thm, body, name=f"{thm.name}_{i}")  # one theorem may come with several bodies
            starts.append(line)
            chunks.append(text)
            line += text.count("\n")
        run = run_coqc(COQ_HEADER + "".join(chunks), timeout_s)
        if run.rc == 0:
            break
        found = _ERROR_LINE.search(run.stderr)
        if run.rc is None or not found:
            raise RuntimeError(f"coqc did not report a located error (rc={run.rc}): {run.stderr[-2000:]}")
        err_line = int(found.group(1))
        idx = max(i for i, s in enumerate(starts) if s <= err_line) if err_line >= starts[0] else None
        if idx is None:
            raise RuntimeError(f"coqc failed in the header: {run.stderr[-2000:]}")
        thm, body = remaining[idx]
        failures.append((thm, body, " ".join(run.stderr.split())[:500]))
        remaining = remaining[idx + 1:]
    return failures


def check_references(theorems: Sequence[Theorem]) -> list[tuple[Theorem, str, str]]:
    """Every Coq reference proof of every theorem, one batch per family."""
    failures = []
    for family in sorted({t.family for t in theorems}):
        pairs = [(t, body) for t in theorems if t.family == family for body in t.reference_proofs("coq")]
        failures += check_proofs(pairs)
    return failures


def solved_by_each(theorems: Sequence[Theorem], tactics: Sequence[str],
                   per_goal_timeout: int = 3) -> dict[str, set[str]]:
    """tactic -> ids of the theorems it closes on its own; one coqc run for all pairs.
    Each attempt is wrapped so that failing (or timing out) admits the goal and
    prints a marker instead of stopping the file."""
    blocks = []
    for j, tactic in enumerate(tactics):
        for t in theorems:
            blocks.append(f"Theorem {t.name}__{j} : {t.coq}.\nProof.\n"
                          f"first [ solve [ timeout {per_goal_timeout} ({tactic}) ] "
                          f"| idtac \"RATCHET_FAIL {t.name}__{j}\"; admit ].\nAdmitted.\n")
    run = run_coqc(COQ_HEADER + "".join(blocks), timeout_s=60 + per_goal_timeout * len(blocks))
    if run.rc != 0:
        raise RuntimeError(f"coverage run broke (rc={run.rc}): {run.stderr[-2000:]}")
    failed = set(re.findall(r"RATCHET_FAIL (\S+)", run.stdout))
    return {tactic: {t.id for t in theorems if f"{t.name}__{j}" not in failed} for j, tactic in enumerate(tactics)}


def solved_by(theorems: Sequence[Theorem], tactic: str, per_goal_timeout: int = 3) -> set[str]:
    return solved_by_each(theorems, [tactic], per_goal_timeout)[tactic]


def coverage(theorems: Sequence[Theorem], candidates: Sequence[str] = CANDIDATES) -> dict[str, dict[str, set[str]]]:
    """family -> candidate -> ids of that family's theorems the candidate proves alone."""
    out: dict[str, dict[str, set[str]]] = {}
    for family in dict.fromkeys(t.family for t in theorems):
        group = [t for t in theorems if t.family == family]
        out[family] = solved_by_each(group, candidates)
    return out


def format_coverage(cov: dict[str, dict[str, set[str]]], sizes: dict[str, int]) -> str:
    """A markdown table of shares, with a last column for "any candidate"."""
    candidates = list(next(iter(cov.values())))
    lines = ["| family | " + " | ".join(f"`{c}`" for c in candidates) + " | any |",
             "|---" * (len(candidates) + 2) + "|"]
    for family, row in cov.items():
        shares = [len(row[c]) / sizes[family] for c in candidates] + [len(set().union(*row.values())) / sizes[family]]
        lines.append(f"| {family} | " + " | ".join(f"{v:.2f}" for v in shares) + " |")
    return "\n".join(lines)


def lean_verify_records(theorems: Sequence[Theorem]) -> list[dict[str, str]]:
    """Every Lean reference proof as one `ratchet verify` input record ({id, name, statement, proof}).

    The id is ``<theorem id>#<k>`` for the theorem's k-th proof, so a verdict names the proof.
    Lean is not installed where Ratchet is built, so these proofs are checked only on a
    machine that has it (lean_project/README.md, "Unverified here").
    """
    return [{"id": f"{t.id}#{k}", "name": t.name, "statement": t.statement("lean"), "proof": body}
            for t in theorems for k, body in enumerate(t.reference_proofs("lean"))]


def write_lean_verify_jsonl(theorems: Sequence[Theorem], path: Path) -> int:
    """Write ``lean_verify_records`` to ``path`` as JSONL; returns the number of lines."""
    records = lean_verify_records(theorems)
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=40, help="theorems per family for the coverage table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", nargs="*", default=list(FAMILIES))
    ap.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    ap.add_argument("--by-difficulty", action="store_true", help="one row per family and difficulty")
    ap.add_argument("--check-references", type=int, metavar="PER_FAMILY", default=0,
                    help="verify every Coq reference proof of PER_FAMILY theorems per family, and the canaries")
    ap.add_argument("--export-lean-jsonl", metavar="FILE", type=Path,
                    help="write the Lean reference proofs of --sample theorems per family as `ratchet verify` "
                         "JSONL (no prover runs here)")
    args = ap.parse_args(argv)
    start = time.monotonic()

    if args.export_lean_jsonl:
        thms = generate_theorems(args.families, args.sample, args.seed)
        n = write_lean_verify_jsonl(thms, args.export_lean_jsonl)
        print(f"wrote {n} Lean reference proofs of {len(thms)} theorems to {args.export_lean_jsonl}\n"
              f"check them where Lean is set up: ratchet verify --backend lean {args.export_lean_jsonl}")
        return

    if args.check_references:
        thms = generate_theorems(args.families, args.check_references, args.seed)
        failures = check_references(thms)
        n_proofs = sum(len(t.reference_proofs("coq")) for t in thms)
        print(f"reference proofs: {n_proofs - len(failures)}/{n_proofs} verified "
              f"({len(thms)} theorems, {time.monotonic() - start:.0f}s)")
        for thm, body, err in failures:
            print(f"FAIL {thm.id} [{thm.template}] {thm.coq}\n  body: {body!r}\n  {err}")
        canaries = canary_theorems(40)
        leaked = set().union(*solved_by_each(canaries, args.candidates).values())
        print(f"canaries proved by some candidate: {len(leaked)}/{len(canaries)}")
        return

    thms = generate_theorems(args.families, args.sample, args.seed)
    if args.by_difficulty:
        thms = [replace(t, family=f"{t.family}/d{t.difficulty}") for t in thms]
    sizes = {f: sum(t.family == f for t in thms) for f in dict.fromkeys(t.family for t in thms)}
    print(format_coverage(coverage(thms, args.candidates), sizes))
    print(f"\n{len(thms)} theorems, {len(args.candidates)} candidates, {time.monotonic() - start:.0f}s")
    print("\ndistinct statements available (difficulty 1/2/3):")
    for family in args.families:
        counts = count_available(family)
        print(f"  {family}: {counts[1]}/{counts[2]}/{counts[3]} (total {sum(counts.values())})")


if __name__ == "__main__":
    main()
