"""Benchmarks: `python -m bench.<name> [--quick] [--out FILE]`, one JSON object on stdout."""
