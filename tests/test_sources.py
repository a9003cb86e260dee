"""Theorem sources: the shared benchmark files, Coq JSONL with its own headers, bad input.

The benchmark files are read in place from ../shared/benchmarks (never copied here).
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from lean_testkit import DOUBLE
from loop.config import ConfigError, validate_config
from prover.theorems.sources import JsonlSource, SourceError, build_pools
from prover.theorems.sources.jsonl import read_jsonl
from prover.theorems.sources.statements import split_coq, split_lean

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
needs_bench = pytest.mark.skipif(not BENCH.is_dir(), reason=f"benchmark files not found at {BENCH}")
needs_coq = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed")


def jsonl(path, **kw) -> JsonlSource:
    return JsonlSource(kind="jsonl", path=str(path), **kw)


# ---------------------------------------------------------------- the shared benchmark files

@needs_bench
def test_minif2f_imports_488_theorems_two_splits_one_header():
    ts = read_jsonl(jsonl(BENCH / "minif2f-lean4.jsonl"))
    assert len(ts) == 488 and len({t.id for t in ts}) == 488
    assert Counter(t.split for t in ts) == {"valid": 244, "test": 244}
    assert len({t.header for t in ts}) == 1 and "import Mathlib" in ts[0].header
    assert all(t.id == f"minif2f-lean4/{t.name}" for t in ts)
    first = ts[0]  # amc12a_2019_p21 (z : ℂ) (h₀ : ...) : ... := by
    assert first.name == "amc12a_2019_p21" and first.lean_signature and first.text.startswith("(z : ℂ)")
    assert not first.text.rstrip().endswith(("by", ":="))


@needs_bench
def test_proofnet_imports_371_theorems_with_25_headers_and_unique_ids():
    ts = read_jsonl(jsonl(BENCH / "proofnet-lean4.jsonl"))
    assert len(ts) == 371 and len({t.id for t in ts}) == 371  # 19 names repeat across books
    assert Counter(t.split for t in ts) == {"valid": 185, "test": 186}
    assert len({t.header for t in ts}) == 25
    assert Counter(t.keyword for t in ts)["theorem"] == 357  # 14 are stated as `def`


@needs_bench
def test_splits_mapping_decides_pools():
    cfg = validate_config({"backend": "lean", "theorems": {"sources": [
        {"kind": "jsonl", "path": str(BENCH / "minif2f-lean4.jsonl"), "splits": {"valid": "train", "test": "heldout"}},
        {"kind": "jsonl", "path": str(BENCH / "proofnet-lean4.jsonl")}]}})
    theorems, pools = build_pools(cfg.theorems, "lean")
    mini = {p: [t for t in ids if t.startswith("minif2f-lean4/")] for p, ids in pools.items()}
    assert len(mini["train"]) == 244 and len(mini["heldout"]) == 244 and not mini["warmstart"]
    assert all(theorems[t].split == "test" for t in mini["heldout"])
    net = sum(len([t for t in ids if t.startswith("proofnet-lean4/")]) for ids in pools.values())
    assert net == 371


@needs_bench
def test_each_lean_request_carries_its_own_header_and_one_repl_serves_each_header(tmp_path):
    """Through the REPL double: two ProofNet headers, the miniF2F header, and a header the double
    refuses to load (its magic word): only that header's tasks fail, so each task ran under its own."""
    from prover.lean import LeanVerifier
    from prover.verdict import ProofTask, Status
    net = read_jsonl(jsonl(BENCH / "proofnet-lean4.jsonl"))
    mini = read_jsonl(jsonl(BENCH / "minif2f-lean4.jsonl"))
    by_header: dict[str, list] = {}
    for t in net:
        by_header.setdefault(t.header, []).append(t)
    chosen = [t for group in list(by_header.values())[:2] for t in group[:2]] + mini[:2]
    bad_header = mini[2].header + "ratchet_magic_bad_header\n"
    headers = [t.header for t in chosen] + [bad_header]
    chosen.append(mini[2])
    tasks = [ProofTask(id=t.id, statement=t.text, proof="decide", name=t.name, header=h,
                       meta={"lean_signature": t.lean_signature, "lean_keyword": t.keyword})
             for t, h in zip(chosen, headers)]
    with LeanVerifier(workers=1, timeout_s=5.0, memory_mb=1024, repl_cmd=DOUBLE, kernel_replay="off") as v:
        verdicts = v.verify(tasks)
        assert set(v.pools) == set(headers) and len(v.pools) == 4
        assert all(pool.header in headers for pool in v.pools.values())
        assert all(len(pool.stats.pids) <= 1 for pool in v.pools.values())  # one REPL per header
    assert [x.status for x in verdicts[:-1]] == [Status.VERIFIED] * (len(tasks) - 1), [x.reason for x in verdicts]
    assert verdicts[-1].status is Status.ERROR and "header" in verdicts[-1].reason


