"""The Lean admission rule on recorded responses: compile check, axioms report, composition, replay."""
from __future__ import annotations

import functools
import json
import re
import sys

import pytest

from lean_testkit import DOUBLE, KIMINA, TRANSCRIPTS, VERSIONS, files, needs_transcripts
from prover.lean.admission import (ALLOWED_AXIOMS, CompositionError, KernelChecker, axioms_command,
                                   check_axioms, check_compiled, compose_theorem, judge, parse_axioms_report)
from prover.lean.pool import LaunchSpec, ReplPool
from prover.lean.project import DEFS_PATH, LEAN_PROJECT, default_header, header_from_defs, pinned_toolchain
from prover.lean.protocol import (CommandResponse, Message, ReplError, TacticResponse, parse_kimina_output,
                                  parse_response, split_responses)
from prover.verdict import ProofTask, Status


def responses(relative: str) -> list:
    return [parse_response(o) for o in split_responses((TRANSCRIPTS / relative).read_text(encoding="utf-8"))]


def info(data: str) -> Message:
    return Message("info", data)


# -- composition -----------------------------------------------------------------------------------

def test_compose_indents_every_line_and_removes_common_indentation():
    flat = compose_theorem("t", "∀ n : Nat, n + 0 = n", "intro n\n  -- why\nsimp")
    assert flat == "theorem t : ∀ n : Nat, n + 0 = n := by\n  intro n\n    -- why\n  simp"
    assert compose_theorem("t", "True", "  trivial\n") == compose_theorem("t", "True", "trivial")
    assert compose_theorem("t", "True", "constructor\n\n  · trivial").endswith("\n  constructor\n\n    · trivial")


@pytest.mark.parametrize("name", ["", "1abc", "a.b", "a b", "theorem", "x:=", "«x»"])
def test_compose_refuses_names_that_are_not_plain_identifiers(name):
    with pytest.raises(CompositionError, match="identifier"):
        compose_theorem(name, "True", "trivial")


def test_axioms_command_is_two_commands_with_the_nonce():
    assert axioms_command("goal", "ab12") == '#print axioms goal\n#print "ratchet-sync ab12"'


# -- step 2: the proof command's response -----------------------------------------------------------

@needs_transcripts
@pytest.mark.parametrize("version", VERSIONS)
def test_sorry_is_rejected_in_each_version(version):
    first = responses(f"{version}/test/readme.expected.out")[0]
    check = check_compiled(first)
    assert check.status is Status.REJECTED and "sorry" in check.reason


@needs_transcripts
def test_every_recorded_command_response_gets_the_expected_compile_verdict():
    seen = {"passed": 0, "sorry": 0, "error": 0}
    for path in files("*.expected.out"):
        for response in (parse_response(o) for o in split_responses(path.read_text(encoding="utf-8"))):
            if not isinstance(response, CommandResponse):
                continue
            check = check_compiled(response)
            if any(m.severity == "error" for m in response.messages):
                assert check.status is Status.REJECTED and check.reason.startswith("Lean error"), path
                seen["error"] += 1
            elif response.sorries or any("declaration uses" in m.data for m in response.messages):
                assert check.status is Status.REJECTED and "sorry" in check.reason, path
                seen["sorry"] += 1
            else:
                assert check.passed, (path, check)
                seen["passed"] += 1
    assert min(seen.values()) >= 20, seen  # each outcome is well represented


@needs_transcripts
def test_known_outcomes_name_their_reason():
    clean = responses("v4.33.0-rc2/test/line_breaks.expected.out")
    assert [check_compiled(r).status for r in clean] == [Status.REJECTED, Status.REJECTED, None]
    assert "unsolved goals" in check_compiled(clean[0]).reason
    broken = check_compiled(responses("v4.33.0-rc2/test/invalid_line_break.expected.out")[0])
    assert broken.reason == "Lean error at line 1: unknown identifier bysorry"
    unknown_env = responses("v4.33.0-rc2/test/unknown_environment.expected.out")[0]
    assert isinstance(unknown_env, ReplError) and check_compiled(unknown_env).status is Status.ERROR
    assert check_compiled(ReplError("Lean error:\n<input>:1:1: unknown tactic")).status is Status.REJECTED
    tactic = responses("v4.33.0-rc2/test/readme.expected.out")[1]
    assert isinstance(tactic, TacticResponse) and check_compiled(tactic).status is Status.ERROR


@pytest.mark.parametrize("spelling", ["declaration uses 'sorry'", "declaration uses `sorry`"])
def test_a_sorry_warning_alone_rejects(spelling):
    # Some paths report the warning without a sorries entry (term-mode sorry in old REPLs).
    check = check_compiled(CommandResponse(env=1, messages=(Message("warning", spelling),)))
    assert check.status is Status.REJECTED and check.reason == "declaration uses sorry"


