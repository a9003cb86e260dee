"""The REPL pool against an executable test double that speaks the REPL protocol.

The double (tests/lean_repl_double.py) is a real child process: the pool starts
it, times it out, kills its process group, sees it crash or flood, and recycles
it exactly as it would the Lean REPL.
"""
from __future__ import annotations

import functools
import os
import signal
import threading
import json
import sys
import time

import pytest

from lean_testkit import DOUBLE, gone
from prover.lean.admission import judge
from prover.lean.pool import LaunchSpec, ReplPool, ReplSession, ReplStartError, run_limited
from prover.verdict import ProofTask, Status

HEADER = "def double : Nat → Nat\n  | 0 => 0\n  | n + 1 => double n + 2\n"
JUDGE = functools.partial(judge, header=HEADER, checker=None, replay_timeout_s=10)


def spec(style: str = "old") -> LaunchSpec:
    return LaunchSpec(argv=(*DOUBLE, "--style", style))


def task(body: str, i: int = 0) -> ProofTask:
    return ProofTask(id=f"t{i}", statement="double 2 = 4", proof=body)


def pool(**kw) -> ReplPool:
    settings = dict(workers=1, timeout_s=5.0, memory_mb=1024, recycle_after=100, startup_timeout_s=20)
    settings.update(kw)
    return ReplPool(spec(settings.pop("style", "old")), settings.pop("header", HEADER), **settings)


def limits(verdict) -> dict:
    (line,) = [m for m in verdict.messages if '"rlimit_as"' in m]
    return json.loads(line[line.index("{"):])


def test_header_loaded_once_and_reused_for_every_proof():
    p = pool()
    try:
        verdicts = p.map([task("decide", i) for i in range(4)], JUDGE)
        assert [v.status for v in verdicts] == [Status.VERIFIED] * 4
        assert "axioms: []" in verdicts[0].reason and "kernel replay: not available" in verdicts[0].reason
        assert p.stats.started == 1  # one process, one header load, four proofs
    finally:
        p.close()


@pytest.mark.parametrize("style", ["old", "new"])
def test_repl_level_rejections(style):
    p = pool(style=style)
    try:
        verdicts = p.map([task("sorry"), task("ratchet_magic_error"), task("ratchet_magic_unknown"),
                          task("ratchet_magic_axiom_Lean.ofReduceBool"), task("ratchet_magic_axiom_propext")],
                         JUDGE)
        assert [v.status for v in verdicts] == [Status.REJECTED] * 4 + [Status.VERIFIED]
        assert "sorry" in verdicts[0].reason
        assert "unsolved goals" in verdicts[1].reason
        assert verdicts[2].reason.endswith("unknown identifier ratchet_nope")  # both spellings
        assert "Lean.ofReduceBool" in verdicts[3].reason
        assert "axioms: [propext]" in verdicts[4].reason
    finally:
        p.close()


def test_timeout_kills_the_process_group_and_a_fresh_process_takes_over():
    p = pool(timeout_s=1.0)
    try:
        started = time.monotonic()
        verdicts = p.map([task("ratchet_magic_limits"), task("ratchet_magic_hang"), task("ratchet_magic_limits")],
                         JUDGE)
        assert time.monotonic() - started < 8
        assert [v.status for v in verdicts] == [Status.VERIFIED, Status.TIMEOUT, Status.VERIFIED]
        assert "killed and replaced" in verdicts[1].reason and 1.0 <= verdicts[1].seconds < 3
        first, after = limits(verdicts[0]), limits(verdicts[2])
        assert first["pid"] != after["pid"] and gone(first["pid"])
        assert p.stats.timeouts == 1 and p.stats.started == 2
    finally:
        p.close()


def test_a_proof_that_crashes_every_process_is_rejected_as_crashed_twice_never_verified():
    p = pool()
    try:
        verdicts = p.map([task("ratchet_magic_crash"), task("decide")], JUDGE)
        assert verdicts[0].status is Status.REJECTED
        assert verdicts[0].reason.startswith("crashed twice: the REPL process died")
        assert "exited with code 134" in verdicts[0].reason and "again on a fresh process" in verdicts[0].reason
        assert verdicts[1].status is Status.VERIFIED
        # Two crashes, each on a process of its own; both gone; a third process judged the next proof.
        assert p.stats.crashes == 2 and p.stats.started == 3
        assert gone(p.stats.pids[0]) and gone(p.stats.pids[1])
    finally:
        p.close()


