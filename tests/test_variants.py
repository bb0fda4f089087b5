"""The hidden suites catch the mistakes learners make and accept correct alternatives.

tests/variants/<module>.py holds, per exercise, plausible WRONG implementations (each must
lose points) and correct-but-different RIGHT ones (each must keep full marks). Each is
swapped into a copy of the reference and graded exactly as `course grade` would.
"""

import importlib
import tempfile
from pathlib import Path

import pytest

from grader.checks import check_title
from grader.course.manifest import load_manifest
from grader.instructor.submission import grade_submission
from tests.support import ROOT, make_submission

pytestmark = pytest.mark.slow  # grades every WRONG and RIGHT variant

COURSE = load_manifest(ROOT / "course.toml")


def _variants():
    cases = []
    for module in [m.name for m in COURSE.modules]:
        if not (ROOT / "tests" / "variants" / f"{module}.py").exists():
            continue
        variants = importlib.import_module(f"tests.variants.{module}")
        for kind in ("WRONG", "RIGHT"):
            for exercise_id, named in getattr(variants, kind).items():
                for name, source in named.items():
                    cases.append(pytest.param(kind, exercise_id, name, source,
                                              id=f"{kind.lower()}-{exercise_id}-{name}"))
    return cases


CASES = _variants()


_graded = {}


def _grade(hidden, kind, exercise_id, name, source):
    """The variant's result, graded once per test session."""
    key = (kind, exercise_id, name)
    if key not in _graded:
        with tempfile.TemporaryDirectory() as tmp:
            # a capstone's variant names the definitions it replaces in the modules it assembles
            replacements = source if isinstance(source, dict) else {exercise_id: source}
            folder = make_submission(Path(tmp), replacements)
            _graded[key] = grade_submission(hidden, folder, [COURSE.exercise(exercise_id)]).exercises[0]
    return _graded[key]


@pytest.mark.parametrize("kind, exercise_id, name, source", CASES)
def test_variant(hidden, kind, exercise_id, name, source):
    result = _grade(hidden, kind, exercise_id, name, source)
    if kind == "WRONG":
        assert result.score < result.max_score, "the hidden suite gave a wrong implementation full marks"
    else:
        assert result.passed, result.feedback()


def test_every_hidden_check_fails_for_some_wrong_variant(hidden):
    """A check that no plausible mistake trips proves nothing: each must catch at least one."""
    failed = set()
    for case in CASES:
        kind, exercise_id, name, source = case.values
        if kind == "WRONG":
            result = _grade(hidden, kind, exercise_id, name, source)
            failed |= {(exercise_id, c.title) for c in result.checks if not c.passed}
    never = [(ex.id, check_title(fn)) for ex in COURSE.exercises for fn in hidden.suites.checks_for(ex.id)
             if (ex.id, check_title(fn)) not in failed]
    assert not never, f"hidden checks that no WRONG variant fails: {never}"


def test_every_exercise_has_three_wrong_and_one_right_variant():
    counts = {}
    for case in CASES:
        kind, exercise_id, _, _ = case.values
        counts.setdefault(exercise_id, {"WRONG": 0, "RIGHT": 0})[kind] += 1
    for ex in COURSE.exercises:
        got = counts.get(ex.id, {"WRONG": 0, "RIGHT": 0})
        assert got["WRONG"] >= 3 and got["RIGHT"] >= 1, f"{ex.id}: {got}"
