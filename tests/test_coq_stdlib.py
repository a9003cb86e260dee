"""Coq standard-library lemmas, checked in the context where they were stated.

The verdicts of the routing verifier's file cursors are compared with plain
``coqc`` on the file's prefix followed by the lemma and the candidate proof.
"""
from __future__ import annotations

import random
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from prover.coq.contexts import Context, RoutingCoqVerifier, closed_in_context
from prover.theorems.sources.coq_stdlib import read_file_lemmas, stdlib_root
from prover.verdict import ProofTask, Status

pytestmark = pytest.mark.skipif(shutil.which("coqtop") is None or shutil.which("coqc") is None,
                                reason="Coq is not installed")


@pytest.fixture(scope="module")
def bool_v():
    key = "Bool/Bool.v"
    text = (stdlib_root() / key).read_text()
    lemmas, _ = read_file_lemmas("stdlib", key, text)
    return key, text, lemmas


def task(t, proof: str, suffix: str = "") -> ProofTask:
    return ProofTask(id=t.id + suffix, statement=t.text, proof=proof, name=t.name, header=t.context)


def coqc_verdict(tmp: Path, t, proof: str) -> bool:
    """Plain coqc on prefix + lemma + candidate proof; verified iff it compiles and uses no axiom."""
    f = tmp / "Ctx.v"
    f.write_text(f"{t.context}Theorem {t.name} : {t.text}.\nProof.\n{proof}\nQed.\nPrint Assumptions {t.name}.\n")
    done = subprocess.run(["coqc", "-q", "-native-compiler", "no", str(f)], cwd=tmp, capture_output=True, text=True,
                          timeout=120)
    return coqc_accepts(done)


def coqc_accepts(done: subprocess.CompletedProcess) -> bool:
    """The lemma compiled and printed its assumptions, none an axiom. A prefix that stops inside a
    section or module ends the file with it open, which coqc reports after everything has run."""
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("Error")]
    unclosed = all(re.fullmatch(r"Error: The (section|module) \S+ needs to be closed\.", e) for e in errors)
    printed = "Closed under the global context" in done.stdout or "Section Variables:" in done.stdout
    return (done.returncode == 0 or unclosed) and printed and "Axioms:" not in done.stdout


def test_lemmas_are_read_with_file_line_and_a_context_that_stops_before_them(bool_v):
    key, text, lemmas = bool_v
    assert len(lemmas) > 100
    for t in lemmas:
        assert t.file == key and t.context == text[: t.context_end]
        assert text.splitlines()[t.line - 1].lstrip().split()[0] in ("Lemma", "Theorem", "Fact", "Remark",
                                                                     "Corollary", "Proposition")
        assert not re.search(rf"\b(Lemma|Theorem|Fact|Remark|Corollary|Proposition)\s+{re.escape(t.name)}\b",
                             t.context)  # its own statement is not in its context
    assert [t.line for t in lemmas] == sorted(t.line for t in lemmas)


def test_in_context_own_name_later_lemma_admitted_and_axioms_are_rejected(bool_v):
    key, text, lemmas = bool_v
    t, later = lemmas[40], lemmas[41]
    tasks = [task(t, t.human_proof, "#human"), task(t, f"exact {t.name}.", "#own"),
             task(t, f"exact {later.name}.", "#later"), task(t, "Admitted.", "#admitted"),
             task(t, "admit.", "#admit")]
    with RoutingCoqVerifier(workers=1, contexts=[Context(key, text)]) as v:
        got = v.verify(tasks)
    assert [g.status for g in got] == [Status.VERIFIED] + [Status.REJECTED] * 4, [g.reason for g in got]
    assert f"reference {t.name} was not found" in got[1].reason
    assert f"reference {later.name} was not found" in got[2].reason


SECTION_FILE = """\
Section S.
Variable A : Type.
Hypothesis H : forall x y : A, x = y.
Axiom cheat : forall P : Prop, P.
Lemma uses_section_vars : forall x y : A, y = x.
Proof. intros x y. apply H. Qed.
Lemma second : forall x : A, x = x.
Proof. reflexivity. Qed.
End S.
"""


