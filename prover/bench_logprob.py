"""Peak memory of the log-prob computation, the old full log_softmax against the chunked gather.

    python -m prover.bench_logprob                      # vocab 150k, length 512, batch 1, 2, 4
    python -m prover.bench_logprob --batches 1,2,4,8 --e2e-batch 64

Each measurement runs in a fresh Python process, so one does not inherit another's peak:
``step`` measurements are given a (batch, length, vocab) fp32 logits tensor and report the
peak RSS above what the process held with that tensor allocated (the memory the
logits -> log-prob step itself needs). ``e2e`` measurements run `sequence_logprob` end to
end on a tiny random Qwen2 with the full vocabulary (the model is small, the vocabulary is
real), old (the model's full logits + log_softmax) against new (output head on the final
hidden states, chunked). Memory of the old step is linear in batch * length * vocab, so the
figure at batch 64 is extrapolated from the measured slope; the new end-to-end path is
measured at batch 64 directly (``--new-step-batch 64`` measures the new step there too, but
its input tensor alone is 18.3 GiB).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

MiB = 1 << 20


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _child_step(method: str, batch: int, length: int, vocab: int) -> dict:
    import torch

    from prover.sampling import gathered_logprobs

    torch.manual_seed(0)
    logits = torch.empty(batch, length, vocab).normal_()
    ids = torch.randint(0, vocab, (batch, length))
    scored = torch.zeros(batch, length, dtype=torch.bool)
    scored[:, length // 2:] = True  # the second half of each row is the completion
    base = _rss()
    t0 = time.perf_counter()
    with torch.inference_mode():
        if method == "old":
            logp = torch.log_softmax(logits.float(), dim=-1)
            token_logp = logp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
            scores = (token_logp * scored[:, 1:]).sum(-1)
        else:
            rows, cols = scored[:, 1:].nonzero(as_tuple=True)
            lp = gathered_logprobs(lambda part: logits[rows[part], cols[part]], ids[rows, cols + 1], vocab)
            scores = torch.zeros(batch).index_add_(0, rows, lp)
    seconds = time.perf_counter() - t0
    return {"extra_mib": (_peak() - base) / MiB, "seconds": seconds, "logits_mib": logits.numel() * 4 / MiB,
            "checksum": float(scores.sum())}


def _child_e2e(method: str, batch: int, length: int, vocab: int) -> dict:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from prover.sampling import sequence_logprob

    class Tok:  # integer "texts": the benchmark is about tensors, not tokenization
        eos_token_id, pad_token_id, bos_token_id = 2, 0, 1

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [int(t) for t in text.split()]}

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=vocab, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                         max_position_embeddings=length + 8)).eval()
    half = (length - 2) // 2
    gen = torch.Generator().manual_seed(1)
    prompts = [" ".join(map(str, torch.randint(3, vocab, (half,), generator=gen).tolist())) for _ in range(batch)]
    completions = [" ".join(map(str, torch.randint(3, vocab, (half,), generator=gen).tolist())) for _ in range(batch)]
    base = _rss()
    t0 = time.perf_counter()
    if method == "old":
        with torch.inference_mode():
            rows = [([1] + [int(t) for t in p.split()], [int(t) for t in c.split()] + [2])
                    for p, c in zip(prompts, completions)]
            ids = torch.tensor([p + c for p, c in rows])
            scored = torch.zeros_like(ids, dtype=torch.bool)
            scored[:, len(rows[0][0]):] = True
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.float(), -1)
            token_logp = logp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
            scores = (token_logp * scored[:, 1:]).sum(-1).tolist()
    else:
        scores = sequence_logprob(model, Tok(), prompts, completions, batch_size=batch)
    return {"extra_mib": (_peak() - base) / MiB, "seconds": time.perf_counter() - t0, "checksum": sum(scores)}


def _measure(kind: str, method: str, batch: int, length: int, vocab: int) -> dict:
    cmd = [sys.executable, "-m", "prover.bench_logprob", "--child", kind, method, str(batch), str(length), str(vocab)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", type=int, default=150_000)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--batches", default="1,2,4", help="batch sizes at which the old step is measured")
    ap.add_argument("--target-batch", type=int, default=64, help="batch the figures are given for")
    ap.add_argument("--new-step-batch", type=int, default=None,
                    help="batch of the new step's second figure (default: the largest of --batches); its input "
                         "logits alone take B*L*V*4 bytes, 18.3 GiB at batch 64")
    ap.add_argument("--e2e-batch", type=int, default=2, help="batch of the old end-to-end measurement")
    ap.add_argument("--child", nargs=5, metavar=("KIND", "METHOD", "B", "L", "V"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, method, b, length, v = args.child
        fn = _child_step if kind == "step" else _child_e2e
        print(json.dumps(fn(method, int(b), int(length), int(v))))
        return

    V, L, B = args.vocab, args.length, args.target_batch
    print(f"log-prob peak memory, vocab {V}, length {L}  (RSS above the inputs, one process per figure)")
    print(f"{'what':<34}{'batch':>6}{'extra MiB':>12}{'seconds':>9}")
    old = []
    for b in (int(x) for x in args.batches.split(",")):
        r = _measure("step", "old", b, L, V)
        old.append((b, r["extra_mib"]))
        print(f"{'step, old (full log_softmax)':<34}{b:>6}{r['extra_mib']:>12.0f}{r['seconds']:>9.2f}")
    for b in sorted({old[0][0], args.new_step_batch or old[-1][0]}):
        r = _measure("step", "new", b, L, V)
        print(f"{'step, new (gather + chunked lse)':<34}{b:>6}{r['extra_mib']:>12.0f}{r['seconds']:>9.2f}")
    slope = (old[-1][1] - old[0][1]) / (old[-1][0] - old[0][0]) if len(old) > 1 else old[0][1] / old[0][0]
    print(f"{'step, old, extrapolated':<34}{B:>6}{old[0][1] + slope * (B - old[0][0]):>12.0f}{'':>9}"
          f"   ({slope:.0f} MiB per sequence; B*L*V*4 bytes = {B * L * V * 4 / MiB:.0f} MiB)")
    e = args.e2e_batch
    r_old = _measure("e2e", "old", e, L, V)
    print(f"{'e2e, old (logits + log_softmax)':<34}{e:>6}{r_old['extra_mib']:>12.0f}{r_old['seconds']:>9.2f}")
    r_new = _measure("e2e", "new", e, L, V)
    print(f"{'e2e, new (head on hidden, chunks)':<34}{e:>6}{r_new['extra_mib']:>12.0f}{r_new['seconds']:>9.2f}")
    print(f"{'e2e, old, extrapolated':<34}{B:>6}{r_old['extra_mib'] * B / e:>12.0f}{'':>9}   (linear in batch)")
    r_big = _measure("e2e", "new", B, L, V)
    print(f"{'e2e, new':<34}{B:>6}{r_big['extra_mib']:>12.0f}{r_big['seconds']:>9.2f}")
    print(f"checksums agree at batch {e}: old {r_old['checksum']:.3f}, new {r_new['checksum']:.3f}")


if __name__ == "__main__":
    main()