def test_warnings_and_infos_alone_do_not_reject():
    response = CommandResponse(env=1, messages=(Message("warning", "unused variable `h`"), info("Try this: simp")))
    assert check_compiled(response).passed


@needs_transcripts
def test_kimina_outcomes():
    outcomes = {}
    for path in sorted((KIMINA / "output").glob("*.json")):
        (result,) = parse_kimina_output(json.loads(path.read_text(encoding="utf-8")))
        outcomes[path.stem] = check_compiled(result.response, timed_out=result.timed_out).status
    timeouts = {k for k, v in outcomes.items() if v is Status.TIMEOUT}
    assert timeouts == {"goedel-lean_workbook_10036", "goedel-lean_workbook_10090",
                        "goedel-lean_workbook_10303", "goedel-lean_workbook_1036"}
    # Every other fixture compiled (linter warnings and "Try this" infos are not errors).
    assert all(v is None for k, v in outcomes.items() if k not in timeouts)
    assert outcomes["proof1"] is None and outcomes["goedel-lean_workbook_10202"] is None


# -- step 3: #print axioms --------------------------------------------------------------------------

@pytest.mark.parametrize("text, axioms", [
    ("'goal' does not depend on any axioms", ()),
    ("`goal` does not depend on any axioms", ()),
    ("'goal' depends on axioms: [propext]", ("propext",)),
    ("'goal' depends on axioms: [Classical.choice, propext, Quot.sound]",
     ("Classical.choice", "propext", "Quot.sound")),
    ("'goal' depends on axioms: [propext,\n Classical.choice,\n Quot.sound]",
     ("propext", "Classical.choice", "Quot.sound")),
    ("'Ratchet.goal' depends on axioms: [sorryAx]", ("sorryAx",)),
    ("goal depends on axioms: [Lean.ofReduceBool]", ("Lean.ofReduceBool",)),
])
def test_axioms_report_forms(text, axioms):
    assert parse_axioms_report(text, "goal") == axioms


@pytest.mark.parametrize("text", ["'other' does not depend on any axioms", "'goal_2' depends on axioms: []",
                                  "goal : 1 = 1", "ratchet-sync abc", "'goal' depends on axioms"])
def test_text_that_is_not_this_theorems_report(text):
    assert parse_axioms_report(text, "goal") is None


def axioms_response(*messages: Message, nonce: str = "n0nce") -> CommandResponse:
    return CommandResponse(env=7, messages=(*messages, info(f"ratchet-sync {nonce}")))


def test_allowed_axioms_pass_and_others_reject():
    allowed = axioms_response(info(f"'goal' depends on axioms: [{', '.join(sorted(ALLOWED_AXIOMS))}]"))
    assert check_axioms(allowed, "goal", "n0nce").passed
    assert check_axioms(axioms_response(info("'goal' does not depend on any axioms")), "goal", "n0nce").passed
    for bad in ("sorryAx", "Lean.ofReduceBool", "Lean.trustCompiler", "my_axiom"):
        check = check_axioms(axioms_response(info(f"'goal' depends on axioms: [propext, {bad}]")), "goal", "n0nce")
        assert check.status is Status.REJECTED and bad in check.reason


def test_a_report_without_this_requests_nonce_is_never_admitted():
    forged = axioms_response(info("'goal' does not depend on any axioms"), nonce="stale")
    check = check_axioms(forged, "goal", "n0nce")
    assert check.status is Status.REJECTED and "nonce" in check.reason


def test_missing_duplicate_or_failed_reports():
    assert check_axioms(axioms_response(), "goal", "n0nce").status is Status.ERROR
    two = axioms_response(info("'goal' does not depend on any axioms"), info("'goal' depends on axioms: [propext]"))
    assert check_axioms(two, "goal", "n0nce").status is Status.ERROR
    failed = axioms_response(Message("error", "unknown constant 'goal'"))
    assert check_axioms(failed, "goal", "n0nce").status is Status.REJECTED
    assert check_axioms(ReplError("Unknown environment."), "goal", "n0nce").status is Status.ERROR


# -- the Lake project --------------------------------------------------------------------------------

def test_defs_lean_agrees_with_lean_header():
    defs = (LEAN_PROJECT / DEFS_PATH).read_text(encoding="utf-8")
    assert header_from_defs(defs) == default_header().strip("\n"), \
        "Ratchet/Defs.lean is stale: run `python -m prover.lean --write-defs`"


def test_every_header_definition_is_in_the_ratchet_library():
    names = re.findall(r"^def (\w+)", default_header(), re.MULTILINE)
    assert names  # the families use at least one helper
    defs = (LEAN_PROJECT / DEFS_PATH).read_text(encoding="utf-8")
    assert names == re.findall(r"^def (\w+)", defs, re.MULTILINE)


