"""The one loop that runs an exercise's checks, wherever they run.

`course grade`, `course check` and `course watch` run checks in the grader beside a
worker; a notebook and the nbgrader runtime run them in the learner's own kernel;
`pytest suites/...` hands them to pytest. What a check is given (``student``, ``ref``,
``rng``, ``student.fixtures``) and how its verdict is scored are the same everywhere;
only how a failure is explained depends on where the learner's code ran. An
environment says that part (:class:`CheckEnvironment`); :func:`run_checks` does the rest.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import zlib
from typing import Any, Callable, Iterator, Protocol

from grader.checks import CheckFailed, CheckOutcome, seeded_rng


class ChecksEnded(Exception):
    """Raised by an environment when no later check can run (the learner's process is
    gone): ``message`` is the failing check's feedback, ``rest`` that of those after it."""

    def __init__(self, message: str, rest: str):
        super().__init__(message)
        self.message, self.rest = message, rest


class CheckEnvironment(Protocol):
    """Where the learner's code runs, as the check loop needs to know it."""

    given: dict[str, Any]
    """What a check may ask for besides ``rng``: ``student``, and ``ref`` for hidden suites."""

    def before_check(self) -> None:
        """Forget what the previous check called."""

    def failed(self, message: str) -> str:
        """The feedback of a check that found the learner's result wrong."""

    def raised(self, error: Exception) -> str:
        """The feedback of a check during which something raised ``error``: the learner's
        code, or the check's own code on what the learner returned. May raise
        :class:`ChecksEnded`, or let a fault of the grader's own through."""


def one_torch_thread() -> None:
    """Checks and the course's small models work on small tensors: torch's intra-op threads
    would only spin, on cores the workers need. Nothing when torch is not loaded."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def check_rng(exercise_id: str, fn: Callable):
    """The check's own random generator: the same inputs for every submission and run."""
    return seeded_rng(f"{exercise_id}:{fn.__name__}")


@contextlib.contextmanager
def torch_seeded_for(exercise_id: str, fn: Callable) -> Iterator[None]:
    """Torch's global generator seeded from the check's name while the check runs, and put
    back after: what a check draws from it (a reference model's initial weights) is the
    same whatever ran before it (a resumed grading, ``--only``, another exercise's
    checks), and a learner's own kernel (a notebook) keeps its random state. Nothing when
    torch is not loaded."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    # the CPU generator alone: torch.manual_seed also queues the seeding of every GPU
    # backend, formatting a stack trace for each, which costs more than many checks
    generator = torch.default_generator
    state = generator.get_state()
    generator.manual_seed(zlib.crc32(f"{exercise_id}:{fn.__name__}".encode()))
    try:
        yield
    finally:
        generator.set_state(state)


def call_check(fn: Callable, available: dict[str, Any]) -> None:
    """Call ``fn`` with the arguments it names, from ``available``."""
    params = inspect.signature(fn).parameters
    missing = [p for p in params if p not in available]
    if missing:
        raise RuntimeError(f"check {fn.__name__} needs {missing}, which this suite kind does not provide")
    fn(**{p: available[p] for p in params})


def run_checks(exercise_id: str, checks: list[Callable], environment: CheckEnvironment) -> list[CheckOutcome]:
    """Each check's outcome, in order."""
    outcomes: list[CheckOutcome] = []
    for index, fn in enumerate(checks):
        environment.before_check()
        try:
            outcomes.append(_outcome(exercise_id, fn, environment))
        except ChecksEnded as end:
            outcomes.append(CheckOutcome.of(fn, False, end.message))
            outcomes.extend(CheckOutcome.of(rest, False, end.rest) for rest in checks[index + 1:])
            break
    return outcomes


def _outcome(exercise_id: str, fn: Callable, environment: CheckEnvironment) -> CheckOutcome:
    try:
        with torch_seeded_for(exercise_id, fn):
            call_check(fn, {**environment.given, "rng": check_rng(exercise_id, fn)})
    except CheckFailed as exc:
        return CheckOutcome.of(fn, False, environment.failed(str(exc)))
    except Exception as exc:  # noqa: BLE001 - whatever the learner's code raises is feedback
        return CheckOutcome.of(fn, False, environment.raised(exc))
    return CheckOutcome.of(fn, True)


class FixturesFor:
    """``student.fixtures`` as the suites know it (:mod:`grader.fixtures`), where a fixture
    that assembles course modules is given ``modules``: the learner's."""

    def __init__(self, modules: Any):
        self._modules = modules

    def __getattr__(self, name: str) -> Any:
        from grader import fixtures     # torch: only once a check asks for a fixture

        value = getattr(fixtures, name)
        if callable(value) and "modules" in inspect.signature(value).parameters:
            return functools.partial(value, modules=self._modules)
        return value
