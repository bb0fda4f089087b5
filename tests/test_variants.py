"""The hidden suites catch the mistakes learners make and accept correct alternatives.

tests/variants/<module>.py holds, per exercise, plausible WRONG implementations (each must
lose points) and correct-but-different RIGHT ones (each must keep full marks). Each is
swapped into a copy of the reference and graded exactly as `course grade` would.
"""

import importlib

import pytest

from grader.manifest import load_manifest
from grader.submission import grade_submission
from tests.support import ROOT, make_submission

COURSE = load_manifest(ROOT / "course.toml")


def _variants():
    cases = []
    for module in COURSE.module_names:
        if not (ROOT / "tests" / "variants" / f"{module}.py").exists():
            continue
        variants = importlib.import_module(f"tests.variants.{module}")
        for kind in ("WRONG", "RIGHT"):
            for exercise_id, named in getattr(variants, kind).items():
                for name, source in named.items():
                    cases.append(pytest.param(kind, exercise_id, source, id=f"{kind.lower()}-{exercise_id}-{name}"))
    return cases


CASES = _variants()


@pytest.mark.parametrize("kind, exercise_id, source", CASES)
def test_variant(hidden, tmp_path, kind, exercise_id, source):
    folder = make_submission(tmp_path, {exercise_id: source})
    result = grade_submission(hidden, folder, [COURSE.exercise(exercise_id)]).exercises[0]
    if kind == "WRONG":
        assert result.score < result.max_score, "the hidden suite gave a wrong implementation full marks"
    else:
        assert result.passed, result.feedback()


def test_every_exercise_has_three_wrong_and_one_right_variant():
    counts = {}
    for case in CASES:
        kind, exercise_id, _ = case.values
        counts.setdefault(exercise_id, {"WRONG": 0, "RIGHT": 0})[kind] += 1
    for ex in COURSE.exercises:
        got = counts.get(ex.id, {"WRONG": 0, "RIGHT": 0})
        assert got["WRONG"] >= 3 and got["RIGHT"] >= 1, f"{ex.id}: {got}"
