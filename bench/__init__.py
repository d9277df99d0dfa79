"""Benchmarks. Run all with `make bench` (or `python -m bench [NAME ...]`); figures go in the README."""
