"""Many rounds: orchestration, selection, metrics, the run store, reports and the CLI."""
