"""The `ratchet` command. Thin: it parses arguments and calls importable stages.

Each group of commands lives beside the code it drives and registers itself
here; heavy imports (torch, transformers) happen inside the commands so that
`ratchet --help` stays fast.
"""
from __future__ import annotations

import typer

app = typer.Typer(
    name="ratchet",
    help="Verified self-improvement for formal mathematics: a model proposes proofs, "
         "a proof assistant checks them, verified proofs become LoRA training data, repeat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from loop import commands_ablate, commands_claims, commands_inspect, commands_run
    from prover import commands_verify

    commands_run.register(app)
    commands_verify.register(app)
    commands_inspect.register(app)
    commands_ablate.register(app)
    commands_claims.register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
