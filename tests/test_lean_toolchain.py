"""The pinned Lean toolchain against what the Lean reference proofs need, without Lean.

Lean cannot run here, so the reference proofs are checked statically: each
tactic they use has a minimum Lean release (prover/theorems/lean_requirements.py),
and lean_project/lean-toolchain must be at least the newest one in use. Also:
the proofs pass the static Lean screen, the export for a machine with Lean
(`measure --export-lean-jsonl`) is valid `ratchet verify` input, and the
kernel checker bundled with new toolchains is found.
"""
from __future__ import annotations

import itertools
import json
import os
import stat
from pathlib import Path

import pytest

from prover.commands_verify import parse_line
from prover.lean.project import LeanInstall, find_kernel_checker, pinned_toolchain
from prover.screen import check_screen
from prover.theorems import FAMILIES, generate_theorems
from prover.theorems.lean_requirements import (BASELINE, TACTIC_SINCE, format_version, required_lean_version,
                                               tactics_used, toolchain_version)
from prover.theorems.measure import lean_verify_records, main as measure_main
from prover.theorems.templates import all_instances


@pytest.fixture(scope="module")
def bodies_by_template() -> dict[str, list[str]]:
    """Lean reference proofs of the first instances of every template: the proof text of a
    template differs between instances only in numbers and names, never in tactics."""
    out: dict[str, list[str]] = {}
    for family in FAMILIES.values():
        for templates in family.values():
            for template in templates:
                out[template.name] = [body for built in itertools.islice(all_instances(template), 4)
                                      for body in built.lean]
    return out


def test_every_template_has_lean_proofs(bodies_by_template):
    assert not [name for name, bodies in bodies_by_template.items() if not bodies]


def test_pinned_toolchain_is_new_enough_for_the_reference_proofs(bodies_by_template):
    all_bodies = [b for bodies in bodies_by_template.values() for b in bodies]
    needed, tactics = required_lean_version(all_bodies)
    pinned = toolchain_version(pinned_toolchain())
    assert pinned >= needed, (f"lean_project/lean-toolchain pins {pinned_toolchain()}, but the Lean reference "
                              f"proofs use {tactics}, which need Lean {format_version(needed)} or later")


def test_the_ring_family_is_what_needs_grind(bodies_by_template):
    # The check is not vacuous: the ring identities need grind, hence v4.22, which the
    # previous pin (v4.15.0) does not reach; the other families need only the baseline.
    ring = [b for name, bodies in bodies_by_template.items() if name in ("ring.binomial", "ring.square")
            for b in bodies]
    assert required_lean_version(ring) == ((4, 22, 0, 1), ["grind"])
    assert toolchain_version("leanprover/lean4:v4.15.0") < required_lean_version(ring)[0]
    rest = [b for name, bodies in bodies_by_template.items() if not name.startswith("ring.") for b in bodies]
    assert required_lean_version(rest)[0] == BASELINE


@pytest.mark.parametrize("body,expected", [
    ("intro x y\ngrind", {"intro", "grind"}),
    ("exact ⟨5, by decide⟩", {"exact", "decide"}),
    ("intro P x h1 h2\nby_cases h : x ≤ 3\n· exact h1 h\n· exact h2 (by omega)", {"intro", "by_cases", "exact", "omega"}),
    ("have hd : ∀ k, double k = 2 * k := by\n  intro k\n  induction k with\n  | zero => rfl\n"
     "  | succ k ih => simp only [double] <;> omega\nintro n\nsimp only [hd] <;> omega",
     {"have", "intro", "induction", "rfl", "simp", "omega"}),
    ("intro A B\nexact fun h => h.elim Or.inr Or.inl", {"intro", "exact"}),
    ("  | zero => intro a; simp [sum_acc, sum_to]", {"intro", "simp"}),
    ("refine ⟨3, 4, ?_⟩\ndecide", {"refine", "decide"}),
])
def test_tactics_used(body, expected):
    assert tactics_used(body) == expected


