import pytest

from grader.course.manifest import load_manifest
from grader.engine.grading import GradingContext
from tests.support import ROOT


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch):
    """Tests read English output of the course they name, whatever the developer has set,
    and `course check` runs in the test's own processes: no warm checker outlives a test
    (tests/test_warm.py starts its own)."""
    monkeypatch.delenv("COURSE_LANG", raising=False)
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    monkeypatch.setenv("COURSE_WARM", "0")


@pytest.fixture(scope="session")
def course():
    return load_manifest(ROOT / "course.toml")


@pytest.fixture(scope="session")
def reference(course):
    """The reference modules as `course show` runs them: solutions/, torch on one thread."""
    from grader.learner import show

    show.one_thread()
    return show.reference_modules(course)


@pytest.fixture(scope="session")
def hidden(course):
    """Grading as `course grade` does it, with a short time limit to keep tests quick."""
    return GradingContext.for_course(course, "hidden", time_limit=10)


@pytest.fixture(scope="session")
def visible(course):
    return GradingContext.for_course(course, "visible", time_limit=10)


@pytest.fixture()
def without_screening(monkeypatch):
    """The static layer (grader/engine/screening.py) switched off, for tests that show what the
    layers behind it do on their own: the worker, its isolation and the grader's checks."""
    from grader.engine.screening import Screening

    monkeypatch.setattr("grader.engine.grading.screen", lambda *_args: Screening())
