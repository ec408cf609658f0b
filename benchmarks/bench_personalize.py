"""Simulated readers: precision@5 of their editions before they vote, after (the personal model) and
with the trending order alone, for 1,000 readers over 10 days of the corpus's papers
(`benchmarks/reader_simulation.py`; docs/feedback.md, "How we measure it").

- `precision_at_5_before`: share of the first 5 picks that match the reader's hidden interest, days 1-2,
  no votes (the trending order every reader gets before their first vote).
- `precision_at_5_after`: the editions the readers got on days 6-10, with the votes of the days before.
- `precision_at_5_unpersonalized`: the trending order alone on days 6-10, same readers and candidates.
- `lift_at_5`: after - unpersonalized. `precision_at_5_ceiling`: a bound no order of the same candidates
  can beat. The rest describe the run (readers, days, votes, candidates per edition).
"""

from __future__ import annotations

from benchmarks.reader_simulation import SimulationConfig, metrics, simulate

NAME = "personalize"
TARGETS = {"lift_at_5": (">=", 0.15)}
READERS = 1000
DAYS = 10
SEED = 0


def run() -> dict[str, float]:
    simulation, records = simulate(SimulationConfig(readers=READERS, days=DAYS, seed=SEED))
    return metrics(simulation, records)


if __name__ == "__main__":
    for name, value in run().items():
        print(f"personalize.{name} = {value}")
