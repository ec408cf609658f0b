"""Run every benchmark, write var/bench/results.json and print a table.

Results look like {"<benchmark>": {"<metric>": number, ...}, ...}. A benchmark module may set NAME to
choose its key; otherwise the module name without `bench_` is used. `python -m benchmarks ingest` runs
only the benchmarks whose name starts with one of the words given.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

import benchmarks

RESULTS = Path("var/bench/results.json")


def discover() -> list[str]:
    return sorted(
        f"benchmarks.{module.name}"
        for module in pkgutil.iter_modules(benchmarks.__path__)
        if module.name.startswith("bench_")
    )


def main(selected: list[str]) -> int:
    results: dict[str, dict[str, float]] = {}
    if RESULTS.exists():
        results = json.loads(RESULTS.read_text())
    failed = []
    console = Console()
    for module_name in discover():
        module = importlib.import_module(module_name)
        name = getattr(module, "NAME", module_name.removeprefix("benchmarks.bench_"))
        if selected and not any(name.startswith(word) for word in selected):
            continue
        console.print(f"running [bold]{name}[/bold] …")
        started = time.perf_counter()
        try:
            metrics = module.run()
        except Exception:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            failed.append(name)
            continue
        metrics["wall_s"] = round(time.perf_counter() - started, 2)
        results[name] = metrics
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")

    table = Table("benchmark", "metric", "value")
    for name, metrics in sorted(results.items()):
        for metric, value in sorted(metrics.items()):
            table.add_row(name, metric, f"{value:,.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"written to {RESULTS}")
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