def test_section_variables_are_context_but_an_axiom_is_not():
    ctx = Context("S.v", SECTION_FILE)
    end = SECTION_FILE.index("Lemma uses_section_vars")
    statement = "forall x y : A, y = x"
    tasks = [ProofTask("var", statement, "intros x y. apply H.", "uses_section_vars", header=SECTION_FILE[:end]),
             ProofTask("ax", statement, "apply cheat.", "uses_section_vars", header=SECTION_FILE[:end]),
             ProofTask("later", "forall x : A, x = x", "exact second.", "again", header=SECTION_FILE[:end])]
    with RoutingCoqVerifier(workers=1, contexts=[ctx]) as v:
        got = v.verify(tasks)
    assert [g.status for g in got] == [Status.VERIFIED, Status.REJECTED, Status.REJECTED], [g.reason for g in got]
    assert "cheat" in got[1].reason


def test_closed_in_context_reads_print_assumptions():
    assert closed_in_context(["Closed under the global context"])
    assert closed_in_context(["Section Variables:", "A", ": Type"])
    assert not closed_in_context(["Section Variables:", "A : Type", "Axioms:", "cheat : forall P : Prop, P"])
    assert not closed_in_context(["Axioms:", "classic : forall P : Prop, P \\/ ~ P"])
    assert not closed_in_context([])


def test_verdicts_agree_with_plain_coqc_on_prefix_plus_lemma(bool_v, tmp_path):
    """A sample of verified and rejected candidates, re-checked with coqc."""
    key, text, lemmas = bool_v
    rng = random.Random(0)
    sample = rng.sample([t for t in lemmas if t.human_proof], 8)
    tasks = []
    for t in sample:
        tasks += [task(t, t.human_proof, "#h"), task(t, "auto.", "#auto"), task(t, "reflexivity.", "#refl"),
                  task(t, "intros; destruct b; reflexivity.", "#destruct")]
    with RoutingCoqVerifier(workers=2, contexts=[Context(key, text)]) as v:
        got = v.verify(tasks)
    kinds = {g.status for g in got}
    assert Status.VERIFIED in kinds and Status.REJECTED in kinds
    for tk, g, t in zip(tasks, got, [t for t in sample for _ in range(4)]):
        assert g.status in (Status.VERIFIED, Status.REJECTED), (tk.id, g.reason)
        assert (g.status is Status.VERIFIED) == coqc_verdict(tmp_path, t, tk.proof), (tk.id, g.reason)


def test_stored_attempts_of_a_short_run_agree_with_coqc(tmp_path):
    """A one-round run on two library files; its stored verdicts re-checked with coqc."""
    from loop.config import validate_config
    from loop.run import run_experiment
    cfg = validate_config({
        "name": "stdlib-mini", "rounds": 0, "backend": "coq",
        "theorems": {"warmstart_fraction": 0.5, "heldout_fraction": 0.3,
                     "sources": [{"kind": "coq-stdlib", "name": "stdlib", "max_per_file": 40,
                                  "files": ["Bool/Bool.v", "Logic/Decidable.v"]}]},
        "model": {"cache_dir": str(tmp_path / "cache"),
                  "bootstrap": {"vocab_size": 256, "hidden_size": 48, "num_layers": 2, "num_heads": 4,
                                "intermediate_size": 96, "steps": 60, "batch_size": 16, "max_position": 384}},
        "sampling": {"max_new_tokens": 48}, "eval": {"n": 2, "k": 2, "probe_size": 4},
        "verifier": {"workers": 2}})
    run_experiment(cfg, tmp_path / "run", progress=False)
    db = sqlite3.connect(tmp_path / "run" / "run.db")
    rows = db.execute("SELECT a.theorem_id, a.proof, a.judge, t.file, t.line FROM attempts a "
                      "JOIN theorems t ON t.id = a.theorem_id ORDER BY a.id").fetchall()
    assert rows and all(f is not None and line > 0 for _, _, _, f, line in rows)
    root = stdlib_root()
    texts = {k: (root / k).read_text() for k in ("Bool/Bool.v", "Logic/Decidable.v")}
    lemmas = {t.id: t for k, s in texts.items() for t in read_file_lemmas("stdlib", k, s)[0]}
    verified = [r for r in rows if r[2] == "verified"][:6]
    rejected = [r for r in rows if r[2] == "rejected"]
    rejected = random.Random(0).sample(rejected, min(6, len(rejected)))
    assert rejected
    for tid, proof, judge, _, _ in verified + rejected:
        t = lemmas[tid]
        from prover.coq.screen import check_coq_screen
        if not check_coq_screen(proof).admissible:
            assert judge == "rejected"
            continue
        assert coqc_verdict(tmp_path, t, proof) == (judge == "verified"), (tid, proof, judge)
