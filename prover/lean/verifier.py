"""``LeanVerifier``: the Lean 4 backend behind ``prover.verdict.Verifier``.

Per batch: the static screen rejects escape hatches before any process runs;
the rest go to a pool of REPL processes (one pool per import header), where
``prover.lean.admission.judge`` applies the admission rule. Verdicts come back
in input order.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Literal, Sequence

from prover.lean.admission import CompositionError, KernelChecker, compose_theorem, judge
from prover.lean.screen import check_lean_screen
from prover.lean.pool import LaunchSpec, ReplPool
from prover.lean.project import (LEAN_PROJECT, LeanInstall, LeanUnavailable, default_header, find_install,
                                 find_kernel_checker, lean_available, lean_version, pinned_toolchain,
                                 repl_revision)
from prover.verdict import ProofTask, Progress, Status, Verdict

HEADER_META_KEY = "lean_header"  # a task may carry its own import header in meta (e.g. Mathlib)


class LeanVerifier:
    backend = "lean"

    def __init__(self, workers: int = 2, timeout_s: float = 10.0, memory_mb: int = 8192,
                 recycle_after: int = 500, *, header: str | None = None,
                 repl_cmd: Sequence[str] | None = None, project_dir: Path = LEAN_PROJECT,
                 kernel_replay: Literal["auto", "require", "off"] = "auto",
                 startup_timeout_s: float = 300.0, replay_timeout_s: float | None = None) -> None:
        """``repl_cmd`` replaces the built REPL (tests use a protocol double); without it the
        Lake project must be set up, else ``LeanUnavailable`` says how to install it.

        ``kernel_replay``: "auto" replays admitted proofs with a kernel checker (the toolchain's
        leanchecker, or lean4checker built by setup.sh) when there is one, "require" refuses
        to start without one, "off" skips it (recorded in version()).
        """
        self.project_dir = Path(project_dir)
        self._install: LeanInstall | None = None
        if repl_cmd is None:
            self._install = find_install(self.project_dir)
            self._spec = self._install.launch_spec()
        else:
            self._spec = LaunchSpec(argv=tuple(repl_cmd))
            if kernel_replay != "off" and lean_available(self.project_dir):
                self._install = find_install(self.project_dir)  # only for the kernel checker
        self._checker: KernelChecker | None = None
        if kernel_replay != "off" and self._install is not None:
            self._checker = find_kernel_checker(self._install, memory_mb)
        if kernel_replay == "require" and self._checker is None:
            raise LeanUnavailable("kernel replay is required but no kernel checker was found: the pinned "
                                  "toolchain has no leanchecker (Lean < v4.28) and lean4checker is not built; run "
                                  f"`bash {self.project_dir}/setup.sh` (it builds lean4checker for such "
                                  "toolchains), or set RATCHET_LEAN_CHECKER to a checker executable")
        self.header = default_header() if header is None else header
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.recycle_after = recycle_after
        self.startup_timeout_s = startup_timeout_s
        self.replay_timeout_s = replay_timeout_s if replay_timeout_s is not None else max(60.0, timeout_s)
        self._pools: dict[str, ReplPool[ProofTask]] = {}

    # -- Verifier protocol ------------------------------------------------------------------------

    def version(self) -> str:
        if self._spec.argv and self._install is not None and self._spec == self._install.launch_spec():
            lean = lean_version(self._install.lake, self.project_dir)
            repl = repl_revision(self.project_dir) or "pinned in lakefile.lean"
            where = f"{lean} [{pinned_toolchain(self.project_dir)}], REPL {repl}"
        else:
            where = (f"custom REPL command {' '.join(self._spec.argv)} "
                     f"(toolchain pin {pinned_toolchain(self.project_dir)})")
        replay = self._checker.name if self._checker is not None else "off"
        header = hashlib.sha256(self.header.encode("utf-8")).hexdigest()[:12]
        return f"{where}; kernel replay: {replay}; header sha256:{header}"

    def verify(self, tasks: Sequence[ProofTask], progress: Progress | None = None) -> list[Verdict]:
        results: list[Verdict | None] = [None] * len(tasks)
        by_header: dict[str, list[int]] = {}
        for index, task in enumerate(tasks):
            try:
                compose_theorem(task.name, task.statement, "skip", keyword=task.meta.get("lean_keyword", "theorem"))
            except CompositionError as err:
                raise ValueError(f"task {task.id!r}: {err}") from None
            screen = check_lean_screen(task.proof)
            if not screen.admissible:
                results[index] = Verdict(Status.REJECTED, screen.reason)
                if progress is not None:
                    progress(1)
                continue
            header = task.header if task.header is not None else task.meta.get(HEADER_META_KEY, self.header)
            by_header.setdefault(header, []).append(index)
        for header, indices in by_header.items():
            judged = self._pool(header).map([tasks[i] for i in indices], self._judge(header), progress)
            for index, verdict in zip(indices, judged):
                results[index] = verdict
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def __enter__(self) -> "LeanVerifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------

    def _pool(self, header: str) -> ReplPool[ProofTask]:
        pool = self._pools.get(header)
        if pool is None:
            pool = ReplPool(self._spec, header, workers=self.workers, timeout_s=self.timeout_s,
                            memory_mb=self.memory_mb, recycle_after=self.recycle_after,
                            startup_timeout_s=self.startup_timeout_s)
            self._pools[header] = pool
        return pool

    def _judge(self, header: str):  # -> Judge[ProofTask]
        return functools.partial(judge, header=header, checker=self._checker,
                                 replay_timeout_s=self.replay_timeout_s)

    @property
    def pools(self) -> dict[str, ReplPool[ProofTask]]:
        """The live pools by header (tests read their stats and pids)."""
        return self._pools