@needs_bench
def test_prompt_with_informal_prefix_includes_it():
    t = read_jsonl(jsonl(BENCH / "minif2f-lean4.jsonl", informal_prefix_in_prompt=True, limit=1))[0]
    assert t.informal_prefix.strip() and t.informal_prefix.strip() in t.prompt_statement("lean")
    plain = read_jsonl(jsonl(BENCH / "minif2f-lean4.jsonl", limit=1))[0]
    assert plain.prompt_statement("lean") == plain.text


def test_lean_composition_of_a_signature_and_of_a_type():
    from prover.lean.admission import compose_theorem
    name, sig, is_sig, kw = split_lean("theorem foo (x : ℕ) (h : 0 < x) :\n  1 ≤ x := by\n")
    assert (name, is_sig, kw) == ("foo", True, "theorem")
    assert compose_theorem(name, sig, "omega", signature=True).startswith("theorem foo (x : ℕ) (h : 0 < x) :")
    name, ty, is_sig, _ = split_lean("theorem bar : 1 + 1 = 2 :=")
    assert not is_sig and compose_theorem(name, ty, "rfl").startswith("theorem bar : 1 + 1 = 2 := by")


def test_coq_binders_become_forall_and_the_proof_gets_intros():
    name, st, names = split_coq("Lemma app_nil_r {A} (l : list A) : l ++ nil = l")
    assert (name, st, names) == ("app_nil_r", "forall A (l : list A), l ++ nil = l", ["A", "l"])
    with pytest.raises(ValueError):
        split_coq("Lemma bad (x := 3) : x = 3")


# ---------------------------------------------------------------- bad input

def test_a_malformed_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    good = {"name": "t1", "formal_statement": "Theorem t1 : True.", "header": ""}
    p.write_text(json.dumps(good) + "\n\n" + '{"name": "t2", "formal_statement": \n')
    with pytest.raises(SourceError, match=rf"{p}:3: not valid JSON"):
        read_jsonl(jsonl(p, language="coq"))
    p.write_text(json.dumps({"name": "t1", "header": ""}) + "\n")
    with pytest.raises(SourceError, match=rf"{p}:1: field 'formal_statement'"):
        read_jsonl(jsonl(p, language="coq"))


def test_unknown_source_kind_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"theorems\.sources\.0\.kind"):
        validate_config({"theorems": {"sources": [{"kind": "arxiv"}]}})
    with pytest.raises(ConfigError, match=r"theorems\.sources\.0\.jsonl\.path"):
        validate_config({"theorems": {"sources": [{"kind": "jsonl"}]}})


def test_without_sources_the_config_means_what_it_meant():
    assert validate_config({}).theorems.sources is None


def test_cli_malformed_line_exits_2_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner
    from loop.cli import app
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "x"\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"backend: coq\ntheorems:\n  sources:\n    - kind: jsonl\n      language: coq\n      path: {bad}\n")
    out = tmp_path / "run"
    for args in (["run", str(cfg), "--out", str(out)], ["theorems", str(cfg)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert f"{bad}:1" in result.output
    assert not out.exists()


# ---------------------------------------------------------------- Coq JSONL, end to end

COQ_THEOREMS = [
    {"name": "my_add_0", "formal_statement": "Theorem my_add_0 (n : nat) : n + 0 = n.",
     "header": "Require Import Arith.\n", "proof": "lia.", "split": "a"},
    {"name": "my_twice", "formal_statement": "Theorem my_twice : forall n, twice n = n + n.",
     "header": "Require Import Arith.\nDefinition twice (n : nat) := 2 * n.\n", "proof": "intros; unfold twice; lia.",
     "split": "a"},
    {"name": "my_rev_len", "formal_statement": "Lemma my_rev_len : forall (l : list nat), length (rev l) = length l.",
     "header": "Require Import List.\n", "proof": "intros; apply rev_length.", "split": "b"},
    {"name": "my_broken", "formal_statement": "Theorem my_broken : forall n, n +++ 0 = n.",
     "header": "Require Import Arith.\n", "split": "b"},
    {"name": "my_and", "formal_statement": "Theorem my_and : forall P Q : Prop, P /\\ Q -> Q /\\ P.",
     "header": "", "proof": "tauto.", "split": "b"},
    {"name": "my_le", "formal_statement": "Theorem my_le : forall n, n <= S n.",
     "header": "Require Import Arith.\n", "proof": "auto.", "split": "a"},
]


@needs_coq
def test_coq_jsonl_with_per_theorem_headers_runs_end_to_end(tmp_path):
    from loop.run import run_experiment
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in COQ_THEOREMS))
    cfg = validate_config({
        "name": "coq-jsonl", "rounds": 1, "backend": "coq",
        "theorems": {"warmstart_fraction": 0.0, "heldout_fraction": 0.3,
                     "sources": [{"kind": "jsonl", "language": "coq", "path": str(data), "name": "mine",
                                  "splits": {"a": "warmstart", "b": "heldout"}},
                                 {"kind": "jsonl", "language": "coq", "path": str(data), "name": "again",
                                  "splits": {"a": "train", "b": "train"}}]},
        "model": {"cache_dir": str(tmp_path / "cache"),
                  "bootstrap": {"vocab_size": 128, "hidden_size": 32, "num_layers": 1, "num_heads": 2,
                                "intermediate_size": 64, "steps": 20, "batch_size": 8}},
        "sampling": {"k": 2, "max_new_tokens": 16}, "eval": {"n": 2, "k": 2, "probe_size": 4},
        "lora": {"r": 4, "alpha": 8, "epochs": 1}, "verifier": {"workers": 1}})
    summary = run_experiment(cfg, tmp_path / "run", progress=False)
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    db = sqlite3.connect(tmp_path / "run" / "run.db")
    ill = json.loads(db.execute("SELECT value FROM meta WHERE key='ill_formed'").fetchone()[0])
    assert set(ill) == {"mine/my_broken", "again/my_broken"}  # the `+++` statement does not elaborate
    pools = dict(db.execute("SELECT pool, COUNT(*) FROM theorems GROUP BY pool").fetchall())
    assert pools == {"warmstart": 3, "heldout": 2, "train": 5}
    assert db.execute("SELECT COUNT(*) FROM attempts WHERE theorem_id LIKE '%my_broken'").fetchone()[0] == 0
    # Each theorem was judged under its own header: my_twice's `twice` exists only in its header.
    reasons = [r for (r,) in db.execute("SELECT judge_reason FROM attempts WHERE theorem_id='again/my_twice'")]
    assert reasons and not any("twice was not found" in r for r in reasons)


