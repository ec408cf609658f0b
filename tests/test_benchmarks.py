"""`python -m benchmarks`: the results file keeps its documented shape and a partial run keeps the rest."""

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.__main__ import MISSED_TARGET, PROJECT_ROOT, is_chosen


def test_a_single_benchmark_run_writes_its_numbers_and_keeps_the_others(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"summarize": {"papers_per_s": 912.5}}))

    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks", "render", "--output", str(results)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # 3: every benchmark ran but one missed its target, which a busy machine may cause.
    assert finished.returncode in (0, MISSED_TARGET), finished.stdout + finished.stderr
    written = json.loads(results.read_text())
    assert set(written) == {"render", "summarize"}
    assert written["summarize"] == {"papers_per_s": 912.5}
    assert {"editions_per_s", "editions_per_cpu_s", "html_kb_per_edition", "wall_s"} <= set(written["render"])
    for metrics in written.values():
        assert all(
            isinstance(value, int | float) and not isinstance(value, bool) for value in metrics.values()
        )
    assert written["render"]["editions_per_s"] > 0
    assert "editions_per_s" in finished.stdout and ">= 1,000" in finished.stdout


def test_a_whole_name_selects_that_benchmark_alone_and_a_prefix_selects_all_it_starts() -> None:
    names = {"ingest", "ingest_parse", "render"}
    assert is_chosen("ingest", "ingest", names)
    assert not is_chosen("ingest_parse", "ingest", names)
    assert is_chosen("ingest_parse", "ing", names) and is_chosen("ingest", "ing", names)
    assert not is_chosen("render", "ing", names)
