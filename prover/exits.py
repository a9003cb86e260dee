"""How a ratchet command ends: on bad input, one line on stderr and exit status 2 (``fail``); on
SIGTERM, as on Ctrl-C, through its ``finally`` blocks (``terminate_as_interrupt``)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, NoReturn

import typer


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C would.

    Python's default SIGTERM handler ends the process at once, skipping every ``finally``:
    verifier workers lead their own process groups (so that a timeout can kill a proof's
    whole group), and a coqtop busy on a diverging proof would run on, orphaned. Raised
    as an interrupt, the ``finally`` blocks close the pools, which end their workers by pid.
    Outside the main thread (where no handler can be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _interrupt(signum, frame) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")
