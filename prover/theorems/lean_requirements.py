"""Which Lean release the Lean reference proofs need, to check against lean_project's pin.

Lean does not run on the machines that build Ratchet, so the Lean reference
proofs are checked statically here. Every tactic they use must have a row in
TACTIC_SINCE, and the toolchain pinned in ``lean_project/lean-toolchain`` must
be at least the newest release listed for a tactic in use
(``tests/test_lean_toolchain.py``). A proof that starts using a tactic with no
row fails that test, so someone has to decide which Lean it needs.

    tactics_used(body) -> set[str]
    required_lean_version(bodies) -> (version, tactics that need it)
    toolchain_version("leanprover/lean4:v4.33.0") -> (4, 33, 0, 1)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

# (major, minor, patch, release): release is 1 for a release, 0 for its release
# candidates, so v4.22.0-rc3 < v4.22.0.
Version = tuple[int, int, int, int]


@dataclass(frozen=True)
class Since:
    version: Version
    why: str


def _v(major: int, minor: int, patch: int = 0) -> Version:
    return (major, minor, patch, 1)


# The oldest release whose REPL transcripts are recorded (../shared/lean-repl-transcripts).
# For the tactics below it is a safe bound (all are core Lean there), not the
# release that introduced them; older releases were never considered.
BASELINE = _v(4, 9)

TACTIC_SINCE: dict[str, Since] = {
    **{name: Since(BASELINE, "core Lean tactic") for name in (
        "intro", "exact", "refine", "have", "rw", "simp", "induction", "rfl", "decide", "by_cases")},
    "omega": Since(BASELINE, "core Lean (linear arithmetic over Nat and Int, products with a variable as atoms)"),
    # grind existed earlier, but without semirings it cannot normalise Nat polynomials,
    # which is all the ring family asks of it.
    "grind": Since(_v(4, 22), "grind normalises commutative-semiring (Nat) polynomial identities, with ^ by "
                              "a numeral: lean4 PRs #8921 and #8953 (June 2025), first in the v4.22.0 release"),
}

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Where a new tactic can start inside one line: after `<;>`, `;`, a `by` (a nested
# tactic block in a term) or a `·` bullet. `\bby\b` does not split `by_cases`.
_TACTIC_BREAK = re.compile(r"<;>|;|\bby\b|·")


def tactics_used(body: str) -> set[str]:
    """The tactic names a proof body runs (the first word of each tactic step)."""
    found: set[str] = set()
    for line in body.splitlines():
        text = line.strip()
        if text.startswith("|"):  # an alternative `| succ k ih => tac`: the tactic follows `=>`
            text = text.partition("=>")[2]
        for piece in _TACTIC_BREAK.split(text):
            word = _IDENT.match(piece.strip().lstrip("(").strip())
            if word:
                found.add(word.group())
    return found


def required_lean_version(bodies: Iterable[str]) -> tuple[Version, list[str]]:
    """The newest release any tactic in ``bodies`` needs, and the tactics that need exactly it.

    Raises ValueError naming a tactic with no row in TACTIC_SINCE (and a body using it).
    """
    needed, by = BASELINE, set()
    for body in bodies:
        for tactic in tactics_used(body):
            if tactic not in TACTIC_SINCE:
                raise ValueError(f"tactic {tactic!r} has no minimum Lean version in "
                                 f"prover/theorems/lean_requirements.py TACTIC_SINCE (used in {body!r})")
            version = TACTIC_SINCE[tactic].version
            if version > needed:
                needed, by = version, {tactic}
            elif version == needed:
                by.add(tactic)
    return needed, sorted(by)


_TOOLCHAIN = re.compile(r"^leanprover/lean4:v(\d+)\.(\d+)\.(\d+)(-rc\d+)?$")


def toolchain_version(toolchain: str) -> Version:
    """``leanprover/lean4:v4.33.0`` (or ``…-rc2``) as a comparable Version."""
    found = _TOOLCHAIN.match(toolchain.strip())
    if not found:
        raise ValueError(f"lean-toolchain {toolchain!r} is not a leanprover/lean4:vX.Y.Z[-rcN] release")
    major, minor, patch, rc = found.groups()
    return (int(major), int(minor), int(patch), 0 if rc else 1)


def format_version(version: Version) -> str:
    text = "v{}.{}.{}".format(*version[:3])
    return text if version[3] else text + "-rc"
