"""Which proof assistant judges a run, and how to build its verifier (two backends: a plain if, no registry)."""
from __future__ import annotations

from prover.verdict import Verifier

BACKENDS = ("coq", "lean")


class BackendUnavailable(RuntimeError):
    """The requested backend is not installed here; the message says how to install it."""


def _lean_module():
    """``prover.lean`` if it is importable and complete, else None."""
    try:
        from prover.lean import LeanVerifier, lean_available, lean_unavailable_message  # noqa: F401
    except ImportError:
        return None
    import prover.lean

    return prover.lean


def lean_ready() -> bool:
    lean = _lean_module()
    return lean is not None and bool(lean.lean_available())


def lean_install_message() -> str:
    lean = _lean_module()
    if lean is None:
        return "the Lean backend (prover.lean) is not importable in this checkout"
    return lean.lean_unavailable_message()


def resolve_backend(name: str) -> str:
    """``auto`` becomes ``lean`` when the Lean project is built, else ``coq``; others pass through."""
    if name == "auto":
        return "lean" if lean_ready() else "coq"
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected auto, coq or lean")
    return name


def make_verifier(backend: str, workers: int = 2, timeout_s: float = 10.0, memory_mb: int = 2048,
                  recycle_after: int = 500) -> Verifier:
    """A pooled verifier for ``backend`` ("coq" or "lean"; resolve "auto" first)."""
    if backend == "coq":
        from prover.coq import CoqVerifier

        return CoqVerifier(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb, recycle_after=recycle_after)
    if backend == "lean":
        if not lean_ready():
            raise BackendUnavailable(lean_install_message())
        from prover.lean import LeanVerifier

        return LeanVerifier(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb, recycle_after=recycle_after)
    raise ValueError(f"unknown backend {backend!r}: expected coq or lean (resolve 'auto' first)")
