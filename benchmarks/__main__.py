"""Run every benchmark, write var/bench/results.json and print a table.

Results look like {"<benchmark>": {"<metric>": number, ...}, ...}. A benchmark module may set NAME to
choose its key (otherwise the module name without `bench_`) and TARGETS, {"<metric>": (">=" | "<=",
bound)}, which the table checks. `python -m benchmarks ingest send` runs only the benchmarks named (a
word that is not a whole name selects every benchmark starting with it) and keeps the other benchmarks'
earlier results; `--output PATH` writes somewhere else. Exits 1 when a benchmark fails, 3 when one misses
a target.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.table import Table

import benchmarks

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "var" / "bench" / "results.json"
# The exit status when every benchmark ran but one missed a target (1: a benchmark failed).
MISSED_TARGET = 3
Target = tuple[str, float]


def discover() -> list[ModuleType]:
    return [
        importlib.import_module(f"benchmarks.{module.name}")
        for module in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda module: module.name)
        if module.name.startswith("bench_")
    ]


def benchmark_name(module: ModuleType) -> str:
    return str(getattr(module, "NAME", module.__name__.removeprefix("benchmarks.bench_")))


def is_chosen(name: str, word: str, names: set[str]) -> bool:
    # `ingest` is the ingest benchmark alone; `ing` is every benchmark whose name starts with it.
    return name == word if word in names else name.startswith(word)


def is_met(value: float, target: Target) -> bool:
    comparison, bound = target
    return value >= bound if comparison == ">=" else value <= bound


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("selected", nargs="*", help="run only benchmarks whose name starts with these")
    parser.add_argument("--output", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)

    modules = discover()
    names = {benchmark_name(module) for module in modules}
    chosen = [
        module
        for module in modules
        if not arguments.selected
        or any(is_chosen(benchmark_name(module), word, names) for word in arguments.selected)
    ]
    if not chosen:
        parser.error(f"no benchmark starts with {' or '.join(arguments.selected)}")
    results: dict[str, dict[str, float]] = {}
    if arguments.selected and arguments.output.exists():
        results = json.loads(arguments.output.read_text())
    console = Console()
    failed = []
    for module in chosen:
        name = benchmark_name(module)
        console.print(f"running [bold]{name}[/bold] …")
        started = time.perf_counter()
        try:
            metrics = module.run()
        except Exception:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            failed.append(name)
            results.pop(name, None)  # an earlier number must not pass for this run's
            continue
        metrics["wall_s"] = round(time.perf_counter() - started, 2)
        results[name] = metrics
        console.print(f"  {name} done in {metrics['wall_s']} s")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")

    targets = {benchmark_name(module): getattr(module, "TARGETS", {}) for module in modules}
    run_now = {benchmark_name(module) for module in chosen}
    missed = []
    table = Table("benchmark", "metric", "value", "target", "")
    for name, metrics in sorted(results.items()):
        for metric, value in sorted(metrics.items()):
            target = targets.get(name, {}).get(metric)
            verdict = ""
            if target is not None:
                verdict = "[green]met[/green]" if is_met(value, target) else "[red]MISSED[/red]"
                if not is_met(value, target) and name in run_now:
                    missed.append(f"{name}.{metric}")
            table.add_row(
                name,
                metric,
                f"{value:,.3f}" if isinstance(value, float) else f"{value:,}",
                f"{target[0]} {target[1]:,}" if target else "",
                verdict,
            )
    console.print(table)
    console.print(f"written to {arguments.output} at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red]")
    if missed:
        console.print(f"[red]targets missed: {', '.join(missed)}[/red]")
    return 1 if failed else MISSED_TARGET if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
