"""The `mentor` command line (Typer)."""
