"""The shipped default bundle gives the same predictions as before: every way of classifying a
song (see :mod:`tests.predict.golden_bundle`) against the answers stored in
``golden/default_bundle.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.predict.golden_bundle import golden_answers

GOLDEN = Path(__file__).parent / "golden" / "default_bundle.json"
ATOL = 1e-5  # scores, seconds and embedding values
EXPECTED: dict[str, Any] = json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return golden_answers(tmp_path_factory.mktemp("golden"))


def assert_same(actual: Any, expected: Any, where: str) -> None:
    """Equal JSON, numbers within :data:`ATOL`."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected), where
        for key, value in expected.items():
            assert_same(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (got, want) in enumerate(zip(actual, expected)):
            assert_same(got, want, f"{where}[{index}]")
    elif isinstance(expected, float) and not isinstance(actual, bool):
        assert actual == pytest.approx(expected, abs=ATOL), where
    else:
        assert actual == expected, where


def test_golden_covers_the_same_cases(answers: dict[str, Any]) -> None:
    assert sorted(answers) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_default_bundle_gives_the_golden_answer(answers: dict[str, Any], case: str) -> None:
    assert_same(answers[case], EXPECTED[case], case)
