"""A synthetic run directory, written exactly as the loop writes a real one.

The inspection tools (``ratchet logs/show/diff/export/report``) are built and
tested against this, so it follows docs/SUMMARY_SCHEMA (config.yaml,
manifest.json, run.db through ``loop.store.Store``, summary.json, per-round
sft.jsonl) and fills every table of the store with plausible Coq-flavoured
data: six theorem families, statements and proof bodies that look like what a
small prover writes, the prover's error messages, a noisy gate that sometimes
disagrees with the judge, canaries that are false, forgetting between rounds.

Nothing here is random without the seed: the same arguments give the same run.

It lives in the package (not in tests/) because ``loop.bench_report`` times the
report on it as well as the tests building on it.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from loop import stats
from loop.config import RunConfig, dump_config
from loop.store import Attempt, Stage, Store
from loop.summary import RoundSummary

FAMILIES = ("lin", "ring", "compute", "prop", "exists", "induct")
K_TRAIN = 8  # proofs sampled per training-pool theorem per round (config sampling.k)
N_EVAL = 8  # samples per held-out theorem (config eval.n); plus one greedy decode
HELDOUT_SHARE = 0.25
COQ_VERSION = "8.16.1"


_NOISE_TACTICS = ("simpl.", "auto.", "lia.", "reflexivity.", "intros.", "rewrite Nat.add_comm.", "f_equal.",
                  "rewrite Nat.mul_comm.", "trivial.", "induction n.", "destruct x.", "split.", "ring.", "apply H.",
                  "exact I.", "unfold double.", "symmetry.", "assumption.", "constructor.", "easy.")


@dataclass(frozen=True)
class _Theorem:
    id: str
    family: str
    difficulty: int
    pool: str
    name: str
    coq: str
    lean: str
    good: tuple[str, ...]  # proof bodies the judge accepts
    bad: tuple[tuple[str, str], ...]  # (proof body, the prover's first error)
    hardness: float  # latent: higher = needs a stronger policy


def _family_theorem(family: str, i: int, rng: random.Random) -> tuple[str, str, tuple, tuple]:
    """Coq statement, Lean statement, accepted proofs, rejected proofs with messages."""
    a, b, c = rng.randint(2, 9), rng.randint(1, 12), rng.randint(1, 20)
    if family == "lin":
        coq = f"forall x : nat, {a} * x + {b} = {b} + {a} * x"
        lean = f"∀ x : Nat, {a} * x + {b} = {b} + {a} * x"
        good = ("intros x. lia.", "intro x. lia.", "intros. lia.", "intros x. rewrite Nat.add_comm. reflexivity.")
        bad = (("intros x. reflexivity.", f'Error: Unable to unify "{b} + {a} * x" with "{a} * x + {b}".'),
               ("intros x. simpl. auto.", "Error: Attempt to save an incomplete proof (there are remaining open goals)."),
               ("intros x. rewrite H. lia.", "Error: The reference H was not found in the current environment."))
    elif family == "ring":
        coq = f"forall a b : Z, (a + {a}) * b = a * b + {a} * b"
        lean = f"∀ a b : Int, (a + {a}) * b = a * b + {a} * b"
        good = ("intros a b. ring.", "intros. ring.", "intros a b. rewrite Z.mul_add_distr_r. reflexivity.")
        bad = (("intros a b. lia.", "Error: Tactic failure: Cannot find witness."),
               ("intros a b. reflexivity.", f'Error: Unable to unify "a * b + {a} * b" with "(a + {a}) * b".'),
               ("intros. ring_simplify. auto.", "Error: Attempt to save an incomplete proof (there are remaining open goals)."))
    elif family == "compute":
        coq = f"{a} * {b} + {c} = {a * b + c}"
        lean = coq
        good = ("reflexivity.", "simpl. reflexivity.", "compute. reflexivity.", "lia.")
        bad = ((f"simpl. lia. lia.", "Error: No such goal."),
               ("intros x. reflexivity.", "Error: No product even after head-reduction."),
               ("apply eq_refl with (x := 0).", "Error: No such bound variable x."))
    elif family == "prop":
        coq = "forall P Q : Prop, P /\\ Q -> Q /\\ P" if i % 2 == 0 else "forall P Q : Prop, P \\/ Q -> Q \\/ P"
        lean = "∀ P Q : Prop, P ∧ Q → Q ∧ P" if i % 2 == 0 else "∀ P Q : Prop, P ∨ Q → Q ∨ P"
        if i % 2 == 0:
            good = ("intros P Q [HP HQ]. split; assumption.", "tauto.",
                    "intros P Q H. destruct H as [HP HQ]. split; [exact HQ | exact HP].")
            bad = (("intros P Q H. exact H.",
                    'Error: The term "H" has type "P /\\ Q" while it is expected to have type "Q /\\ P".'),
                   ("intros P Q [HP HQ]. split. exact HP.",
                    'Error: The term "HP" has type "P" while it is expected to have type "Q".'))
        else:
            good = ("intros P Q [HP | HQ]; [right | left]; assumption.", "tauto.",
                    "intros P Q H. destruct H as [HP | HQ]. right. exact HP. left. exact HQ.")
            bad = (("intros P Q H. left. exact H.",
                    'Error: The term "H" has type "P \\/ Q" while it is expected to have type "Q".'),
                   ("intros P Q [HP | HQ]. left. exact HP.",
                    'Error: The term "HP" has type "P" while it is expected to have type "Q".'))
    elif family == "exists":
        coq = f"exists n : nat, n + {a} = {a + b}"
        lean = f"∃ n : Nat, n + {a} = {a + b}"
        good = (f"exists {b}. reflexivity.", f"exists {b}. simpl. reflexivity.", f"exists {b}. lia.")
        bad = ((f"exists {b + 1}. reflexivity.", f'Error: Unable to unify "{a + b}" with "{b + 1} + {a}".'),
               ("reflexivity.", "Error: Not an inductive product."),
               ("eauto.", "Error: Attempt to save an incomplete proof (there are remaining open goals)."))
    elif family == "induct":
        coq = f"forall n : nat, n + {a} = {a} + n"
        lean = f"∀ n : Nat, n + {a} = {a} + n"
        good = ("induction n; simpl; lia.", "intros n. lia.",
                "induction n as [|n IH]. reflexivity. simpl. rewrite IH. lia.")
        bad = (("intros n. simpl. reflexivity.", f'Error: Unable to unify "{a} + n" with "n + {a}".'),
               ("induction n. reflexivity.", "Error: Attempt to save an incomplete proof (there are remaining open goals)."),
               ("induction n; simpl; rewrite IHm.", "Error: The reference IHm was not found in the current environment."))
    else:
        raise ValueError(f"unknown family {family!r}")
    return coq, lean, good, bad


def _canary(i: int) -> tuple[str, str, tuple, tuple]:
    """A known-false statement planted in the training pool: the judge never verifies it."""
    coq = f"forall x : nat, x + {i + 1} = x"
    lean = f"∀ x : Nat, x + {i + 1} = x"
    bad = (("intros x. lia.", "Error: Tactic failure: Cannot find witness."),
           ("intros x. reflexivity.", f'Error: Unable to unify "x" with "x + {i + 1}".'),
           ("intros x. induction x; auto.", "Error: Attempt to save an incomplete proof (there are remaining open goals)."))
    return coq, lean, (), bad


def _theorems(per_family: int, n_canaries: int, rng: random.Random) -> list[_Theorem]:
    out: list[_Theorem] = []
    for fam_idx, family in enumerate(FAMILIES):
        for i in range(per_family):
            tid = f"{family}-{i:04d}"
            coq, lean, good, bad = _family_theorem(family, i, rng)
            difficulty = 1 + (i * 7 + fam_idx) % 5
            # Deterministic split by a hash-like function of the id, as the loop does.
            pool = "heldout" if (i * 2654435761 + fam_idx) % 100 < HELDOUT_SHARE * 100 else "train"
            hardness = (difficulty - 3) * 0.8 + fam_idx * 0.15 + rng.gauss(0, 0.6)
            out.append(_Theorem(tid, family, difficulty, pool, tid.replace("-", "_"), coq, lean, good, bad, hardness))
        # A few warm-start theorems: known to the run, never sampled.
        coq, lean, good, bad = _family_theorem(family, per_family, rng)
        out.append(_Theorem(f"{family}-w000", family, 1, "warmstart", f"{family}_w000", coq, lean, good, bad, -9))
    for i in range(n_canaries):
        coq, lean, good, bad = _canary(i)
        out.append(_Theorem(f"canary-{i:03d}", "lin", 5, "canary", f"canary_{i:03d}", coq, lean, good, bad, 99))
    return out


def _pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k, 1 - C(n-c, k)/C(n, k), in its numerically stable product form."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def _distinct_n(proofs: list[str], n: int) -> float:
    grams = [tuple(t[j:j + n]) for t in (p.split() for p in proofs) for j in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def make_synthetic_run(dir: str | Path, n_attempts: int = 2000, rounds: int = 3, seed: int = 0,
                       with_gate: bool = True) -> Path:
    """Write a complete run directory under ``dir`` and return its path.

    ``rounds`` counts training rounds after round 0, like ``RunConfig.rounds``:
    the store holds rounds 0..rounds. ``n_attempts`` is the target size of the
    attempts table; the real count is within one theorem's worth of it (see
    ``summary.json`` or the store for the exact number). ``with_gate`` plants
    canaries and uses a noisy gate (fp 0.15, fn 0.05) so that gate and judge
    sometimes disagree and some admitted proofs are false; without it the gate
    is the judge.
    """
    run_dir = Path(dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    n_rounds = rounds + 1
    # Attempts per round = train*K + heldout*(N+1) with heldout ~ 25% of the theorems.
    per_theorem = (1 - HELDOUT_SHARE) * K_TRAIN + HELDOUT_SHARE * (N_EVAL + 1)
    per_family = max(2, round(n_attempts / n_rounds / per_theorem / len(FAMILIES)))
    n_canaries = 2 if with_gate else 0
    theorems = _theorems(per_family, n_canaries, rng)

    cfg = RunConfig(name=f"synthetic-{seed}", seed=seed, rounds=rounds, backend="coq")
    cfg.theorems.per_family = per_family
    cfg.sampling.k = K_TRAIN
    cfg.eval.n = N_EVAL
    cfg.eval.k = N_EVAL
    cfg.canaries.n = n_canaries
    if with_gate:
        cfg.gate.kind, cfg.gate.fp, cfg.gate.fn = "noisy", 0.15, 0.05
    (run_dir / "config.yaml").write_text(dump_config(cfg))

    db_path = run_dir / "run.db"
    if db_path.exists():
        raise FileExistsError(f"{db_path} already exists; make_synthetic_run writes fresh runs only")
    store = Store(db_path)
    store.set_meta("backend", "coq")
    store.set_meta("backend_version", COQ_VERSION)
    store.set_meta("seed", seed)
    store.set_meta("name", cfg.name)
    store.add_theorems({"id": t.id, "family": t.family, "difficulty": t.difficulty, "pool": t.pool,
                        "name": t.name, "statement": t.coq, "statement_coq": t.coq, "statement_lean": t.lean}
                       for t in theorems)

    skill0 = rng.uniform(-0.6, -0.2)
    gain = rng.uniform(0.35, 0.6) * (0.6 if with_gate else 1.0)
    false_admitted: dict[str, dict[str, str]] = {}  # theorem -> wrongly admitted proof -> its error (lock-in)
    summaries: list[dict] = []
    prev_proved: set[str] | None = None
    started = 1_700_000_000.0 + seed * 86400
    for r in range(n_rounds):
        checkpoint = "base" if r == 0 else f"round-{r}"
        skill = skill0 + gain * r
        attempts: list[Attempt] = []
        t_sample = 0.0
        for t in theorems:
            if t.pool == "warmstart":
                continue
            phases = [("train", K_TRAIN)] if t.pool in ("train", "canary") else [("eval", N_EVAL), ("greedy", 1)]
            # Per-round jitter on the theorem's difficulty: this is what makes some theorems get lost.
            wobble = rng.gauss(0, 0.5)
            for phase, count in phases:
                for s in range(count):
                    temp_noise = 0.0 if phase == "greedy" else rng.gauss(0, 0.4)
                    p = 1 / (1 + math.exp(-2.2 * (skill - t.hardness - wobble + temp_noise)))
                    ok = bool(t.good) and rng.random() < p
                    if ok:
                        proof = t.good[0] if phase == "greedy" else rng.choice(t.good)
                        judge, reason = "verified", ""
                        seconds = rng.lognormvariate(math.log(0.35), 0.5)
                    else:
                        locked = false_admitted.get(t.id)
                        if locked and phase == "train" and rng.random() < 0.6:
                            proof = min(locked)
                            reason = locked[proof]
                        else:
                            proof, reason = rng.choice(t.bad)
                            if rng.random() < 0.5:
                                # Failed samples of a real policy are diverse: most proof texts are unique.
                                proof += " " + " ".join(rng.choices(_NOISE_TACTICS, k=rng.randint(1, 5)))
                        roll = rng.random()
                        if roll < 0.05:
                            judge, reason, seconds = "timeout", "timeout after 10.0 s (worker killed)", 10.0
                        elif roll < 0.065:
                            judge, reason = "error", "infra-error: coqtop exited with signal 9 (memory limit)"
                            seconds = rng.uniform(0.01, 0.2)
                        else:
                            judge, seconds = "rejected", rng.lognormvariate(math.log(0.25), 0.6)
                    gate = gate_reason = None
                    if phase == "train":
                        gate, gate_reason = judge, reason
                        if with_gate and judge == "verified" and rng.random() < cfg.gate.fn:
                            gate, gate_reason = "rejected", "noisy gate: refused (fn)"
                        elif with_gate and judge != "verified" and rng.random() < cfg.gate.fp:
                            gate, gate_reason = "verified", "noisy gate: admitted (fp)"
                    tokens = 3 * len(proof.split()) + 2
                    t_sample += tokens * 0.002
                    attempts.append(Attempt(r, phase, t.id, s, proof, judge, reason, gate, gate_reason,
                                            round(seconds, 4), tokens, checkpoint))
        store.add_attempts(attempts)

        # Selection: gate-verified train samples, distinct per theorem, capped (select.per_theorem_cap).
        rows = store.gate_admitted(r)
        chosen: dict[str, dict[str, tuple[int, str, str]]] = {}
        for row in rows:
            per = chosen.setdefault(row["theorem_id"], {})
            if row["proof"] not in per and len(per) < cfg.select.per_theorem_cap:
                per[row["proof"]] = (row["id"], row["judge"], row["judge_reason"])
        admitted = [(tid, proof, aid) for tid, per in chosen.items() for proof, (aid, _, _) in per.items()]
        store.set_admitted(r, admitted)
        n_false = 0
        for tid, per in chosen.items():
            for proof, (_, judge, reason) in per.items():
                if judge != "verified":
                    n_false += 1
                    false_admitted.setdefault(tid, {})[proof] = reason
        sft_dir = run_dir / "rounds" / f"round-{r}"
        sft_dir.mkdir(parents=True, exist_ok=True)
        by_id = {t.id: t for t in theorems}
        with open(sft_dir / "sft.jsonl", "w") as f:
            for tid, proof, _ in admitted:
                f.write(json.dumps({"theorem_id": tid, "statement": by_id[tid].coq, "proof": proof}) + "\n")
        for stage in (Stage.EVAL, Stage.ENTROPY, Stage.SAMPLE, Stage.SELECT, Stage.FINETUNE):
            store.mark_stage(r, stage)

        summary_r, proved = _round_summary(store, r, checkpoint, attempts, len(admitted), n_false,
                                           prev_proved, t_sample, rng)
        prev_proved = proved
        summary_r = RoundSummary.model_validate(summary_r).to_json()  # the loop's keys, null where not simulated
        summaries.append(summary_r)
        store.set_round_summary(r, summary_r)

    summary = {"name": cfg.name, "backend": "coq", "backend_version": COQ_VERSION, "seed": seed,
               "config_hash": f"{abs(hash((seed, n_attempts, rounds, with_gate))) % 16**12:012x}",
               "gate": {"kind": cfg.gate.kind, "fp": cfg.gate.fp, "fn": cfg.gate.fn}, "rounds": summaries}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    manifest = {"ratchet_version": "0.1.0", "git_hash": "0" * 40, "python": "3.11",
                "libraries": {"torch": "2.13.0", "transformers": "5.23.0", "peft": "0.21.2"},
                "backend": "coq", "backend_version": COQ_VERSION, "seed": seed,
                "started_at": started, "finished_at": started + sum(s["seconds"] for s in summaries),
                "argv": ["ratchet", "run", "--synthetic"], "config_hash": summary["config_hash"],
                "base_model": "bootstrap:tiny-llama"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    store.close()
    return run_dir


def _eval_counts(store: Store, r: int) -> dict[str, tuple[int, int]]:
    """(eval samples, verified) per theorem, every sample counted, as this module's pass@1 counts them."""
    out: dict[str, tuple[int, int]] = {}
    for tid, judge in store.eval_verdicts(r):
        n, c = out.get(tid, (0, 0))
        out[tid] = (n + 1, c + (judge == "verified"))
    return out


