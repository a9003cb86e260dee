"""Gates: what decides admission into training. The judge never changes.

Every training-pool sample is first checked by the judge (the real proof
assistant, ground truth). The gate then decides whether the sample may enter the
fine-tuning set. The loop stores both verdicts; every reported metric uses the
judge. A gate returns a ``Verdict``: admitted iff ``status is Status.VERIFIED``.
Its ``reason`` starts with ``gate=<kind>:`` so a log line says which gate spoke.

Kinds
-----
judge   Copies the judge's verdict (status and reason). The default.
none    Admits every judged sample: pure self-distillation.
noisy   The judge's verdict flipped at random: a judge rejection (``rejected``
        or ``timeout``: a proof that did not check within the limit is a failed
        proof) is admitted with probability ``fp``; a judge acceptance is refused
        with probability ``fn``. The coin is a hash of
        (seed, theorem_id, round, sample_idx), so the decision is reproducible,
        independent of the order or batching of samples, and arms that differ
        only in ``fp`` use common random numbers: the false positives at
        fp=0.1 are a subset of those at fp=0.3.
weak    A cheap text check that a real pipeline might use instead of a prover;
        it ignores the judge. What it accepts is defined below.

Infra errors. A judge ``error`` means the proof was not judged (the process
broke). No gate admits such a sample, not even ``none`` or ``weak``: the gate's
verdict is then ``error`` too, so every arm sees the same candidate samples
and a broken prover can never leak data into training.

What ``weak`` accepts, exactly
------------------------------
Both backends: the proof is not empty; parentheses, brackets and braces (and,
for Lean, ⟨ ⟩) are balanced and properly nested; no forbidden word appears
anywhere as a whole word (``FORBIDDEN``: admit, Admitted, sorry, Axiom, ...).

Coq: the text is split into sentences at every ``.`` followed by whitespace or
the end of the text. The text must end with such a ``.`` (closing ``}`` may
follow it). In each sentence, leading bullets (``-``, ``+``, ``*``) and focusing
braces (``{``, ``}``) are dropped; what remains must be non-empty and its first
word must be in ``COQ_TACTICS``. An optional first sentence ``Proof`` and an
optional last sentence ``Qed`` or ``Defined`` are allowed. Nothing after the
first word is checked: ``intros; lia.`` and ``intros; bogus.`` are both accepted.

Lean: ``<;>`` is read as ``;``. The text is split into steps at newlines and at
``;`` outside brackets. In each step, leading focusing dots (``·`` or ``.``) are
dropped; every non-empty step must start with a word in ``LEAN_TACTICS``.
Nothing after the first word of a step is checked; a multi-line ``calc`` is
refused because its continuation lines start with ``_``.

So ``weak`` accepts every well-formed tactic script, true or not: its false
positives are proofs that use real tactics that fail (``lia.`` on a goal lia
cannot solve), which is what makes it an interesting ablation.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from loop.config import GateConfig
from prover.verdict import Status, Verdict

COQ_TACTICS = frozenset("""
intro intros apply eapply exact eexact refine reflexivity simpl cbn cbv compute vm_compute lazy red hnf
lia nia lra ring ring_simplify field auto eauto tauto intuition firstorder trivial easy now assumption
split left right exists eexists constructor econstructor destruct induction case elim rewrite erewrite
unfold fold symmetry transitivity f_equal congruence discriminate injection inversion subst
contradiction exfalso specialize generalize revert clear pose set assert enough remember replace change
try repeat do first solve progress idtac omega decide
""".split())

LEAN_TACTICS = frozenset("""
intro intros rintro exact apply refine refine' rfl simp simp_all dsimp omega decide norm_num ring ring_nf
linarith nlinarith positivity constructor cases rcases obtain induction rw rewrite rwa unfold show have let
use exists exfalso contradiction assumption trivial left right split ext funext congr gcongr aesop tauto
by_contra by_cases push_neg specialize subst symm exact_mod_cast push_cast norm_cast field_simp repeat
first try all_goals any_goals next case focus change generalize revert clear injection contrapose
interval_cases infer_instance and_intros constructorm rename_i calc
""".split())

# Whole words that no gate check should ever let through: they close goals without proof.
FORBIDDEN = frozenset("""
admit Admitted Abort give_up Axiom Axioms Parameter Hypothesis Variable Conjecture exact_no_check
vm_cast_no_check native_cast_no_check sorry sorryAx axiom native_decide
""".split())

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_'!?]*")
_PAIRS = {")": "(", "]": "[", "}": "{", "⟩": "⟨"}


def _reason(kind: str, text: str) -> str:
    return f"gate={kind}: {text}"


def _infra_error(kind: str, judge: Verdict) -> Verdict:
    return Verdict(Status.ERROR, _reason(kind, f"not admitted: judge infra error ({judge.reason})"))


@dataclass(frozen=True)
class JudgeGate:
    kind: str = "judge"

    def decide(self, theorem_id: str, round: int, sample_idx: int, proof: str, judge: Verdict) -> Verdict:
        return Verdict(judge.status, _reason(self.kind, judge.reason))


@dataclass(frozen=True)
class NoneGate:
    kind: str = "none"

    def decide(self, theorem_id: str, round: int, sample_idx: int, proof: str, judge: Verdict) -> Verdict:
        if judge.status is Status.ERROR:
            return _infra_error(self.kind, judge)
        return Verdict(Status.VERIFIED, _reason(self.kind, f"admits everything (judge said {judge.status})"))


def uniform(seed: int, theorem_id: str, round: int, sample_idx: int) -> float:
    """A reproducible number in [0, 1) for one sample; no shared RNG state, so order does not matter."""
    key = f"{seed}\x1f{theorem_id}\x1f{round}\x1f{sample_idx}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0**64


@dataclass(frozen=True)
class NoisyGate:
    fp: float
    fn: float
    seed: int
    kind: str = "noisy"

    def decide(self, theorem_id: str, round: int, sample_idx: int, proof: str, judge: Verdict) -> Verdict:
        if judge.status is Status.ERROR:
            return _infra_error(self.kind, judge)
        u = uniform(self.seed, theorem_id, round, sample_idx)
        if judge.status is Status.VERIFIED:
            if u < self.fn:
                return Verdict(Status.REJECTED, _reason(self.kind, "false negative (judge said verified)"))
            return Verdict(Status.VERIFIED, _reason(self.kind, "agrees with judge (verified)"))
        if u < self.fp:
            return Verdict(Status.VERIFIED, _reason(self.kind, f"false positive (judge said {judge.status})"))
        return Verdict(Status.REJECTED, _reason(self.kind, f"agrees with judge ({judge.status})"))


def _balanced(text: str) -> bool:
    stack = []
    for ch in text:
        if ch in "([{⟨":
            stack.append(ch)
        elif ch in _PAIRS:
            if not stack or stack.pop() != _PAIRS[ch]:
                return False
    return not stack


def _first_word(text: str) -> str | None:
    m = _WORD.match(text)
    return m.group(0) if m else None


def _common_checks(text: str) -> str | None:
    """The checks both backends share: not empty, brackets balanced, no forbidden word."""
    if not text:
        return "empty proof"
    if not _balanced(text):
        return "unbalanced brackets"
    bad = sorted(FORBIDDEN & set(_WORD.findall(text)))
    if bad:
        return f"forbidden word {bad[0]!r}"
    return None


def check_coq(proof: str) -> str | None:
    """None if the weak Coq check accepts ``proof``, else the reason it refuses."""
    text = proof.strip()
    why = _common_checks(text)
    if why:
        return why
    pieces = re.split(r"\.(?=\s|$)", text)
    if pieces[-1].strip(" \t\r\n}"):
        return "does not end with '.'"
    sentences = [p.lstrip(" \t\r\n-+*{}") for p in pieces[:-1]]
    if sentences and sentences[0] == "Proof":
        sentences = sentences[1:]
    if sentences and sentences[-1] in ("Qed", "Defined"):
        sentences = sentences[:-1]
    if not sentences:
        return "no tactic"
    for i, s in enumerate(sentences, 1):
        if not s:
            return f"sentence {i} is empty"
        word = _first_word(s)
        if word not in COQ_TACTICS:
            return f"sentence {i} does not start with a known tactic ({(word or s[:12])!r})"
    return None


def _split_lean_steps(text: str) -> list[str]:
    steps, depth, cur = [], 0, []
    for ch in text.replace("<;>", ";"):
        if ch in "([{⟨":
            depth += 1
        elif ch in _PAIRS:
            depth -= 1
        if ch == "\n" or (ch == ";" and depth == 0):
            steps.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    steps.append("".join(cur))
    return steps


def check_lean(proof: str) -> str | None:
    """None if the weak Lean check accepts ``proof``, else the reason it refuses."""
    text = proof.strip()
    why = _common_checks(text)
    if why:
        return why
    steps = [s.strip().lstrip("·.").strip() for s in _split_lean_steps(text)]
    steps = [s for s in steps if s]
    if not steps:
        return "no tactic"
    for i, s in enumerate(steps, 1):
        word = _first_word(s)
        if word not in LEAN_TACTICS:
            return f"step {i} does not start with a known tactic ({(word or s[:12])!r})"
    return None


@dataclass(frozen=True)
class WeakGate:
    backend: str
    kind: str = "weak"

    def decide(self, theorem_id: str, round: int, sample_idx: int, proof: str, judge: Verdict) -> Verdict:
        if judge.status is Status.ERROR:
            return _infra_error(self.kind, judge)
        why = check_coq(proof) if self.backend == "coq" else check_lean(proof)
        if why is None:
            return Verdict(Status.VERIFIED, _reason(self.kind, f"well-formed {self.backend} tactic script"))
        return Verdict(Status.REJECTED, _reason(self.kind, why))


Gate = JudgeGate | NoneGate | NoisyGate | WeakGate


def make_gate(cfg: GateConfig, backend: str, seed: int) -> Gate:
    """The gate a run's config asks for. ``backend`` is the resolved one: "coq" or "lean"."""
    if backend not in ("coq", "lean"):
        raise ValueError(f"make_gate: backend must be 'coq' or 'lean', got {backend!r}")
    if cfg.kind == "judge":
        return JudgeGate()
    if cfg.kind == "none":
        return NoneGate()
    if cfg.kind == "noisy":
        return NoisyGate(fp=cfg.fp, fn=cfg.fn, seed=seed)
    if cfg.kind == "weak":
        return WeakGate(backend=backend)
    raise ValueError(f"gate.kind: unknown gate {cfg.kind!r}")