def test_pins_agree_and_match_recorded_transcripts():
    toolchain = pinned_toolchain()
    tag = toolchain.split(":", 1)[1]
    assert toolchain.startswith("leanprover/lean4:v4.")
    lakefile = (LEAN_PROJECT / "lakefile.lean").read_text(encoding="utf-8")
    assert "leanprover-community/repl" in lakefile and f"tag {tag}" in lakefile
    repl_rev = re.search(r'require REPL from git\s+"https://github.com/leanprover-community/repl" @ "([^"]+)"',
                         lakefile)
    assert repl_rev and repl_rev.group(1) == tag, "lakefile.lean must require the REPL at the toolchain's tag"
    # The parser is tested against the REPL's own recordings for this release, or for a
    # release candidate of it (v4.33.0-rc2 for v4.33.0).
    assert any(v == tag or v.startswith(tag + "-rc") for v in VERSIONS), (tag, VERSIONS)


# -- step 4: kernel replay plumbing (with stand-ins for `lean` and the checker) ----------------------

FAKE_LEAN = """
import pathlib, sys
args = sys.argv[1:]
root, out, src = args[args.index("-R") + 1], args[args.index("-o") + 1], args[-1]
assert pathlib.Path(src).parent == pathlib.Path(root)
text = pathlib.Path(src).read_text()
if "does_not_compile" in text:
    print("RatchetReplay.lean:3:2: error: unknown tactic"); sys.exit(1)
pathlib.Path(out).write_text(text)
"""

FAKE_CHECKER = """
import os, pathlib, sys, time
module = sys.argv[1]
olean = pathlib.Path(os.environ["LEAN_PATH"].split(os.pathsep)[0]) / (module + ".olean")
assert os.environ["LEAN_PATH"].endswith("/project/lib"), os.environ["LEAN_PATH"]
text = olean.read_text()
if "kernel_hang" in text:
    time.sleep(30)
if "kernel_rejects" in text:
    print("uncaught exception: (kernel) declaration type mismatch"); sys.exit(1)
if "kernel_crash_once" in text and not os.path.exists("crashed"):
    open("crashed", "w").close()
    os.kill(os.getpid(), 9)
if "kernel_crash_always" in text:
    os.kill(os.getpid(), 9)
"""


@pytest.fixture
def fake_checker(tmp_path):
    (tmp_path / "lean.py").write_text(FAKE_LEAN)
    (tmp_path / "checker.py").write_text(FAKE_CHECKER)
    return KernelChecker(name="fakechecker", lean=(sys.executable, str(tmp_path / "lean.py")),
                         checker=(sys.executable, str(tmp_path / "checker.py")), cwd=str(tmp_path),
                         lean_path="/project/lib", bin_dir=str(tmp_path), memory_mb=1024)


def test_kernel_replay_compiles_the_module_then_runs_the_checker_on_it(fake_checker):
    source = "def double : Nat → Nat := id\n\ntheorem goal : True := by\n  trivial"
    assert fake_checker.replay(source, 10).passed
    failed = fake_checker.replay(source + " -- does_not_compile", 10)
    assert failed.status is Status.REJECTED and "does not compile" in failed.reason
    rejected = fake_checker.replay(source + " -- kernel_rejects", 10)
    assert rejected.status is Status.REJECTED and "fakechecker rejected" in rejected.reason
    slow = fake_checker.replay(source + " -- kernel_hang", 0.5)
    assert slow.status is Status.TIMEOUT


def test_a_kernel_checker_killed_once_is_run_again_and_its_answer_taken(fake_checker, tmp_path):
    source = "def double : Nat → Nat := id\n\ntheorem goal : True := by\n  trivial"
    again = fake_checker.replay(source + " -- kernel_crash_once", 10)
    assert (tmp_path / "crashed").exists() and again.passed, again  # killed the first time, accepted the next
    twice = fake_checker.replay(source + " -- kernel_crash_always", 10)
    assert twice.status is Status.REJECTED
    assert twice.reason == "kernel replay: crashed twice: fakechecker was killed by signal 9, and again on a fresh process"


def test_kernel_replay_is_the_last_step_of_admission(fake_checker):
    pool = ReplPool(LaunchSpec(argv=DOUBLE), "def double := 1", workers=1, timeout_s=5, memory_mb=1024,
                    recycle_after=10)
    try:
        verdicts = pool.map([ProofTask("a", "True", "trivial"), ProofTask("b", "True", "trivial -- kernel_rejects"),
                             ProofTask("c", "True", "sorry")],
                            functools.partial(judge, header="def double := 1", checker=fake_checker,
                                              replay_timeout_s=10))
    finally:
        pool.close()
    assert [v.status for v in verdicts] == [Status.VERIFIED, Status.REJECTED, Status.REJECTED]
    assert verdicts[0].reason.endswith("kernel replay: fakechecker accepted")
    assert "fakechecker rejected" in verdicts[1].reason
    assert "sorry" in verdicts[2].reason  # refused before replay