def _round_summary(store: Store, r: int, checkpoint: str, attempts: list[Attempt], n_admitted: int,
                   n_false: int, prev_proved: set[str] | None, t_sample: float,
                   rng: random.Random) -> tuple[dict, set[str]]:
    """The per-round summary, computed from this round's attempts the way the metrics stage defines it,
    and the held-out theorems proved this round (for the next round's forgetting)."""
    fam = store.family_of()
    evals: dict[str, list[Attempt]] = {}
    greedy: dict[str, bool] = {}
    for a in attempts:
        if a.phase == "eval":
            evals.setdefault(a.theorem_id, []).append(a)
        elif a.phase == "greedy":
            greedy[a.theorem_id] = a.judge == "verified"

    def block(tids: list[str]) -> dict:
        if not tids:
            return {"pass@1": None, "greedy_pass@1": None, "pass@k": None, "theorems": 0}
        cs = [sum(a.judge == "verified" for a in evals[t]) for t in tids]
        return {"pass@1": sum(c / N_EVAL for c in cs) / len(tids),
                "greedy_pass@1": sum(greedy.get(t, False) for t in tids) / len(tids),
                "pass@k": sum(_pass_at_k(N_EVAL, c, N_EVAL) for c in cs) / len(tids), "theorems": len(tids)}

    tids = sorted(evals)
    cs = [sum(a.judge == "verified" for a in evals[t]) for t in tids]
    heldout = block(tids)
    eval_proofs = [a.proof for t in tids for a in evals[t]]
    heldout.update({
        "k": N_EVAL, "n": N_EVAL,
        "pass@k_curve": {str(k): sum(_pass_at_k(N_EVAL, c, k) for c in cs) / len(tids) for k in (1, 2, 4, 8)},
        "unique_proofs_per_theorem": sum(len({a.proof for a in evals[t]}) for t in tids) / len(tids),
        "distinct_1": _distinct_n(eval_proofs, 1), "distinct_2": _distinct_n(eval_proofs, 2),
        "entropy": max(0.05, 1.3 - 0.18 * r + rng.gauss(0, 0.04)),
        "per_family": {f: block([t for t in tids if fam[t] == f]) for f in FAMILIES},
    })
    # intervals and vs_base as the loop writes them (loop.stats), on the counts the numbers above use
    counts = {t: (N_EVAL, c) for t, c in zip(tids, cs)}
    heldout["ci95"] = stats.heldout_intervals(counts, N_EVAL)
    heldout["pass@k_curve_ci95"] = {str(k): iv.as_dict()["ci95"] for k, iv in stats.pass_at_k_curve(counts).items()}
    heldout["vs_base"] = stats.vs_base(_eval_counts(store, 0), counts)
    proved = {t for t in tids if greedy.get(t) or any(a.judge == "verified" for a in evals[t])}
    train = [a for a in attempts if a.phase == "train"]
    pool = {"attempts": len(train), "verified": sum(a.judge == "verified" for a in train),
            "theorems_proved": len({a.theorem_id for a in train if a.judge == "verified"}),
            "gate_admitted": sum(a.gate == "verified" for a in train)}
    forgetting = {"lost": None, "gained": None}
    if prev_proved is not None:
        forgetting = {"lost": len(prev_proved - proved), "gained": len(proved - prev_proved)}
    seconds = {"sample": t_sample, "verify": sum(a.seconds for a in attempts) / 2,
               "train": 0.0 if n_admitted == 0 else 3.0 + n_admitted * 0.01, "eval": 0.3 * len(tids)}
    out = {"round": r, "checkpoint": checkpoint, "heldout": heldout, "pool": pool, "admitted": n_admitted,
           "contamination": (n_false / n_admitted) if n_admitted else None,
           "lockin": {"false_admitted": n_false, "reproduce_prob": None, "false_theorems_still_produced": 0},
           "forgetting": forgetting,
           "cost": {"seconds": seconds, "tokens_sampled": sum(a.tokens for a in attempts),
                    "proofs_verified": len(attempts),
                    "verify_per_s": len(attempts) / max(seconds["verify"], 1e-9)},
           "seconds": sum(seconds.values())}
    return out, proved
