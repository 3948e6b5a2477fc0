"""Shared by the tests: the repository's vector files, and one countable result line.

``pytest_terminal_summary`` ends the run with ``pytest result: N passed, M failed`` (errors
count as failures), the form scripts/test.sh adds up beside cargo's and node's."""

import json
import pathlib

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]
VECTORS = REPOSITORY / "tests" / "vectors"


def load_vectors(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    passed = len(stats.get("passed", []))
    failed = len(stats.get("failed", [])) + len(stats.get("error", []))
    terminalreporter.write_line(f"pytest result: {passed} passed, {failed} failed")