@pytest.mark.parametrize("body,status", [("decide", Status.VERIFIED), ("ratchet_magic_error", Status.REJECTED),
                                         ("ratchet_magic_axiom_Lean.ofReduceBool", Status.REJECTED)])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_process_that_dies_once_under_a_proof_is_replaced_and_the_retry_judges_it(tmp_path, body, status,
                                                                                    workers):
    p = ReplPool(LaunchSpec(argv=spec().argv, cwd=str(tmp_path)), HEADER, workers=workers, timeout_s=5.0,
                 memory_mb=1024, recycle_after=100, startup_timeout_s=20)
    try:
        verdicts = p.map([task("decide", 0), task(f"ratchet_magic_crash_once_x {body}", 1), task("decide", 2)],
                         JUDGE)
        assert (tmp_path / "x").exists()  # the double really died once
        assert p.stats.crashes == 1
        assert [v.status for v in verdicts] == [Status.VERIFIED, status, Status.VERIFIED], verdicts
        assert "crash" not in verdicts[1].reason and "died" not in verdicts[1].reason
    finally:
        p.close()


def test_output_out_of_protocol_is_rejected_and_never_desynchronises_later_proofs():
    p = pool()
    try:
        verdicts = p.map([task("ratchet_magic_garbage"), task("decide"), task("ratchet_magic_fake"),
                          task("ratchet_magic_error"), task("decide")], JUDGE)
        assert [v.status for v in verdicts] == [Status.REJECTED, Status.VERIFIED, Status.REJECTED,
                                                Status.REJECTED, Status.VERIFIED]
        assert "protocol" in verdicts[0].reason and "protocol" in verdicts[2].reason
        assert "unsolved goals" in verdicts[3].reason  # its own answer, not a stale forged one
        assert p.stats.protocol_errors == 2
    finally:
        p.close()


def test_recycled_after_n_uses():
    p = pool(recycle_after=2)
    try:
        verdicts = p.map([task("ratchet_magic_limits", i) for i in range(5)], JUDGE)
        assert all(v.status is Status.VERIFIED for v in verdicts)
        pids = [limits(v)["pid"] for v in verdicts]
        assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
        assert p.stats.recycled == 2 and p.stats.started == 3
        assert gone(pids[0]) and gone(pids[2])  # recycled processes really ended
    finally:
        p.close()


def test_two_workers_run_concurrently_and_keep_input_order():
    p = pool(workers=2)
    try:
        # Slow ones first: with two workers the later, fast items finish before them.
        bodies = [f"ratchet_magic_slow_{ms} ratchet_magic_limits" for ms in (900, 900, 10, 10)] + \
                 ["sorry", "ratchet_magic_limits", "ratchet_magic_error", "ratchet_magic_limits"]
        started = time.monotonic()
        verdicts = p.map([task(b, i) for i, b in enumerate(bodies)], JUDGE)
        elapsed = time.monotonic() - started
        assert [v.status for v in verdicts] == [Status.VERIFIED] * 4 + [
            Status.REJECTED, Status.VERIFIED, Status.REJECTED, Status.VERIFIED]
        assert "sorry" in verdicts[4].reason and "unsolved goals" in verdicts[6].reason
        assert limits(verdicts[0])["pid"] != limits(verdicts[1])["pid"]
        assert elapsed < 1.6  # the two slow proofs overlapped (one after the other takes 1.8 s)
    finally:
        p.close()


def test_memory_limit_is_set_per_process_and_enforced():
    p = pool(memory_mb=512)
    try:
        verdicts = p.map([task("ratchet_magic_limits"), task("ratchet_magic_memory"), task("decide")], JUDGE)
        seen = limits(verdicts[0])
        assert seen["rlimit_as"] == 512 * 1024 * 1024
        assert seen["pgid"] == seen["pid"]  # its own process group, so killpg reaches only it
        assert verdicts[1].status is Status.REJECTED and "died" in verdicts[1].reason
        assert verdicts[2].status is Status.VERIFIED
    finally:
        p.close()


