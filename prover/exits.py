"""The one way a ratchet command ends on bad input: one line on stderr, exit status 2."""
from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
