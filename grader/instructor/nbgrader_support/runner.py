"""One exercise's checks, run in the notebook's own kernel: the engine of a test cell.

A test cell that ``course nbgrader`` writes reads::

    from grader.instructor.nbgrader_support import ExerciseTests
    _tests = ExerciseTests("masking.padding_mask", points=3, namespace=globals())
    _tests.visible("suites/visible/test_masking.py")
    # (nbgrader's hidden-tests region, holding:)
    _tests.hidden("masking", stand_ins={})
    # (end of the region)
    _tests.run()

In the student's copy the hidden region is gone: ``run`` runs the visible checks (those of
``course check``). When nbgrader grades, the region is back, and the hidden checks alone
decide the score, exactly as in ``course grade``: the exercise's points are shared among
its checks by weight. The first test cell of a notebook also loads, inside its hidden
region, the hidden suite and the module's reference (:func:`load_hidden`), as private
modules of this kernel; they are never files.

The cell's value is the score, which nbgrader reads as partial credit; when no check
passes, the cell raises :class:`ExerciseFailed` with the feedback (nbgrader: 0 points).

What is the same as ``course grade``: the checks (same code, same seeded ``rng``, same
``student``/``ref``/``rng`` arguments), the weights, the feedback ("called ... returned
... expected ..."), and the stand-in rule: while an exercise is graded, what it builds on
(in this module) is the notebook's own where that passes its own hidden checks, and the
reference's where it does not, so one bug costs one exercise and a self-consistent chain
keeps its own pieces; the pieces are judged earlier ones first, with the same stand-ins
(:mod:`grader.engine.in_order`); the feedback says which stood in. Earlier modules are the reference
files next to the notebook anyway.
What is not: the student's code runs in this very process, next to the checks, with no
time limit of its own (nbgrader's cell timeout applies) and no isolation, so it could
tamper with the checks. Forbidden calls are found by a static scan of the cells the kernel
ran and by tripwires on the forbidden library calls while the checks run.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import linecache
import os
import sys
import types
from pathlib import Path
from typing import Any, Callable

from grader.checks import NOT_WRITTEN, CheckOutcome, checks_in, describe, exercise_score, stub_exercise
from grader.engine.check_runner import FixturesFor, one_torch_thread, run_checks
from grader.engine.forbidden import forbidden_in_sources
from grader.engine.in_order import judge_in_order
from grader.engine.results import ExerciseResult, plain_text, result_view

_HIDDEN: dict[str, "_HiddenModule"] = {}     # module name -> its hidden suite and reference, when grading
_OWN_VERDICTS: dict[tuple, bool] = {}      # (exercise, ids of the notebook's definitions it runs) -> passes
_VISIBLE: dict[str, types.ModuleType] = {}   # suite path -> the loaded visible suite


class ExerciseFailed(Exception):
    """No check of the exercise passed: the message is the feedback. IPython shows it
    without a traceback (the checks' code is not the student's business)."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class NotDefined(AttributeError):
    """The notebook has no definition of a name the checks need."""


class _HiddenModule:
    def __init__(self, suite: types.ModuleType, reference: types.ModuleType):
        self.suite = suite
        self.reference = reference


def _module_from_source(name: str, source: str, filename: str) -> types.ModuleType:
    """Execute ``source`` as a new module registered as ``name``; its code has no file,
    so tracebacks through it show no lines."""
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module          # dataclasses and friends look their module up
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def load_hidden(module: str, suite: str, reference: str) -> None:
    """Load the hidden checks of ``module`` and its reference solution, given as source
    text (they sit in the hidden region of the notebook's first test cell)."""
    # nbgrader gives 0 to a test cell that writes anything to stderr: a warning while
    # loading must not cost the first exercise its points
    with contextlib.redirect_stderr(sys.stdout):
        ref = _module_from_source(f"_course_reference_{module}", reference, f"<reference of {module}>")
        checks = _module_from_source(f"_course_hidden_{module}", suite, f"<hidden checks of {module}>")
    _HIDDEN[module] = _HiddenModule(checks, ref)


def _visible_suite(path: str) -> types.ModuleType:
    full = str(Path(path).resolve())
    if full not in _VISIBLE:
        if not Path(full).is_file():
            raise FileNotFoundError(f"{path} is missing: it comes with this notebook; run the notebook from its folder")
        name = f"_course_visible_{Path(full).stem}"
        spec = importlib.util.spec_from_file_location(name, full)
        suite = importlib.util.module_from_spec(spec)
        sys.modules[name] = suite
        spec.loader.exec_module(suite)
        _VISIBLE[full] = suite
    return _VISIBLE[full]