def test_no_process_is_left_after_close():
    p = pool(workers=2, timeout_s=1.0)
    p.map([task("ratchet_magic_hang"), task("decide"), task("ratchet_magic_crash"), task("decide", 3)], JUDGE)
    live = p.live_pids()
    assert live and all(not gone(pid) for pid in live)
    p.close()
    assert p.stats.pids and all(gone(pid) for pid in p.stats.pids)
    assert p.live_pids() == []


def test_a_header_that_does_not_compile_is_an_infrastructure_error_for_every_proof():
    p = pool(header="ratchet_magic_bad_header")
    try:
        started = time.monotonic()
        verdicts = p.map([task("decide", i) for i in range(5)], JUDGE)
        assert all(v.status is Status.ERROR for v in verdicts)
        assert "header does not compile" in verdicts[0].reason
        assert p.stats.started == 0 and time.monotonic() - started < 5
    finally:
        p.close()


def test_a_missing_executable_is_a_start_error():
    with pytest.raises(ReplStartError, match="cannot start"):
        ReplSession(LaunchSpec(argv=("/nonexistent/repl",)), "", 256, 5)
    p = ReplPool(LaunchSpec(argv=("/nonexistent/repl",)), "", workers=1, timeout_s=1, memory_mb=256,
                 recycle_after=10)
    (verdict,) = p.map([task("decide")], JUDGE)
    assert verdict.status is Status.ERROR and "cannot start" in verdict.reason


def test_progress_is_reported_once_per_item():
    p = pool(workers=2)
    calls = []
    try:
        p.map([task("decide", i) for i in range(5)], JUDGE, progress=calls.append)
    finally:
        p.close()
    assert calls == [1] * 5


def test_run_limited_kills_a_command_that_runs_too_long():
    code, _ = run_limited([sys.executable, "-c", "import time; time.sleep(30)"], cwd=None, env=None,
                          timeout_s=0.5, memory_mb=512)
    assert code is None
    code, output = run_limited([sys.executable, "-c", "print('hi'); raise SystemExit(3)"], cwd=None, env=None,
                               timeout_s=10, memory_mb=512)
    assert code == 3 and output.strip() == "hi"


def test_a_process_killed_under_a_proof_once_is_replaced_and_the_retry_judges_it():
    p = pool(timeout_s=10.0)
    killed: list[int] = []

    def kill_the_first_process_mid_proof() -> None:
        deadline = time.monotonic() + 20
        while not p.live_pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # the header is loaded at once; the proof sleeps for 1.5 s
        killed.append(p.live_pids()[0])
        os.killpg(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_first_process_mid_proof)
    try:
        killer.start()
        (verdict,) = p.map([task("ratchet_magic_slow_1500 decide")], JUDGE)
        killer.join()
        assert verdict.status is Status.VERIFIED and "died" not in verdict.reason, verdict
        assert p.stats.crashes == 1 and p.stats.pids[0] == killed[0] and gone(killed[0])
        assert p.stats.started == 2
    finally:
        p.close()


def test_a_pool_closed_under_a_running_batch_starts_no_new_process():
    """What an interrupted caller's finally does: close() while the slot threads are busy. Their
    processes die under them; they must neither retry on fresh ones nor take more items."""
    p = pool(workers=2, timeout_s=60.0)
    raised: list[BaseException] = []

    def batch() -> None:
        try:
            p.map([task("ratchet_magic_hang", i) for i in range(8)], JUDGE)
        except BaseException as err:  # noqa: BLE001 (looked at below)
            raised.append(err)

    runner = threading.Thread(target=batch)
    runner.start()
    deadline = time.monotonic() + 20
    while len(p.live_pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(p.live_pids()) == 2
    time.sleep(0.5)  # both are now under a proof that never answers
    p.close()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], ReplStartError) and "closed" in str(raised[0])
    assert p.stats.started == 2, p.stats.pids
    assert all(gone(pid) for pid in p.stats.pids) and p.live_pids() == []