@needs_coq
def test_routing_verifier_keeps_one_pool_per_header():
    from prover.coq.contexts import RoutingCoqVerifier
    from prover.verdict import ProofTask, Status
    h1 = "Definition twice (n : nat) := 2 * n.\n"
    tasks = [ProofTask("a", "twice 2 = 4", "reflexivity.", "t_a", header=h1),
             ProofTask("b", "twice 2 = 4", "reflexivity.", "t_b"),  # default header: no `twice`
             ProofTask("c", "forall P : Prop, P -> P", "auto.", "t_c", header="")]
    with RoutingCoqVerifier(workers=1) as v:
        verdicts = v.verify(tasks)
        assert set(v.pools) == {h1, None, ""}
    assert [x.status for x in verdicts] == [Status.VERIFIED, Status.ERROR, Status.VERIFIED]
    assert "does not elaborate" in verdicts[1].reason


# ---------------------------------------------------------------- LeanDojo Benchmark 4

LEANDOJO_ITEM = {
    "url": "https://github.com/leanprover-community/mathlib4", "commit": "29dcec074de168ac2bf835a77ef68bbe069194c5",
    "file_path": "Mathlib/Algebra/Group/Basic.lean", "full_name": "mul_left_cancel_iff_demo",
    "start": [42, 1], "end": [44, 20],
    "traced_tactics": [{"tactic": "intro h", "annotated_tactic": ["intro h", []],
                        "state_before": "G : Type u_1\n⊢ a * b = a * c → b = c", "state_after": "..."},
                       {"tactic": "exact mul_left_cancel h", "annotated_tactic": ["exact mul_left_cancel h", []],
                        "state_before": "...", "state_after": "no goals"}]}


def test_leandojo_split_files_are_read_with_lean_dojos_types(tmp_path):
    import lean_dojo
    from prover.theorems.sources import LeanDojoSource
    from prover.theorems.sources.leandojo import read_leandojo
    for stem, n in (("train", 2), ("val", 1), ("test", 1)):
        items = [{**LEANDOJO_ITEM, "full_name": f"{stem}_thm_{k}"} for k in range(n)]
        (tmp_path / f"{stem}.json").write_text(json.dumps(items))
    ts = read_leandojo(LeanDojoSource(kind="leandojo", path=str(tmp_path)))
    assert [t.id for t in ts] == ["leandojo/train_thm_0", "leandojo/train_thm_1", "leandojo/val_thm_0",
                                  "leandojo/test_thm_0"]
    assert isinstance(ts[0].meta["start"], lean_dojo.Pos) and ts[0].meta["start"].line_nb == 42
    assert ts[0].goal.endswith("b = c") and ts[0].human_proof == "intro h\nexact mul_left_cancel h"
    assert [t.meta["pool"] for t in ts] == ["train", "train", "train", "heldout"]
    (tmp_path / "val.json").write_text(json.dumps([{"url": "x"}]))
    with pytest.raises(SourceError, match=r"val\.json: theorem 0: missing"):
        read_leandojo(LeanDojoSource(kind="leandojo", path=str(tmp_path)))


