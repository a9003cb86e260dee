"""A local chat checkpoint that is not the bootstrap model: a Qwen2 architecture with random
weights and a byte-level tokenizer carrying a ChatML-style chat template (written here).

Used by the prompt-format tests and the one-round runs with the chat and deepseek-prover formats.
"""
from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def chat_tokenizer(texts: list[str] = (), vocab_size: int = 400):
    """Byte-level BPE with <|im_start|> / <|im_end|> (the EOS) and the chat template above."""
    from prover.model import train_tokenizer

    corpus = list(texts) or ["theorem t : 1 + 1 = 2 := by\n  decide", "Proof. intros n. lia. Qed.",
                             "Complete the following Lean 4 code:", "```lean4\n```"]
    tok = train_tokenizer(corpus, vocab_size)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.eos_token = "<|im_end|>"
    tok.chat_template = CHAT_TEMPLATE
    return tok


def qwen2_chat_checkpoint(path: Path, seed: int = 0) -> Path:
    """save_pretrained of a tiny random Qwen2ForCausalLM and its chat tokenizer into `path`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = chat_tokenizer()
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
