-- The Ratchet library: the Lean-side rendering of the theorem families' definitions.
import Ratchet.Defs
