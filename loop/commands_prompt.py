"""`ratchet prompt CONFIG THEOREM_ID`: exactly what the model sees, and what becomes of a completion.

Registered by loop.cli. The prompt comes from prover.prompting and the body from
prover.extraction, the same calls the run makes, so what this prints is what a run does.
"""
from __future__ import annotations

import json
import sys
from difflib import get_close_matches
from pathlib import Path
from typing import Optional

import typer

from loop.config import ConfigError, RunConfig, load_config


class UnknownTheorem(LookupError):
    pass


def resolve_theorem(cfg: RunConfig, theorem_id: str, backend: str):
    """The `PromptInput` of a theorem id of this config.

    The one place ids are looked up for this command: today the generated families (and
    canaries); benchmark JSONL sources plug in here, mapping their rows' header,
    informal_prefix and formal_statement to a PromptInput.
    """
    from loop.run import build_theorem_pools
    from prover.prompting import theorem_input

    if cfg.theorems.sources is None:
        theorems, _ = build_theorem_pools(cfg)
    else:  # benchmark files, library lemmas, ...: each theorem brings its own header and declaration
        from prover.theorems.sources import build_pools
        theorems, _ = build_pools(cfg.theorems, backend)
    if theorem_id not in theorems:
        close = get_close_matches(theorem_id, list(theorems), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; ids look like {next(iter(theorems), '?')}"
        raise UnknownTheorem(f"no theorem {theorem_id!r} in this config's theorems{hint}")
    return theorem_input(theorems[theorem_id], backend)


def _tokenizer(cfg: RunConfig, backend: str):
    """The tokenizer of the run's base model (the cached bootstrap model is trained first if absent)."""
    from transformers import AutoTokenizer

    from loop.run import base_model, build_theorem_pools
    from rich.console import Console

    if cfg.model.name_or_path:
        path = Path(cfg.model.name_or_path)
        if not path.is_dir():
            raise ConfigError(f"model.name_or_path: {path} is not a local model directory")
    else:
        theorems, pools = build_theorem_pools(cfg)
        path = base_model(cfg, theorems, pools, backend, Console(stderr=True), progress=sys.stderr.isatty())
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def prompt_report(cfg: RunConfig, theorem_id: str, completion: str | None, tokenizer=None,
                  backend: str | None = None) -> dict:
    """{"prompt", "prompt_tokens"} and, with a completion, {"reasoning", "body", "checked_text", "refused"}."""
    from prover.backends import resolve_backend
    from prover.prompting import PromptFormat, Prompter, checked_text

    backend = backend or resolve_backend(cfg.backend)  # an explicit backend passes through, installed or not
    inp = resolve_theorem(cfg, theorem_id, backend)
    tokenizer = tokenizer if tokenizer is not None else _tokenizer(cfg, backend)
    prompter = Prompter(PromptFormat.from_config(cfg.model), tokenizer)
    prompt = prompter.prompt(inp)
    out: dict = {"prompt": prompt, "prompt_tokens": len(prompter.encode_prompt(prompt))}
    if completion is not None:
        ex = prompter.extract(inp, completion, prompt)
        out.update({"reasoning": ex.reasoning, "body": ex.body,
                    "checked_text": checked_text(inp, ex.body) if ex.body is not None else None,
                    "refused": ex.refused})
    return out


def _section(title: str, text: str | None) -> str:
    rule = "-" * max(4, 78 - len(title))
    return f"-- {title} {rule}\n{text if text is not None else '(none)'}\n"


def prompt(
    config: Path = typer.Argument(..., help="run config YAML (its model and theorems sections are used)"),
    theorem_id: str = typer.Argument(..., help="theorem id, as in `ratchet logs` (e.g. lin/0a1b2c3d4e)"),
    completion: Optional[str] = typer.Option(None, "--completion", "-c",
                                             help="a completion to parse: a file, or - for stdin"),
    overrides: list[str] = typer.Option([], "--set", help="override a config key, e.g. --set model.prompt=chat"),
    as_json: bool = typer.Option(False, "--json", help='{"prompt", "prompt_tokens"} (+ "reasoning", "body", '
                                 '"checked_text", "refused" with --completion)'),
) -> None:
    """Show exactly what the model sees for one theorem (text and token count) and, given a
    completion, its reasoning part, the extracted proof body and the text the prover will check,
    or why the completion is refused before any prover runs."""
    try:
        cfg = load_config(config, overrides)
        text = None
        if completion is not None:
            text = sys.stdin.read() if completion == "-" else Path(completion).read_text(encoding="utf-8")
        report = prompt_report(cfg, theorem_id, text)
    except (ConfigError, UnknownTheorem, FileNotFoundError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    out = _section(f"prompt ({report['prompt_tokens']} tokens, format {cfg.model.prompt})", report["prompt"])
    if completion is not None:
        if report["reasoning"] is not None:
            out += _section("reasoning (split off, never verified or trained on)", report["reasoning"])
        if report["refused"] is not None:
            out += _section("refused before any prover runs", report["refused"])
        else:
            out += _section("proof body", report["body"]) + _section("checked by the prover", report["checked_text"])
    sys.stdout.write(out)


def register(app: typer.Typer) -> None:
    app.command("prompt")(prompt)
