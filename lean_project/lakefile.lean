import Lake
open Lake DSL

/-
Ratchet's Lake project. See README.md for why this toolchain and these pins.

No package-wide Lean options on purpose: the Ratchet library is compiled under
Lean's defaults, the same options under which the REPL elaborates LEAN_HEADER
and every proof, so a definition that builds here behaves the same there.
-/
package ratchet

-- The community REPL at tag v4.33.0 (its toolchain bump after v4.33.0-rc2, the
-- version whose recorded transcripts the parser is tested against). Pinned by tag: the
-- first `lake update` records the tag's commit in lake-manifest.json; commit that file
-- to freeze it. Its `repl` executable is what prover.lean starts, under `lake env`.
require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.33.0"

-- Optional Mathlib, off by default (a multi-gigabyte download; the theorem families need
-- only core Lean). Turn it on for real benchmarks with
--   lake -R -Kmathlib=on update && lake -R -Kmathlib=on exe cache get && lake -R -Kmathlib=on build
-- (or `bash setup.sh --mathlib`). Mathlib's tag for the same toolchain, v4.33.0.
meta if get_config? mathlib = some "on" then
require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.33.0"

@[default_target]
lean_lib Ratchet
