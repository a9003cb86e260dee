"""``python -m prover.lean``: say whether the Lean backend can run here; regenerate Defs.lean."""
from __future__ import annotations

import argparse
import sys

from prover.lean.project import (DEFS_PATH, LEAN_PROJECT, default_header, lean_unavailable_message,
                                 pinned_toolchain, render_defs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prover.lean", description=__doc__)
    parser.add_argument("--write-defs", action="store_true",
                        help=f"regenerate lean_project/{DEFS_PATH} from LEAN_HEADER")
    args = parser.parse_args(argv)
    if args.write_defs:
        path = LEAN_PROJECT / DEFS_PATH
        path.write_text(render_defs(default_header()), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    message = lean_unavailable_message()
    print(message or f"Lean backend ready: {pinned_toolchain()} in {LEAN_PROJECT}")
    return 1 if message else 0


if __name__ == "__main__":
    sys.exit(main())