@pytest.mark.skipif(shutil.which("lean") is not None, reason="a Lean toolchain is installed here")
def test_leandojo_checking_fails_at_once_saying_what_is_missing(tmp_path):
    from loop.run import run_experiment
    (tmp_path / "train.json").write_text(json.dumps([LEANDOJO_ITEM]))
    cfg = validate_config({"backend": "lean", "theorems": {"sources": [
        {"kind": "leandojo", "path": str(tmp_path), "files": {"train": "train"}}]}})
    from loop.preflight import PreflightError
    # Without Lean the start is refused before anything is read or written, naming what is missing.
    with pytest.raises(PreflightError, match="lean is not usable here .*Lean 4 is not installed"):
        run_experiment(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_theorems_json_reports_pools_sources_headers(tmp_path):
    from typer.testing import CliRunner
    from loop.cli import app
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in COQ_THEOREMS))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"backend: coq\ntheorems:\n  sources:\n    - kind: jsonl\n      language: coq\n      path: {data}\n"
                   "      splits: {a: train, b: heldout}\n    - kind: families\n")
    result = CliRunner().invoke(app, ["theorems", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith("{"), result.output[:500]
    report = json.loads(result.output)
    assert report["sources"] == {"mine": 6, "families": 720}
    assert sum(report["pools"].values()) == 726 and report["pools"]["heldout"] >= 3
    assert report["headers"] == 1 + 4  # the families' default header and four distinct JSONL headers
    shown = CliRunner().invoke(app, ["theorems", str(cfg), "--show", "mine/my_twice"])
    assert "Definition twice" in shown.output and "intros; unfold twice; lia." in shown.output
    if shutil.which("coqtop"):
        checked = json.loads(CliRunner().invoke(app, ["theorems", str(cfg), "--check", "--json"]).output)
        assert checked["ill_formed"] == ["mine/my_broken"]


def test_store_migration_adds_file_and_line_to_an_old_theorems_table(tmp_path):
    from loop.store import Store
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE theorems(id TEXT PRIMARY KEY, family TEXT NOT NULL, difficulty INTEGER NOT NULL, "
                "pool TEXT NOT NULL, name TEXT NOT NULL, statement TEXT NOT NULL, statement_coq TEXT, "
                "statement_lean TEXT)")
    old.execute("INSERT INTO theorems VALUES('lin/x','lin',1,'train','t_lin_x','True','True','True')")
    old.commit()
    old.close()
    store = Store(path)
    try:
        store.add_theorems([{"id": "s/a", "family": "Bool/Bool.v", "difficulty": 0, "pool": "heldout", "name": "a",
                             "statement": "True", "statement_coq": "True", "statement_lean": None,
                             "file": "Bool/Bool.v", "line": 12}])
        assert tuple(store.theorem("s/a")[k] for k in ("file", "line")) == ("Bool/Bool.v", 12)
        assert store.theorem("lin/x")["file"] is None
    finally:
        store.close()


def test_theorems_command_without_sources_lists_the_families():
    from typer.testing import CliRunner
    from loop.cli import app
    cfg = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    report = json.loads(CliRunner().invoke(app, ["theorems", str(cfg), "--json"]).output)
    assert report["sources"] == {"families": 6 * 24} and report["headers"] == 1
    assert set(report["families"]) == {"lin", "ring", "compute", "prop", "exists", "induct"}


@needs_coq
def test_coq_stdlib_pools_by_hash_or_by_whole_files():
    by_hash = validate_config({"backend": "coq", "theorems": {"heldout_fraction": 0.25, "sources": [
        {"kind": "coq-stdlib", "files": ["Bool/Bool.v", "Logic/Decidable.v"]}]}})
    theorems, pools = build_pools(by_hash.theorems, "coq")
    files = {p: {theorems[t].file for t in ids} for p, ids in pools.items()}
    assert files["heldout"] == {"Bool/Bool.v", "Logic/Decidable.v"}  # by hash: every file
    lines = [theorems[t].line for t in pools["train"] if theorems[t].file == "Bool/Bool.v"]
    assert lines == sorted(lines)  # file order, which the Coq cursor replays in
    by_file = validate_config({"backend": "coq", "theorems": {"sources": [
        {"kind": "coq-stdlib", "files": ["Bool/Bool.v", "Logic/Decidable.v"], "heldout_files": ["Logic/*"]}]}})
    theorems, pools = build_pools(by_file.theorems, "coq")
    assert {theorems[t].file for t in pools["heldout"]} == {"Logic/Decidable.v"}
    assert all(theorems[t].file == "Bool/Bool.v" for p in ("warmstart", "train") for t in pools[p])
    assert all(theorems[t].human_proof for t in pools["warmstart"][:5])
