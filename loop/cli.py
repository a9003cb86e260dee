"""The `ratchet` command. Thin: it parses arguments and calls importable stages.

Each group of commands lives beside the code it drives and registers itself
here; heavy imports (torch, transformers) happen inside the commands so that
`ratchet --help` stays fast.
"""
from __future__ import annotations

import typer
from typer.core import TyperCommand, TyperGroup


class _FlagHelp:
    """--help is a flag: show it without the ``<bool>`` type typer gives it (our own flags set metavar="")."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class Command(_FlagHelp, TyperCommand):
    pass


class Group(_FlagHelp, TyperGroup):
    pass


app = typer.Typer(
    cls=Group,
    name="ratchet",
    help="Verified self-improvement for formal mathematics: a model proposes proofs, "
         "a proof assistant checks them, verified proofs become LoRA training data, repeat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from loop import commands_ablate, commands_claims, commands_inspect, commands_prompt, commands_run, commands_theorems
    from prover import commands_verify

    commands_run.register(app)
    commands_verify.register(app)
    commands_inspect.register(app)
    commands_ablate.register(app)
    commands_prompt.register(app)
    commands_theorems.register(app)
    commands_claims.register(app)
    _flag_help(app)


def _flag_help(typer_app: typer.Typer) -> None:
    """Every command and sub-group of ``typer_app`` shows --help as the flag it is."""
    for command in typer_app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = Command
    for group in typer_app.registered_groups:
        if not (isinstance(group.cls, type) and issubclass(group.cls, _FlagHelp)):
            group.cls = Group
        _flag_help(group.typer_instance)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