def test_an_unknown_tactic_must_be_given_a_version():
    with pytest.raises(ValueError, match="'nlinarith' has no minimum Lean version"):
        required_lean_version(["intro x\nnlinarith [sq_nonneg x]"])
    assert set(TACTIC_SINCE) >= {"omega", "decide", "grind"}


def test_toolchain_version_parsing():
    assert toolchain_version("leanprover/lean4:v4.33.0") == (4, 33, 0, 1)
    assert toolchain_version("leanprover/lean4:v4.33.0-rc2\n") < toolchain_version("leanprover/lean4:v4.33.0")
    assert toolchain_version("leanprover/lean4:v4.9.0") < toolchain_version("leanprover/lean4:v4.22.0")
    for bad in ("unpinned", "leanprover/lean4:nightly-2026-01-09", "leanprover/lean4:4.33.0"):
        with pytest.raises(ValueError, match="lean-toolchain"):
            toolchain_version(bad)


def test_reference_proofs_pass_the_static_lean_screen(bodies_by_template):
    # A proof the screen refuses would be rejected before Lean ever saw it.
    refused = [(name, body, result.rule) for name, bodies in bodies_by_template.items() for body in bodies
               if not (result := check_screen("lean", body)).admissible]
    assert not refused, refused[:3]


def test_export_is_verify_input(tmp_path):
    path = tmp_path / "refs.jsonl"
    measure_main(["--export-lean-jsonl", str(path), "--sample", "6", "--families", "ring", "induct"])
    lines = path.read_text(encoding="utf-8").splitlines()
    thms = generate_theorems(["ring", "induct"], 6, seed=0)
    assert len(lines) == sum(len(t.reference_proofs("lean")) for t in thms) == len(lean_verify_records(thms))
    parsed = [parse_line(i, text) for i, text in enumerate(lines, start=1)]
    assert all(p.task is not None for p in parsed), [p.problem for p in parsed if p.task is None][:2]
    by_id = {t.id: t for t in thms}
    for p in parsed:
        theorem_id, _, k = p.id.rpartition("#")
        thm = by_id[theorem_id]
        assert (p.task.name, p.task.statement, p.task.proof) == (thm.name, thm.lean, thm.reference_proofs("lean")[int(k)])
    assert any("grind" in p.task.proof for p in parsed)


# -- kernel checker: the toolchain's bundled leanchecker (Lean v4.28 on) --------------------------

def _script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_bundled_leanchecker_is_found_with_elan_which(tmp_path, monkeypatch):
    monkeypatch.delenv("RATCHET_LEAN_CHECKER", raising=False)
    bin_dir, toolchain_bin, project = tmp_path / "elan-bin", tmp_path / "toolchain-bin", tmp_path / "project"
    for d in (bin_dir, toolchain_bin, project):
        d.mkdir()
    checker = _script(toolchain_bin / "leanchecker", "exit 0\n")
    # `elan which leanchecker` must run in the project (where lean-toolchain picks the toolchain).
    _script(bin_dir / "elan", f'[ "$1 $2" = "which leanchecker" ] && [ "$PWD" = "{project}" ] && echo {checker}\n')
    lake = _script(bin_dir / "lake", 'echo /project/lib\n')  # only `lake env printenv LEAN_PATH` is asked
    install = LeanInstall(project_dir=project, lake=str(lake), repl=project / "repl")

    found = find_kernel_checker(install, memory_mb=1024)
    assert found is not None and found.name == "leanchecker" and found.checker == (str(checker),)
    assert found.lean_path == "/project/lib"

    # A lean4checker built by setup.sh wins over the bundled one; an old toolchain without
    # leanchecker and nothing built means no kernel replay.
    built = project / ".lake" / "lean4checker" / ".lake" / "build" / "bin"
    built.mkdir(parents=True)
    _script(built / "lean4checker", "exit 0\n")
    assert find_kernel_checker(install, memory_mb=1024).name == "lean4checker"
    os.remove(built / "lean4checker")
    _script(bin_dir / "elan", 'echo "error: unknown proxy name: leanchecker" >&2; exit 1\n')
    assert find_kernel_checker(install, memory_mb=1024) is None
