"""`ratchet verify`, `ratchet check-screen` and `ratchet bench verify`, run as a researcher runs them."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from prover.backends import lean_ready
from prover.coq import coq_available

RATCHET = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "ratchet"
needs_coq = pytest.mark.skipif(not coq_available(), reason="coqtop is not installed")

HANG = "do 1000000000 idtac. exact I."  # a tactic loop that runs for hours in constant memory
LTAC_BOMB = "let rec f x := f x in f 0."  # non-tail Ltac recursion: eats memory until coqtop dies
VM_HANG = "let x := eval vm_compute in (N.iter 1000000000000%N (fun n => n) 0%N) in idtac. exact I."  # 10^12 steps
MEMORY_BOMB = "let x := eval vm_compute in (N.iter 100000000%N (cons tt) nil) in idtac. exact I."

# (id, statement, proof, expected verdict, text the reason must contain)
BATCH = [
    ("lia", "forall a b : nat, a + b = b + a", "intros. lia.", "verified", "verified"),
    ("induction", "forall n : nat, n + 0 = n",
     "intros n. induction n as [|k IH].\n- reflexivity.\n- simpl. rewrite IH. reflexivity.", "verified", "verified"),
    ("admitted", "False", "Admitted.", "rejected", "screen: vernacular command 'Admitted'"),
    ("admit", "False", "admit.", "rejected", "screen: forbidden tactic 'admit'"),
    ("axiom", "False", "exact I.\nQed.\nAxiom cheat : False.", "rejected", "screen: vernacular"),
    ("comment-trick", "False", "exact I. (*", "rejected", "screen: unterminated comment"),
    ("wrong", "1 + 1 = 3", "lia.", "rejected", "rejected: Error: Tactic failure"),
    ("hang", "True", HANG, "timeout", "timeout after 3.0s"),
    ("after-hang", "True", "exact I.", "verified", "verified"),
    ("vm-hang", "True", VM_HANG, "timeout", "timeout after 3.0s"),
    ("killer", "True", MEMORY_BOMB, "rejected", "coqtop died"),
    ("ltac-killer", "True", LTAC_BOMB, "rejected", "coqtop died"),
    ("after-killer", "forall a : nat, a <= a + 1", "intros. lia.", "verified", "verified"),
    ("fake-sentinel", "True", 'idtac "No object of basename ratchet__s_0123456789abcdef". exact I.', "verified",
     "verified"),
    ("fake-closed", "False", 'idtac "Closed under the global context". idtac "No more goals.".', "rejected",
     "rejected: the proof is incomplete"),
    ("fake-error", "True", 'idtac "Error: ratchet__e_0123456789abcdef not a defined object.". exact I.',
     "verified", "verified"),
    ("fake-prompt", "2 + 2 = 4", 'idtac "Coq < ratchet_goal < ". reflexivity.', "verified", "verified"),
    ("bad-statement", "no_such_thing = 1", "reflexivity.", "error", "statement does not elaborate"),
]


def batch_file(tmp_path: Path) -> Path:
    lines = [json.dumps({"id": i, "statement": s, "proof": p}) for i, s, p, _, _ in BATCH]
    lines.insert(5, "this line is not JSON")  # malformed lines get an error verdict and the run goes on
    lines.insert(9, json.dumps({"id": "no-proof", "statement": "True"}))
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def expected() -> list[tuple]:
    rows = [(i, verdict, text) for i, _, _, verdict, text in BATCH]
    rows.insert(5, (None, "error", "line 6: not valid JSON"))
    rows.insert(9, ("no-proof", "error", "line 10: missing field 'proof'"))
    return rows


def run(*args, stdin: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(RATCHET), *args], input=stdin, capture_output=True, text=True, timeout=timeout)


@needs_coq
@pytest.mark.parametrize("workers", [1, 2])
def test_verify_batch_of_valid_cheating_hanging_killing_and_protocol_text_proofs(tmp_path, workers):
    proc = run("verify", "--backend", "coq", "--workers", str(workers), "--timeout", "3", "--memory-mb", "700",
               str(batch_file(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(expected())
    for number, (got, (ident, verdict, text)) in enumerate(zip(out, expected()), start=1):
        assert set(got) == {"line", "id", "verdict", "reason", "seconds"}
        assert got["line"] == number
        assert (got["id"], got["verdict"]) == (ident, verdict), got
        assert text in got["reason"], got
        assert isinstance(got["seconds"], float) and got["seconds"] >= 0


@needs_coq
def test_verify_reads_stdin():
    lines = "\n".join(json.dumps({"id": f"t{k}", "statement": f"{k} + {k} = {2 * k}", "proof": "reflexivity."})
                      for k in range(5))
    proc = run("verify", "--backend", "coq", "-", stdin=lines)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["id"] for x in proc.stdout.splitlines()] == [f"t{k}" for k in range(5)]
    assert {json.loads(x)["verdict"] for x in proc.stdout.splitlines()} == {"verified"}


def test_check_screen_reports_rule_per_line(tmp_path):
    rows = [{"id": "ok", "proof": "intros. lia."}, {"id": "cheat", "proof": "Admitted."},
            {"id": "hidden", "proof": "- give_up."}, {"id": "nobody"}]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\nnot json\n")
    proc = run("check-screen", "--backend", "coq", str(path))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(o["line"], o["id"], o["admissible"], o["rule"]) for o in out] == [
        (1, "ok", True, None), (2, "cheat", False, "vernacular"), (3, "hidden", False, "forbidden-tactic"),
        (4, "nobody", False, "malformed-input"), (5, None, False, "malformed-input"),
        (6, None, False, "malformed-input")]
    assert "line 4" in out[3]["detail"] and "line 5: empty line" in out[4]["detail"]
    assert "line 6: not valid JSON" in out[5]["detail"]
    alias = run("check-policy", "--backend", "coq", str(path))  # the command's old name still works
    assert alias.returncode == 0 and alias.stdout == proc.stdout
    assert "check-policy" not in run("--help").stdout  # ... but is not advertised


@pytest.mark.skipif(lean_ready(), reason="Lean is installed here")
def test_verify_with_lean_absent_fails_fast_with_the_install_message(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"id": "a", "statement": "True", "proof": "trivial"}) + "\n")
    proc = run("verify", "--backend", "lean", str(path), timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "lean" in proc.stderr.lower() and "install" in proc.stderr.lower()


def test_verify_unknown_backend_is_refused(tmp_path):
    proc = run("verify", "--backend", "isabelle", "-", stdin="")
    assert proc.returncode == 2 and "isabelle" in proc.stderr


@needs_coq
def test_bench_verify_last_line_is_json_with_the_figures():
    proc = run("bench", "verify", "--backend", "coq", "--n", "6", timeout=300)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("pooled_per_s", "fresh_per_s", "speedup", "agreement"):
        assert isinstance(figures[key], (int, float)), key
    assert figures["n"] == 6 and figures["agreement"] == 1.0
    assert figures["pooled_per_s"] > figures["fresh_per_s"] > 0
    assert sum(figures["pooled_verdicts"].values()) == 6
    assert figures["single_file_ok"] and figures["single_file_proofs"] == figures["pooled_verdicts"]["verified"]
    assert figures["cpu_ratio_to_single_file"] > 0


@needs_coq
def test_bench_verify_times_a_corpus_file_against_both_baselines(tmp_path):
    path = tmp_path / "corpus.jsonl"
    rows = [{"id": "a", "statement": "forall n : nat, n + 0 = n", "proof": "intro n. lia."},
            {"id": "b", "statement": "True", "proof": "exact I."},
            {"id": "c", "statement": "1 + 1 = 3", "proof": "lia."}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    proc = run("bench", "verify", "--corpus", str(path), "--workers", "1", timeout=300)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["corpus"] == str(path) and figures["n"] == 3 and figures["agreement"] == 1.0
    assert figures["pooled_verdicts"]["verified"] == figures["single_file_proofs"] == 2
    assert figures["single_file_ok"] and figures["single_file_cpu_s"] > 0 and figures["cpu_ratio_to_single_file"] > 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    proc = run("bench", "verify", "--corpus", str(bad), timeout=60)
    assert proc.returncode == 2 and "line 1: not valid JSON" in proc.stderr


# One line each, as bytes: (input line, expected verdict, text its reason must contain).
def _row(ident: str, statement: str = "True", proof: str = "exact I.", **extra) -> bytes:
    return json.dumps({"id": ident, "statement": statement, "proof": proof, **extra}).encode()


HOSTILE: list[tuple[bytes, str, str]] = [
    (_row("ok-first"), "verified", "verified"),
    (b'{"id": "sur-comment", "statement": "True", "proof": "exact I. (* \\ud800 *)"}', "error",
     "field 'proof' holds a lone surrogate (\\ud800)"),
    (b'{"id": "sur-string", "statement": "True", "proof": "idtac \\"\\udfff\\". exact I."}', "error",
     "lone surrogate"),
    (b'{"id": "sur-statement", "statement": "True \\ud83d", "proof": "exact I."}', "error",
     "field 'statement' holds a lone surrogate"),
    (b'{"id": "\\ud800-id", "statement": "True", "proof": "exact I."}', "error", "field 'id' holds a lone surrogate"),
    (b'{"id": "deep", "statement": "True", "proof": "exact I.", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "error", "nested too deeply"),
    (b'{"id": "not-utf8", "statement": "True", "proof": "exact I. (* \xff *)"}', "error", "not valid UTF-8 (byte 0xff"),
    (b'{"id": "cr-inside",\r "statement": "True",\r\r "proof": "exact I."}', "verified", "verified"),
    (b"", "error", "empty line"),
    (b"   \t", "error", "empty line"),
    (_row("sep\u2028in\u2029id\x85"), "verified", "verified"),
    (_row("unbalanced", statement="True) -> (True"), "error", "unbalanced ')'"),
    (_row("taken", name="double"), "error", "the theorem cannot be stated: Error: double already exists"),
    (_row("reserved-fun", name="fun"), "error", "'fun' is a word Coq reserves"),
    (_row("reserved-_", name="_"), "error", "'_' is a word Coq reserves"),
    (_row("reserved-Type", name="Type"), "error", "'Type' is a word Coq reserves"),
    (b'[1, 2]', "error", "expected a JSON object"),
    (b'{"id": "huge-int", "statement": "True", "proof": "exact I.", "n": ' + b"9" * 5000 + b"}", "error",
     "not valid JSON"),
    (_row("ok-last", statement="forall n : nat, n + 0 = n", proof="intro n. lia."), "verified", "verified"),
]


def _hostile_file(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(line for line, _, _ in HOSTILE) + b"\n")
    return path


def _rows(stdout: bytes) -> list[dict]:
    text = stdout.decode("utf-8")  # strict: the output is valid UTF-8 whatever the input was
    assert not any(ch in text for ch in "\u2028\u2029\x85\r")  # escaped, never raw
    assert len(text.splitlines()) == len(text.split("\n")) - 1  # no Unicode line break splits a row
    return [json.loads(line) for line in text.splitlines()]


@needs_coq
def test_every_hostile_input_line_gets_one_verdict_in_order_and_the_run_goes_on(tmp_path):
    proc = subprocess.run([str(RATCHET), "verify", "--backend", "coq", "--workers", "1", str(_hostile_file(tmp_path))],
                          capture_output=True, timeout=240)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = _rows(proc.stdout)
    assert [o["line"] for o in out] == list(range(1, len(HOSTILE) + 1))
    for got, (_, verdict, text) in zip(out, HOSTILE):
        assert got["verdict"] == verdict and text in got["reason"], got
        if verdict == "error":
            assert f"line {got['line']}" in got["reason"] or got["reason"].startswith("error: "), got
    assert out[4]["id"] == "\ud800-id"  # written as the escape it came in as
    assert out[10]["id"] == "sep\u2028in\u2029id\x85" and b"sep\\u2028in\\u2029id\\u0085" in proc.stdout


@needs_coq
def test_the_same_lines_from_stdin_get_the_same_verdicts(tmp_path):
    path = _hostile_file(tmp_path)
    proc = subprocess.run([str(RATCHET), "verify", "--backend", "coq", "-"], input=path.read_bytes(),
                          capture_output=True, timeout=240)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert [(o["line"], o["verdict"]) for o in _rows(proc.stdout)] == \
        [(k, verdict) for k, (_, verdict, _) in enumerate(HOSTILE, start=1)]


def test_check_screen_gives_every_hostile_line_one_row_in_order(tmp_path):
    proc = subprocess.run([str(RATCHET), "check-screen", "--backend", "coq", str(_hostile_file(tmp_path))],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = _rows(proc.stdout)
    assert [o["line"] for o in out] == list(range(1, len(HOSTILE) + 1))
    malformed = [o["line"] for o in out if o["rule"] == "malformed-input"]
    assert malformed == [k for k, (_, verdict, text) in enumerate(HOSTILE, start=1)
                         if verdict == "error" and "reserve" not in text and "stated" not in text
                         and "unbalanced" not in text]
