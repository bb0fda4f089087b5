"""Run the suites with plain pytest, in one process, without the grader's isolation.

    pytest suites/hidden --submission path/to/exercises
    pytest suites/visible --submission exercises

This is how a conventional autograder would run them; the benchmark uses it as the
baseline. The grader itself (`course grade`, `course check`) never does this: it runs
learner code in a separate worker process.
"""

from pathlib import Path

import pytest

from grader.course.manifest import load_manifest
from grader.course.namespace import ModuleNamespace
from grader.engine.check_runner import FixturesFor, check_rng, torch_seeded_for

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--submission", default=None, help="folder of the learner's modules (default: solutions/)")


@pytest.fixture(scope="session")
def _module_names():
    return [module.name for module in load_manifest(ROOT / "course.toml").modules]


class _PlainStudent:
    """The submission's modules, plus ``fixtures`` as the grader's worker offers them:
    :mod:`grader.fixtures`, with the submission's modules where a fixture needs them."""

    def __init__(self, modules: ModuleNamespace):
        self._modules = modules
        self.fixtures = FixturesFor(modules)

    def __getattr__(self, name):
        return getattr(self._modules, name)


@pytest.fixture(scope="session")
def student(request, _module_names):
    folder = request.config.getoption("--submission") or str(ROOT / "solutions")
    return _PlainStudent(ModuleNamespace(Path(folder), _module_names, alias="_student"))


@pytest.fixture(scope="session")
def ref(_module_names):
    return ModuleNamespace(ROOT / "solutions", _module_names, alias="_reference")


@pytest.fixture
def rng(request):
    fn = request.function
    return check_rng(fn.__check_exercise__, fn)


@pytest.fixture(autouse=True)
def _torch_seeded(request):
    """Torch's global generator seeded per check, as the grader's check loop does."""
    fn = request.function
    if not hasattr(fn, "__check_exercise__"):
        yield
        return
    with torch_seeded_for(fn.__check_exercise__, fn):
        yield
