"""The composition-depth family: real coqc on its reference proofs, and the default config untouched."""
from __future__ import annotations

import hashlib
import random
import shutil

import pytest

from loop.config import TheoremsConfig
from prover.theorems import FAMILIES, generate_theorems, split_pools
from prover.theorems.core import make_theorem
from prover.theorems.fam_depth import DEPTH, KINDS, build
from prover.theorems.measure import check_proofs, solved_by_each
from prover.theorems.templates import all_instances, iter_instances

needs_coqc = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")


def _sample(per_depth: int, seed: int = 0) -> list:
    out = []
    for depth, templates in DEPTH.items():
        for i, (t, b) in enumerate(iter_instances(templates, random.Random(seed + depth))):
            if i == per_depth:
                break
            out.append(make_theorem("depth", depth, t.name, b))
    return out


def test_default_config_theorems_are_unchanged():
    # The quickstart's families, theorem ids, statements, proofs and pools, pinned: registering
    # `depth` in the FAMILIES table must not move any of them (the digest is that of the tree
    # before fam_depth existed).
    families = TheoremsConfig().families
    assert "depth" in FAMILIES and "depth" not in families
    assert families == ["lin", "ring", "compute", "prop", "exists", "induct"]
    pools = split_pools(generate_theorems(families, 100, 0), 0.06, 0.22)
    text = "\n".join(f"{k}:{t.id}:{t.coq}:{t.proofs_coq}" for k in pools for t in pools[k])
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == "41c93567b2a8b170"


def test_depth_is_the_number_of_facts_and_proofs_compose():
    for t in _sample(10):
        kinds = t.template.split(".")[1]
        assert len(kinds) == t.difficulty and set(kinds) <= set(KINDS)
        assert t.coq.count("/\\") == t.difficulty - 1
        assert t.difficulty == 1 or set(kinds) != {"L"}  # lia alone never closes a deep statement
    # a depth-(d+1) proof is the depth-d proof of its first d facts, its last step glued by split
    params = (3, 5, 1)
    for kinds in ("WIQ", "LQW", "IIW"):
        short, deep = build(kinds[:2], params[:2]).coq[0].splitlines(), build(kinds, params).coq[0].splitlines()
        last = build(kinds[2], params[2:]).coq[0].splitlines()[-1]
        assert deep == short[:-1] + ["split.", short[-1], last]


def test_every_step_of_a_deep_proof_is_a_depth_one_step():
    steps_d1 = {t.proofs_coq[0].splitlines()[-1] for tmpl in DEPTH[1] for t in
                (make_theorem("depth", 1, tmpl.name, b) for b in all_instances(tmpl))}
    for t in _sample(20):
        steps = [s for s in t.proofs_coq[0].splitlines()[1:] if s != "split."]
        assert len(steps) == t.difficulty
        assert set(steps) <= steps_d1, t.proofs_coq[0]


def test_enough_statements_for_the_generator():
    thms = generate_theorems(["depth"], 300, seed=0)
    assert len({t.id for t in thms}) == 300
    assert {t.difficulty for t in thms} == {1, 2, 3}


@needs_coqc
def test_reference_proofs_of_every_template_verify_with_coqc():
    pairs = []
    for depth, templates in DEPTH.items():
        for tmpl in templates:
            for b in list(all_instances(tmpl))[::37][:2]:  # two instances per template, spread out
                t = make_theorem("depth", depth, tmpl.name, b)
                pairs.extend((t, body) for body in t.proofs_coq)
    assert len(pairs) >= 4 * sum(len(ts) for ts in DEPTH.values())
    failures = check_proofs(pairs, timeout_s=300)
    assert not failures, [(t.coq, body, err) for t, body, err in failures[:3]]


@needs_coqc
def test_no_single_step_closes_a_deep_statement():
    deep = [t for t in _sample(8, seed=11) if t.difficulty >= 2]
    tactics = ("lia", "reflexivity", "intros; simpl; lia", "auto")
    solved = solved_by_each(deep, tactics, per_goal_timeout=3)
    assert all(not solved[tac] for tac in tactics), {tac: len(s) for tac, s in solved.items()}
