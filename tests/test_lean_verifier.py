"""LeanVerifier end to end: screen, pool and admission together; fail-fast without Lean.

Tests marked ``lean`` run the real REPL and skip where the Lake project is not built.
"""
from __future__ import annotations

import functools

import pytest

from lean_testkit import DOUBLE, gone
from prover.lean import LeanUnavailable, LeanVerifier, lean_available, lean_unavailable_message
from prover.lean.admission import judge
from prover.lean.pool import ReplPool
from prover.lean.project import LEAN_PROJECT, default_header, find_install
from prover.verdict import ProofTask, Status

needs_lean = pytest.mark.skipif(not lean_available(), reason=lean_unavailable_message() or "Lean available")


def t(i: int, proof: str, statement: str = "double 2 = 4") -> ProofTask:
    return ProofTask(id=f"p{i}", statement=statement, proof=proof)


def test_mixed_batch_gets_the_right_verdict_per_line_in_order():
    batch = [t(0, "decide"), t(1, "sorry"), t(2, "ratchet_magic_hang"), t(3, "native_decide"),
             t(4, "ratchet_magic_crash"), t(5, "ratchet_magic_garbage"), t(6, "ratchet_magic_error"),
             t(7, "set_option maxHeartbeats 0 in\ndecide"), t(8, "rfl"),
             t(9, "ratchet_magic_axiom_sorryAx"), t(10, "ratchet_magic_fake"), t(11, "omega")]
    expected = [Status.VERIFIED, Status.REJECTED, Status.TIMEOUT, Status.REJECTED, Status.REJECTED,
                Status.REJECTED, Status.REJECTED, Status.REJECTED, Status.VERIFIED, Status.REJECTED,
                Status.REJECTED, Status.VERIFIED]
    for workers in (1, 2):
        done = []
        with LeanVerifier(workers=workers, timeout_s=1.0, memory_mb=1024, repl_cmd=DOUBLE) as verifier:
            verdicts = verifier.verify(batch, progress=done.append)
            pids = [pid for pool in verifier.pools.values() for pid in pool.stats.pids]
        assert [v.status for v in verdicts] == expected, (workers, [(v.status, v.reason) for v in verdicts])
        assert verdicts[1].reason.startswith("screen: sorry")  # refused before any process ran
        assert verdicts[3].reason.startswith("screen: native-decide")
        assert verdicts[7].reason.startswith("screen: set-option")
        assert "sorryAx" in verdicts[9].reason
        assert sum(done) == len(batch)
        assert pids and all(gone(pid) for pid in pids)


def test_version_records_the_repl_and_kernel_replay():
    verifier = LeanVerifier(workers=1, repl_cmd=DOUBLE, kernel_replay="off")
    try:
        version = verifier.version()
    finally:
        verifier.close()
    assert "custom REPL command" in version and "lean_repl_double.py" in version
    assert "kernel replay: off" in version and "header sha256:" in version
    assert verifier.backend == "lean"


def test_the_default_header_is_the_framework_lean_header():
    verifier = LeanVerifier(workers=1, repl_cmd=DOUBLE)
    try:
        assert verifier.header == default_header() and "def double" in verifier.header
    finally:
        verifier.close()


def test_a_bad_theorem_name_is_misuse():
    verifier = LeanVerifier(workers=1, repl_cmd=DOUBLE)
    try:
        with pytest.raises(ValueError, match="p0.*identifier"):
            verifier.verify([ProofTask(id="p0", statement="True", proof="trivial", name="bad name")])
    finally:
        verifier.close()


@pytest.mark.skipif(lean_available(), reason="Lean is installed here")
def test_without_lean_construction_fails_fast_saying_how_to_install(tmp_path):
    with pytest.raises(LeanUnavailable, match="setup.sh") as raised:
        LeanVerifier()
    assert "elan" in str(raised.value) and "lake build" in str(raised.value)
    with pytest.raises(LeanUnavailable, match="lean-toolchain is missing"):
        LeanVerifier(project_dir=tmp_path)
    with pytest.raises(LeanUnavailable, match="kernel replay is required"):
        LeanVerifier(repl_cmd=DOUBLE, kernel_replay="require")
    assert not lean_available() and "setup.sh" in lean_unavailable_message()


# -- real Lean (opt-in: pytest -m lean) -----------------------------------------------------------

REAL = [
    ("decide", "double 3 = 6", Status.VERIFIED),
    ("intro n\ninduction n with\n| zero => rfl\n| succ k ih => simp only [double, ih]; omega",
     "∀ n : Nat, double n = 2 * n", Status.VERIFIED),
    ("intro p\nexact Classical.em p", "∀ p : Prop, p ∨ ¬p", Status.VERIFIED),
    ("rfl", "double 3 = 7", Status.REJECTED),
    ("sorry", "double 3 = 6", Status.REJECTED),
    ("native_decide", "double 3 = 6", Status.REJECTED),
]


@pytest.mark.lean
@needs_lean
def test_real_lean_verifies_and_rejects():
    with LeanVerifier(workers=2, timeout_s=60) as verifier:
        verdicts = verifier.verify([t(i, p, s) for i, (p, s, _) in enumerate(REAL)])
        assert verifier.version().startswith("Lean (version 4.")
    assert [v.status for v in verdicts] == [e for _, _, e in REAL], [v.reason for v in verdicts]


@pytest.mark.lean
@needs_lean
@pytest.mark.parametrize("body, why", [("sorry", "sorry"), ("native_decide", "Lean.ofReduceBool")])
def test_real_lean_admission_without_the_screen(body, why):
    # Bypass the static screen: the REPL-side rule must still refuse (no sorry; axiom allowlist).
    header = default_header()
    pool = ReplPool(find_install().launch_spec(), header, workers=1, timeout_s=60, memory_mb=8192,
                    recycle_after=10)
    try:
        (verdict,) = pool.map([t(0, body, "double 3 = 6")],
                              functools.partial(judge, header=header, checker=None, replay_timeout_s=60))
    finally:
        pool.close()
    assert verdict.status is Status.REJECTED and why in verdict.reason


@pytest.mark.lean
@needs_lean
def test_real_ratchet_library_builds():
    assert (LEAN_PROJECT / ".lake" / "build").is_dir(), "run lean_project/setup.sh (lake build)"
