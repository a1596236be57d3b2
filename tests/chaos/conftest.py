"""Fixtures of the chaos suite: one whole stack per scenario, and the figures report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.chaos.figures import ScenarioFigures, append_figures, markdown_table
from tests.chaos.harness import ChaosStack

_recorded: list[ScenarioFigures] = []
_results_path: list[Path] = []


@pytest.fixture
def chaos_stack(tmp_path: Path) -> Iterator[ChaosStack]:
    stack = ChaosStack(tmp_path / "stack")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def chaos_results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.getbasetemp() / "chaos" / "results" / "latest.json"
    _results_path.append(path)
    return path


@pytest.fixture
def record_figures(chaos_results_file: Path):
    """Print a scenario's figures and append them to the session's JSON file."""

    def record(figures: ScenarioFigures) -> None:
        print(figures.summary())
        append_figures(chaos_results_file, figures)
        _recorded.append(figures)

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _recorded:
        return
    terminalreporter.section("chaos figures")
    terminalreporter.write_line(markdown_table([asdict(f) for f in _recorded]))
    if _results_path:
        terminalreporter.write_line(f"\nfull figures: {_results_path[0]}")
        terminalreporter.write_line(json.dumps([f.extra | {"scenario": f.scenario} for f in _recorded]))
