"""The corpus of realistic W&B sweep configs in tests/data/configs: all valid, all runnable."""

from __future__ import annotations

from pathlib import Path

import pytest

from hypersweep import engine
from hypersweep.config import render_command
from hypersweep.engine import Run

CORPUS = sorted(
    p for p in (Path(__file__).parents[1] / "data" / "configs").iterdir() if p.suffix != ".md"
)


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_config_is_valid_and_runs(path: Path) -> None:
    issues = engine.validate(path)
    assert not [i for i in issues if i.is_error], [str(i) for i in issues]
    config = engine.parse(path)
    runs: list[Run] = []
    for step in range(6):
        suggestions = engine.next_runs(config, runs, n=2, seed=step)
        if not suggestions:
            assert config.method == "grid"
            break
        for suggestion in suggestions:
            values = config.space.values_of(suggestion.params)
            for parameter, value in zip(config.space, values, strict=True):
                if parameter.distribution.grid_allowed or parameter.distribution.name.startswith(
                    "categorical"
                ):
                    parameter.distribution.to_unit(value)  # raises when outside the choices
            argv = render_command(
                config, suggestion.params, "run1", "sweep1", {"WANDB_DIR": "/tmp/w"}
            )
            assert all(isinstance(token, str) for token in argv)
            history = [
                {"_step": i, (config.metric.name if config.metric else "m"): 1.0 / (i + 1)}
                for i in range(4)
            ]
            runs.append(Run(f"r{len(runs)}", "running", suggestion.params, history))
    assert engine.runs_to_stop(config, runs) is not None


def test_grid_sizes_match_the_number_of_runs() -> None:
    for path in CORPUS:
        config = engine.parse(path)
        if config.method != "grid":
            continue
        runs: list[Run] = []
        while suggestions := engine.next_runs(config, runs, n=50):
            runs.extend(Run(f"r{len(runs)}", "finished", s.params) for s in suggestions)
        assert len(runs) == config.grid_size(), path.name
