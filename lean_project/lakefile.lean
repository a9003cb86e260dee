import Lake
open Lake DSL

/-
Ratchet's Lake project. See README.md for why this toolchain and these pins.

No package-wide Lean options on purpose: the Ratchet library is compiled under
Lean's defaults, the same options under which the REPL elaborates LEAN_HEADER
and every proof, so a definition that builds here behaves the same there.
-/
package ratchet

-- The community REPL at tag v4.15.0, pinned by commit (the tag's commit on 2025-01-08).
-- Its `repl` executable is what prover.lean starts, under `lake env`.
require REPL from git
  "https://github.com/leanprover-community/repl" @ "21966799da3691a0912b5a15193585bd2dd7165d"

-- Optional Mathlib, off by default (a multi-gigabyte download; the theorem families need
-- only core Lean). Turn it on for real benchmarks with
--   lake -R -Kmathlib=on update && lake -R -Kmathlib=on exe cache get && lake -R -Kmathlib=on build
-- (or `bash setup.sh --mathlib`). The commit is Mathlib's v4.15.0-patch1, the Mathlib the
-- REPL's own test suite used at the v4.15.0 tag.
meta if get_config? mathlib = some "on" then
require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "e9ae2a61ef5c99d6edac84f0d04f6324c5d97f67"

@[default_target]
lean_lib Ratchet