# ---------------------------------------------------------------- what the checks call


class _Call:
    """The last call a check made into the student's code, described only for feedback."""

    def __init__(self, label: str, fn: Callable, args: tuple, kwargs: dict):
        self.label, self.fn, self.args, self.kwargs = label, fn, args, kwargs
        self.result: Any = None
        self.returned = False

    def text(self) -> str:
        # the format of grader.isolation.worker_client.describe_call
        try:
            params = [p.name for p in inspect.signature(self.fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
        parts = []
        for index, value in enumerate(self.args):
            name = params[index] if index < len(params) else None
            parts.append(f"{name}={describe(value)}" if name else describe(value))
        parts.extend(f"{key}={describe(value)}" for key, value in self.kwargs.items())
        return f"{self.label}({', '.join(parts)})"


class _Calls:
    """The calls of one check: the last one, and the last one to the graded exercise's own
    function (``own``), whose result a failed expectation judged (a gradient check calls
    the forward pass many times after the backward pass it judges)."""

    def __init__(self, own: str | None = None):
        self.own = own
        self.last: _Call | None = None
        self.last_own: _Call | None = None

    def reset(self) -> None:
        self.last = self.last_own = None

    @property
    def judged(self) -> _Call | None:
        return self.last_own or self.last

    def recorded(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            record = _Call(label, fn, args, kwargs)
            self.last = record
            if label == self.own:
                self.last_own = record
            result = fn(*args, **kwargs)
            record.result, record.returned = result, True
            return result

        return call


def _course_module(name: str) -> types.ModuleType:
    """An earlier course module: the reference file next to the notebook."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise AttributeError(f"no course module {name!r} next to this notebook") from None


class _NotebookModule:
    """The module this notebook writes, as the checks see it (``student.masking``): the
    notebook's definitions at the moment of the call."""

    def __init__(self, name: str, namespace: dict, calls: _Calls):
        self._name, self._namespace, self._calls = name, namespace, calls

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        try:
            value = self._namespace[attr]
        except KeyError:
            raise NotDefined(f"the notebook defines no {attr!r}: run the cell that defines it "
                             "(and the cells above it) first") from None
        if isinstance(value, types.FunctionType):
            return self._calls.recorded(attr, value)
        return value


class _Student:
    def __init__(self, own: str, namespace: dict, calls: _Calls):
        self._own = _NotebookModule(own, namespace, calls)
        self._own_name = own
        self._calls = calls
        self.fixtures = FixturesFor(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == self._own_name:
            return self._own
        return _RecordedModule(name, _course_module(name), self._calls)


class _RecordedModule:
    def __init__(self, name: str, module: types.ModuleType, calls: _Calls):
        self._module, self._calls = module, calls

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._module, attr)
        if isinstance(value, types.FunctionType):
            return self._calls.recorded(attr, value)
        return value


class _Reference:
    def __init__(self, own: str, reference: types.ModuleType):
        self._own_name, self._reference = own, reference

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._reference if name == self._own_name else _course_module(name)


# ---------------------------------------------------------------- one exercise


class ExerciseTests:
    """The checks of one exercise, run against the notebook's definitions."""

    def __init__(self, exercise: str, *, points: float, namespace: dict, forbidden: tuple | list = ()):
        self.exercise = exercise
        self.module, self.name = exercise.split(".")
        self.points = float(points)
        self.namespace = namespace
        self.forbidden = tuple(forbidden)
        self._visible_path: str | None = None
        self._hidden: _HiddenModule | None = None
        self._stand_ins: dict[str, tuple[str, ...]] = {}

    def visible(self, path: str) -> "ExerciseTests":
        """The visible suite (a file next to the notebook)."""
        self._visible_path = path
        return self

    def hidden(self, module: str, stand_ins: dict | tuple | list = ()) -> "ExerciseTests":
        """Grade with the hidden suite of ``module`` (loaded by :func:`load_hidden`), with
        the reference versions of those of ``stand_ins`` whose notebook version does not
        pass its own hidden checks in place of the notebook's (the rule of ``course grade``).
        ``stand_ins`` maps each exercise of this module that this one builds on, in course
        order, to those of them it builds on itself (a list: they build on none)."""
        if module not in _HIDDEN:
            raise RuntimeError(f"the hidden checks of {module} are not loaded: the first test cell of the "
                               "notebook loads them, so run the notebook from the top")
        self._hidden = _HIDDEN[module]
        self._stand_ins = ({name: tuple(deps) for name, deps in stand_ins.items()} if isinstance(stand_ins, dict)
                           else {name: () for name in stand_ins})
        return self

    # ------------------------------------------------------------ running

    def run(self) -> float | None:
        """Run the checks, print the feedback; the value is the score (nbgrader's partial
        credit). Raises :class:`ExerciseFailed` when nothing passes."""
        grading = self._hidden is not None
        suite = self._hidden.suite if grading else (_visible_suite(self._visible_path) if self._visible_path else None)
        checks = [fn for fn in checks_in(suite) if fn.__check_exercise__ == self.exercise] if suite else []
        if not checks:
            if grading:
                raise ExerciseFailed(f"{self.exercise} has no hidden checks (a course bug; please report it)")
            print(f"{self.exercise}: no checks to run here; grading runs hidden ones")
            return None
        _one_torch_thread_when_grading()
        verdicts = judge_in_order(self._stand_ins, self._stand_ins.__getitem__, self._passes_its_own_checks)
        standing = tuple(name for name, passed in verdicts.items() if not passed)
        with _Tripwires(self.forbidden, self.namespace) as tripwires:
            outcomes = self._run_checks(checks, standing)
        banned = forbidden_in_sources(_cell_sources(self.namespace), self.name, self.forbidden) | tripwires.used
        score = 0.0 if banned else exercise_score(outcomes, self.points)
        report = self._report(outcomes, score, banned, grading, standing)
        if score == 0:
            raise ExerciseFailed(report)
        print(report)
        return score

    def _passes_its_own_checks(self, name: str, passed: frozenset[str]) -> bool:
        """Whether the notebook's ``name`` (an exercise of this module) passes every hidden
        check of its own, with the reference standing in for what it builds on that is not
        in ``passed``; remembered per definitions for the kernel's life."""
        builds_on = self._stand_ins[name]
        key = (f"{self.module}.{name}", *(id(self.namespace.get(n)) for n in (name, *builds_on)))
        if key not in _OWN_VERDICTS:
            own = ExerciseTests(key[0], points=1, namespace=self.namespace)
            own._hidden = self._hidden
            checks = [fn for fn in checks_in(self._hidden.suite) if fn.__check_exercise__ == key[0]]
            standing = tuple(dep for dep in builds_on if dep not in passed)
            outcomes = own._run_checks(checks, standing) if self.namespace.get(name) is not None and checks else []
            _OWN_VERDICTS[key] = bool(outcomes) and all(o.passed for o in outcomes)
        return _OWN_VERDICTS[key]

    def _run_checks(self, checks: list[Callable], standing: tuple[str, ...]) -> list[CheckOutcome]:
        environment = _KernelEnvironment(self)
        # a student's print to stderr (or a warning) must not cost the points: nbgrader
        # gives 0 to a test cell with any stderr output
        with _stand_ins(self.namespace, self._hidden, standing), contextlib.redirect_stderr(sys.stdout):
            return run_checks(self.exercise, checks, environment)

    def _explain_error(self, exc: Exception, call: _Call | None) -> str:
        if isinstance(exc, NotDefined):
            return str(exc)
        # exactly NotImplementedError: a subclass named alike is the learner's own error
        stub = stub_exercise(type(exc).__name__ if type(exc) is NotImplementedError else "",
                             exc.args[0] if exc.args else None)
        if stub is not None:        # no argument dump and traceback for a stub
            return f"{stub} is {NOT_WRITTEN}"
        frames = _notebook_frames(exc, self.namespace)
        if not frames:       # the student's result broke the check's own code (e.g. not a tuple)
            return _with_call(call, f"the result could not be checked: {type(exc).__name__}: {exc}")
        text = f"raised {type(exc).__name__}: {exc}" if str(exc) else f"raised {type(exc).__name__}"
        for func, line, code in frames[-3:]:
            text += f"\n  at {func}, line {line}" + (f": {code}" if code else "")
        return f"called {call.text()}\n{text}" if call is not None else text

    def _report(self, outcomes: list[CheckOutcome], score: float, banned: set[str], grading: bool,
                standing: tuple[str, ...]) -> str:
        problem = ""
        if banned:
            problem = (f"uses {', '.join(sorted(banned))}, which this exercise asks you to write yourself; "
                       "no points until it is gone")
        # every check ran into the exercise's own stub (a passed check has no feedback)
        not_written = not banned and all(o.feedback == f"{self.exercise} is {NOT_WRITTEN}" for o in outcomes)
        result = ExerciseResult(self.exercise, self.name, self.points, score, checks=outcomes, problem=problem,
                                stood_in=[f"{self.module}.{name}" for name in standing], not_written=not_written)
        counted, aside = ("checks", "") if grading else ("visible checks", " (grading runs hidden checks too)")
        # no hint line: a notebook of nbgrader comes without the `course` command
        return plain_text(result_view(result), counted, aside, hint=False)


class _KernelEnvironment:
    """An exercise's checks in the notebook's kernel, beside the learner's code: the call a
    failure judged is the one the wrappers of :class:`_Student` recorded last."""

    def __init__(self, tests: ExerciseTests):
        self._tests = tests
        self._calls = _Calls(tests.name)
        self.given: dict[str, Any] = {"student": _Student(tests.module, tests.namespace, self._calls)}
        if tests._hidden is not None:
            self.given["ref"] = _Reference(tests.module, tests._hidden.reference)

    def before_check(self) -> None:
        self._calls.reset()

    def failed(self, message: str) -> str:
        return _with_call(self._calls.judged, message)

    def raised(self, error: Exception) -> str:
        return self._tests._explain_error(error, self._calls.last)


def _with_call(call: _Call | None, message: str) -> str:
    """The feedback of ``course grade``: what was called, what came back, what was expected."""
    if call is None:
        return message
    lines = [f"called {call.text()}"]
    if call.returned:
        lines.append("returned " + describe(call.result))
    lines.append(message)
    return "\n".join(lines)


def _notebook_frames(exc: BaseException, namespace: dict) -> list[tuple[str, int, str]]:
    """The frames of the traceback that run the notebook's code, as (function, line, code)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_globals is namespace:
            code = linecache.getline(frame.f_code.co_filename, tb.tb_lineno).strip()
            frames.append((frame.f_code.co_name, tb.tb_lineno, code))
        tb = tb.tb_next
    return frames


@contextlib.contextmanager
def _stand_ins(namespace: dict, hidden: _HiddenModule | None, names: tuple[str, ...]):
    """The reference versions of ``names`` in the notebook's namespace, for the duration."""
    missing = object()
    saved = {name: namespace.get(name, missing) for name in names}
    try:
        for name in names:
            namespace[name] = getattr(hidden.reference, name)
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


class _Tripwires:
    """While the checks run, forbidden library callables note a call made directly from
    the notebook's code (the reference and the library itself may still use them): what
    the static scan cannot see, such as ``scores.softmax(-1)``. Packages not imported yet
    are left alone; the notebook cannot call them without importing them, which the
    static scan sees."""

    def __init__(self, names: tuple[str, ...], namespace: dict):
        self.names, self.namespace = names, namespace
        self.used: set[str] = set()
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> "_Tripwires":
        for dotted in self.names:
            self._patch(dotted)
        return self

    def __exit__(self, *exc_info) -> None:
        for undo in reversed(self._undo):
            undo()

    def _patch(self, dotted: str) -> None:
        parts = dotted.split(".")
        if parts[0] not in sys.modules:
            return
        owner, obj = None, sys.modules[parts[0]]
        for part in parts[1:]:
            owner, obj = obj, getattr(obj, part, None)
            if obj is None:
                return
        namespace, used = self.namespace, self.used
        if isinstance(obj, type):
            target, attr, original = obj, "__init__", obj.__dict__.get("__init__")
            inner = obj.__init__
        else:
            target, attr, original, inner = owner, parts[-1], obj, obj

        @functools.wraps(inner)
        def tripwire(*args, **kwargs):
            if sys._getframe(1).f_globals is namespace:
                used.add(dotted)
            return inner(*args, **kwargs)

        try:
            setattr(target, attr, tripwire)
        except (AttributeError, TypeError):
            return                          # a type that cannot be patched: the static scan remains

        def undo() -> None:
            if original is None:
                delattr(target, attr)
            else:
                setattr(target, attr, original)

        self._undo.append(undo)


def _cell_sources(namespace: dict) -> list[str]:
    """The cells this kernel has run, in order (IPython keeps them in ``_ih``)."""
    history = namespace.get("_ih")
    return [cell for cell in history if isinstance(cell, str)] if isinstance(history, list) else []


def _one_torch_thread_when_grading() -> None:
    """nbgrader grades a class one notebook after another on a shared machine; the
    checks' tensors are small, so torch's intra-op threads would only spin."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        one_torch_thread()
