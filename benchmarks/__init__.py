"""Benchmarks: each `bench_<name>.py` exposes `run() -> dict[str, float]`; `make bench` runs them all."""
