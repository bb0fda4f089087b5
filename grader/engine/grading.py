"""Grading one exercise and one submission: the pipeline of small steps.

For each exercise: scan the learner's source for forbidden calls, start a worker on a
private copy of the submission with the reference versions of what the exercise builds
on, run the exercise's checks here (in the grader's process) against the worker, and
turn the outcomes into a score and feedback.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import importlib.util
import inspect
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.checks import NOT_WRITTEN, CheckOutcome, checks_in, exercise_score, stub_exercise
from grader.course.manifest import Course, Exercise
from grader.course.namespace import ModuleNamespace
from grader.course.source import definition_source, make_stubs, stub_message
from grader.engine.check_runner import ChecksEnded, one_torch_thread, run_checks
from grader.engine.forbidden import forbidden_in_sources
from grader.engine.in_order import judge_in_order
from grader.engine.results import NOT_RUN, ExerciseResult
from grader.engine.screening import RefusalCache, screen
from grader.isolation.forkserver import ForkServer
from grader.isolation.worker_client import GraderFault, StudentError, StudentProxy, WorkerGone, WorkerSession, worker_env

MAX_MODULE_BYTES = 1_000_000
ATTEMPTS = 3                    # a worker that fails for the grader's reasons is tried again
RETRY_PAUSE_SECONDS = 2.0

log = logging.getLogger(__name__)


def blocked_note(blocked_by: list[str]) -> str:
    names = ", ".join(blocked_by)
    return (f"not checked: it builds on {names}, which does not pass its checks yet. Grading runs the "
            "reference in its place, so that one bug costs one exercise; here there is no reference to "
            f"do that. Make {blocked_by[0]} pass, then check this one again.")


# ---------------------------------------------------------------- suites

class Suites:
    """The checks of one kind (``hidden`` or ``visible``), by exercise id. A module's suite
    file (``test_<module>.py``) is loaded when one of its exercises is first asked for, so
    checking a numpy exercise never imports torch."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._by_exercise: dict[str, list[Callable]] = {}
        self._loaded: set[Path] = set()
        self._lock = threading.Lock()

    def _load_file(self, path: Path) -> None:
        if path in self._loaded:
            return
        self._loaded.add(path)
        name = f"_course_suite_{self.folder.name}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        for fn in checks_in(module):
            self._by_exercise.setdefault(fn.__check_exercise__, []).append(fn)
        one_torch_thread()

    def _load_all(self) -> None:
        for path in sorted(self.folder.glob("test_*.py")):
            self._load_file(path)

    def checks_for(self, exercise_id: str) -> list[Callable]:
        with self._lock:
            own = self.folder / f"test_{exercise_id.split('.')[0]}.py"
            if own.exists():
                self._load_file(own)
            if exercise_id not in self._by_exercise:    # a check may live in another file
                self._load_all()
            return list(self._by_exercise.get(exercise_id, []))

    def exercise_ids(self) -> set[str]:
        with self._lock:
            self._load_all()
            return set(self._by_exercise)


class Signatures:
    """Parameter names of course functions, read (never imported) from course source,
    so feedback can say ``rnn_forward(x=..., h0=...)``."""

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self._cache: dict[str, dict[str, list[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, module: str, name: str) -> list[str]:
        with self._lock:
            if module not in self._cache:
                self._cache[module] = {}
                for folder in self.folders:
                    path = Path(folder) / f"{module}.py"
                    if path.exists():
                        tree = ast.parse(path.read_text(encoding="utf-8"))
                        for node in tree.body:
                            if isinstance(node, ast.FunctionDef):
                                self._cache[module][node.name] = [a.arg for a in node.args.args]
                            elif isinstance(node, ast.ClassDef):
                                for item in node.body:
                                    if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                                        self._cache[module][node.name] = [a.arg for a in item.args.args[1:]]
                        break
            return self._cache[module].get(name, [])


# ---------------------------------------------------------------- forbidden calls (static)

def forbidden_in_source(source: str, definition: str, forbidden: tuple[str, ...]) -> set[str]:
    """Forbidden names that the top-level ``definition`` mentions, imports resolved."""
    return forbidden_in_sources([source], definition, forbidden)


# ---------------------------------------------------------------- one exercise

@dataclass
class GradingContext:
    """What grading needs besides the submission: the course and how to run it."""

    course: Course
    suites: Suites
    reference: ModuleNamespace | None       # None: no reference (the learner's own check)
    signatures: Signatures
    reference_stands_in: bool = True                 # reference versions of what an exercise builds on
    time_limit: float | None = None         # replaces the course's default limit
    launcher: ForkServer | None = None      # forks warm workers; None: start each from scratch
    plans_by_exercise: dict = field(default_factory=dict, repr=False)  # see stand_in_plan
    stubs_made: dict = field(default_factory=dict, repr=False)         # see _stubbed
    refusals: RefusalCache | None = field(default=None, repr=False)        # see grader/engine/screening.py

    def __post_init__(self) -> None:
        if self.refusals is None:
            self.refusals = RefusalCache(self.course.module_names)

    @classmethod
    def for_course(cls, course: Course, kind: str = "hidden", warm_up: bool = True, **kwargs) -> "GradingContext":
        root = course.root
        solutions = root / "solutions"
        has_reference = kind == "hidden" and solutions.is_dir()
        return cls(
            course=course,
            suites=Suites(root / "suites" / kind),
            reference=ModuleNamespace(solutions, course.module_names, "_reference") if has_reference else None,
            signatures=Signatures([p for p in (solutions, root / "exercises") if p.is_dir()]),
            reference_stands_in=has_reference,
            **{"launcher": warm_launcher(course, warm_up), **kwargs},
        )

    def start_early(self, exercise: Exercise) -> None:
        """Start the fork server now, in the background, with what ``exercise`` needs: its
        imports (torch: seconds) then overlap the grader's own."""
        first = self.course.builds_on_all(exercise.id)[:1] or [exercise.id]   # graded first
        self._start_in_background(libraries_for(self.course, self.course.exercise(first[0])))

    def start_early_for_all(self, exercises: list[Exercise]) -> None:
        """:meth:`start_early` for a grading process, which grades ``exercises`` for every
        submission: its server starts with what any of them needs, and never again (started
        for a numpy exercise first, it would be started anew at the first torch one)."""
        self._start_in_background(tuple(sorted({name for ex in exercises for name in libraries_for(self.course, ex)})))

    def _start_in_background(self, libraries: tuple[str, ...]) -> None:
        if self.launcher is not None:
            threading.Thread(target=self._start_launcher, args=(libraries,), daemon=True).start()

    def _start_launcher(self, libraries: tuple[str, ...]) -> None:
        try:
            self.launcher.kept_budget(libraries)
        except OSError:    # the first worker will say what is wrong, or start from scratch
            pass

    def close(self) -> None:
        if self.launcher is not None:
            self.launcher.close()


def warm_launcher(course: Course, warm_up: bool = True) -> ForkServer:
    """A fork server, started on first use with the libraries that exercise needs imported
    (see :func:`libraries_for`); ``warm_up=False`` for a command that runs a worker or two,
    which would not earn back the warm-up's cost."""
    return ForkServer(worker_env(tempfile.gettempdir()), [], course.memory_limit_mb, warm_up)


def libraries_for(course: Course, exercise: Exercise) -> tuple[str, ...]:
    """What a worker for ``exercise`` should find imported: torch for a torch module (and
    for a capstone, which assembles them), nothing for a numpy one."""
    return ("torch",) if course.module(exercise.module).framework == "torch" else ()


@dataclass(frozen=True)
class StandInPlan:
    """What an exercise may need of the reference, the same for every submission: the
    reference host's sources (every module with only the regions of what the exercise
    builds on filled in, never the exercise itself), the stubs learners are handed, and
    the kind of each piece it builds on (``"function"`` or ``"class"``)."""

    host_sources: dict[str, str]
    stubs: dict[str, str]
    builds_on: dict[str, dict[str, str]]       # module -> name -> kind

    def stand_ins(self, passed: set[str]) -> dict[str, dict[str, str]]:
        """The pieces that stand in: those the learner's own version did not pass."""
        chosen: dict[str, dict[str, str]] = {}
        for module, kinds in self.builds_on.items():
            failed = {name: kind for name, kind in kinds.items() if f"{module}.{name}" not in passed}
            if failed:
                chosen[module] = failed
        return chosen


NO_STAND_INS = StandInPlan({}, {}, {})


def stand_in_plan(ctx: GradingContext, exercise: Exercise) -> StandInPlan:
    """Made once per exercise and grading run, not per submission."""
    if not ctx.reference_stands_in or exercise.is_capstone:
        return NO_STAND_INS
    if exercise.id not in ctx.plans_by_exercise:
        ctx.plans_by_exercise[exercise.id] = _make_plan(ctx, exercise)
    return ctx.plans_by_exercise[exercise.id]


def _make_plan(ctx: GradingContext, exercise: Exercise) -> StandInPlan:
    by_module: dict[str, dict[str, str]] = {}
    for dep in ctx.course.builds_on_all(exercise.id):
        module, name = dep.split(".")
        kind = "class" if inspect.isclass(getattr(getattr(ctx.reference, module), name)) else "function"
        by_module.setdefault(module, {})[name] = kind
    host_sources, stubs = {}, {}
    for module in ctx.course.module_names:
        if (ctx.course.root / "solutions" / f"{module}.py").exists():
            host_sources[module] = _stubbed(ctx, module, frozenset(by_module.get(module, {})))
            stubs[module] = _stubbed(ctx, module)
    return StandInPlan(host_sources, stubs, by_module)


def _stubbed(ctx: GradingContext, module: str, keep: frozenset[str] = frozenset()) -> str:
    """``module``'s solution file with every region but those of ``keep`` stubbed. Made once
    per grading run: every exercise's plan asks for the same files, most with nothing kept,
    and made anew each took a parse (1.3 s for the plans of the whole course)."""
    if (module, keep) not in ctx.stubs_made:
        source = (ctx.course.root / "solutions" / f"{module}.py").read_text(encoding="utf-8")
        ctx.stubs_made[module, keep] = make_stubs(source, module, keep=keep)
    return ctx.stubs_made[module, keep]


def _private_copy(folder: Path, into: Path) -> None:
    for path in sorted(folder.iterdir()):
        if path.suffix == ".py" and path.is_file() and not path.is_symlink():
            if path.stat().st_size <= MAX_MODULE_BYTES:
                shutil.copyfile(path, into / path.name)


def _explain_failure(session: WorkerSession, message: str, exercise: Exercise | None = None) -> str:
    """What was called, what came back, and ``message``. The call shown is the last one to
    ``exercise``'s own function or class when there is one: a check of a backward pass may
    call the learner's forward many times after it (a numerical gradient), but what failed
    is what the backward returned."""
    lines = []
    call = _judged_call(session.calls, exercise)
    if call is not None:
        lines.append(f"called {call.call_text()}")
        if call.returned:
            lines.append(call.outcome_text())
    lines.append(message)
    return "\n".join(lines)


def _judged_call(calls: list, exercise: Exercise | None):
    """The call whose result a failed expectation judged: the last call to the graded
    exercise itself (its function, its class, or an instance of it), else the last call."""
    if exercise is not None:
        own = getattr(calls, "own", None)
        if own is None:
            own = next((call for call in reversed(calls) if call.label in own_labels(exercise)), None)
        if own is not None:
            return own
    return calls[-1] if calls else None


def own_labels(exercise: Exercise) -> tuple[str, ...]:
    """How a call to ``exercise``'s own function or class (or an instance of it) is labelled."""
    name, instance = exercise.name, f"<your {exercise.name}>"
    return name, f"{name} (then backward)", instance, f"{instance} (then backward)"


class CallLog(list):
    """A session's ``calls``: the worker session keeps only the last few, and this log also
    keeps the last call to the graded exercise's own function (a gradient check calls the
    forward pass many times after the backward pass it judges)."""

    def __init__(self, exercise: Exercise):
        super().__init__()
        self.labels = own_labels(exercise)
        self.own = None

    def append(self, record) -> None:
        if record.label in self.labels:
            self.own = record
        super().append(record)

    def clear(self) -> None:
        self.own = None
        super().clear()


def stub_raised(error: StudentError) -> str | None:
    """The exercise whose stub raised ``error`` (it is not written yet), or None."""
    return stub_exercise(error.type_name, error.message)


def still_a_stub(folder: Path, exercise: Exercise) -> bool:
    """Whether the learner's definition of ``exercise`` still raises its stub's error."""
    try:
        source = (Path(folder) / f"{exercise.module}.py").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    definition = definition_source(source, exercise.name)
    return definition is not None and stub_message(exercise.id) in definition


_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
_WHERE = re.compile(r"^(?P<what>.*) \((?P<file>[^()\n]+\.py), line (?P<line>\d+)\)$", re.DOTALL)
EXCERPT_WIDTH = 64


def import_problem(exercise: Exercise, folder: Path, error: StudentError) -> tuple[str, str]:
    """One summary of why the graded module could not be imported, with the offending line
    (and a caret under a syntax error), and the file at fault (``masking.py`` when the graded
    ``multihead.py`` failed on importing it)."""
    graded = f"{exercise.module}.py"
    file, line, what, column = graded, 0, error.message, None
    code = None
    if error.type_name in _SYNTAX_ERRORS:
        found = _WHERE.match(error.message)
        if found:
            file, line, what = Path(found["file"]).name, int(found["line"]), found["what"]
        code, column = _syntax_excerpt(Path(folder) / file, line)
    elif error.frames:
        file, line, _func, code = error.frames[-1]
        file = Path(str(file)).name
    cause = error.type_name + (f" in {file}, line {line}" if line else "")
    lines = [f"{graded} could not be imported:", f"{cause}: {what}" if what else cause]
    if code:
        lines += _excerpt(line, code, column)
    return "\n".join(lines), file


def _syntax_excerpt(path: Path, line: int) -> tuple[str | None, int | None]:
    """The text of ``line`` of ``path`` and, when parsing the file here finds the same error
    there, the column of the caret (1-based). The file is parsed, never run."""
    try:
        source = path.read_bytes()[:MAX_MODULE_BYTES]
    except OSError:
        return None, None
    try:
        ast.parse(source, filename=path.name)
    except SyntaxError as exc:
        if exc.lineno == line and exc.text:
            return exc.text.rstrip("\r\n"), exc.offset
    except Exception:  # noqa: BLE001 - too deep, too large: no caret, the message still says where
        pass
    lines = source.decode("utf-8", "replace").splitlines()
    return (lines[line - 1], None) if 0 < line <= len(lines) else (None, None)


def _excerpt(line: int, code: str, column: int | None) -> list[str]:
    """``code`` as line ``line`` of its file, cut to fit a terminal, a caret under ``column``."""
    if column is not None:      # the column as the tabs before it are shown
        column = len(code[:max(column - 1, 0)].expandtabs(4)) + 1
    code = code.rstrip().expandtabs(4)
    start = 0
    if column is not None and column - 1 > EXCERPT_WIDTH - 10:
        start = column - 1 - (EXCERPT_WIDTH - 10)
    shown = code[start:start + EXCERPT_WIDTH]
    if start:
        shown = "…" + shown
    if start + EXCERPT_WIDTH < len(code):
        shown += "…"
    number = f"{line:>4} | "
    lines = [number + shown]
    if column is not None:
        lines.append(" " * (len(number) - 2) + "| " + " " * (column - 1 - start + bool(start)) + "^")
    return lines


def grade_in_order(ctx: GradingContext, exercise: Exercise, folder: Path, verdicts: dict[str, bool]) -> ExerciseResult:
    """Grade ``exercise`` as grading a whole submission would: first whether the learner's
    own versions of what it builds on pass (kept in ``verdicts``, by exercise id, for the
    next call), then the exercise with :func:`grade_exercise`'s stand-in rule."""
    results: dict[str, ExerciseResult] = {}

    def judge(exercise_id: str, passed: frozenset[str]) -> bool:
        results[exercise_id] = grade_exercise(ctx, ctx.course.exercise(exercise_id), folder, passed)
        return results[exercise_id].passed

    verdicts.pop(exercise.id, None)         # the exercise asked for is graded again, always
    judge_in_order([ex.id for ex in ctx.course.with_what_they_build_on([exercise])], ctx.course.builds_on_all,
                   judge, verdicts)
    return results[exercise.id]


class LastingVerdicts:
    """Verdicts for :func:`grade_in_order` that outlive a run (``course watch``): one is
    forgotten when the file of its module, or of a module it builds on, has changed."""

    def __init__(self, course: Course, folder: Path):
        self.course, self.folder = course, Path(folder)
        self.verdicts: dict[str, bool] = {}
        self._contents: dict[str, bytes | None] = {}

    def current(self) -> dict[str, bool]:
        changed = set()
        for module in self.course.module_names:
            try:
                content = (self.folder / f"{module}.py").read_bytes()
            except OSError:
                content = None
            if self._contents.get(module, b"") != content:
                changed.add(module)
            self._contents[module] = content
        for exercise_id in list(self.verdicts):
            touched = {exercise_id, *self.course.builds_on_all(exercise_id)}
            if {dep.split(".")[0] for dep in touched} & changed:
                del self.verdicts[exercise_id]
        return self.verdicts


def grade_exercise(ctx: GradingContext, exercise: Exercise, folder: Path,
                   passed: set[str] | frozenset[str] | None = None) -> ExerciseResult:
    """Grade one exercise of the submission in ``folder``. ``passed``: the exercises whose
    learner version passed every check in this grading; what the exercise builds on is the
    learner's own where it passed, and the reference's (standing in) where it did not. With
    no reference to stand in (a learner's ``course check``), a failing piece blocks the
    exercise instead. ``passed=None``: not known; the learner's own pieces run."""
    started = time.monotonic()
    result = ExerciseResult(exercise.id, exercise.title, exercise.points, 0.0)
    checks = ctx.suites.checks_for(exercise.id)
    if not checks:
        result.problem = "this exercise has no checks yet (a course bug; please report it)"
        return result
    if passed is not None and not ctx.reference_stands_in and not exercise.is_capstone:
        result.blocked_by = [dep for dep in ctx.course.builds_on_all(exercise.id) if dep not in passed]
        if result.blocked_by:
            result.problem = blocked_note(result.blocked_by)
            result.checks = [CheckOutcome.of(fn, False, NOT_RUN) for fn in checks]
            return result
    passed = set(passed or ())

    learner_file = folder / f"{exercise.module}.py"
    banned_static: set[str] = set()
    if learner_file.is_file():
        source = learner_file.read_text(encoding="utf-8", errors="replace")
        banned_static = forbidden_in_source(source, exercise.name, exercise.forbidden)

    plan = stand_in_plan(ctx, exercise)
    config = {
        "folder": "",
        "modules": ctx.course.module_names,
        "graded_module": None if exercise.is_capstone else exercise.module,
        "graded": exercise.id,
        "exercises": {m.name: [ex.name for ex in m.exercises] for m in ctx.course.modules},
        "stubs": plan.stubs,
        "stand_ins": plan.stand_ins(passed),
        "builds_on": plan.builds_on,
        "forbidden": list(exercise.forbidden),
        "memory_limit_mb": ctx.course.memory_limit_mb,
    }
    result.stood_in = [f"{module}.{name}" for module, names in config["stand_ins"].items() for name in names]
    reference = None
    if plan.builds_on:
        reference = {"role": "reference", "folder": "", "sources": plan.host_sources,
                     "allowed": [f"{m}.{n}" for m, kinds in plan.builds_on.items() for n in kinds],
                     "memory_limit_mb": ctx.course.memory_limit_mb}
    # an exercise's own limit (the capstone trains a model) outranks a run-wide one
    time_limit = exercise.time_limit or ctx.time_limit or ctx.course.time_limit
    with tempfile.TemporaryDirectory(prefix="course-worker-") as tmp:
        for attempt in range(1, ATTEMPTS + 1):
            # each try on a fresh copy, screened: an earlier try's worker may have changed its own
            place = Path(tmp) / f"try-{attempt}"
            work = place / "submission"
            work.mkdir(parents=True)
            _private_copy(folder, work)
            refused = screen(work, plan.stubs, ctx.refusals).against(exercise.module, exercise.name)
            if refused:  # it never runs: the checks would only run what is left of it
                result.problem = "\n".join([r.message() for r in refused[:5]]
                                           + ["no points for this exercise until that is gone"])
                result.checks = [CheckOutcome.of(fn, False, NOT_RUN) for fn in checks]
                result.seconds = time.monotonic() - started
                return result
            try:
                banned = banned_static | _attempt(ctx, exercise, checks, work, config, time_limit, reference, result)
                break
            except GraderFault as fault:
                log.warning("grading %s, try %d of %d: %s", exercise.id, attempt, ATTEMPTS, fault)
                if attempt == ATTEMPTS:
                    return _not_graded(result, checks, str(fault), started)
                time.sleep(RETRY_PAUSE_SECONDS * attempt)

    if banned:
        names = ", ".join(sorted(banned))
        result.problem = (f"uses {names}, which this exercise asks you to write yourself; "
                          "no points until it is gone")
    result.score = 0.0 if banned else exercise_score(result.checks, exercise.points)
    result.seconds = time.monotonic() - started
    return result


def _attempt(ctx: GradingContext, exercise: Exercise, checks: list[Callable], work: Path,
             config: dict, time_limit: float, reference: dict | None, result: ExerciseResult) -> set[str]:
    """One run of the checks in a fresh worker, on ``work``, a screened copy of the
    submission of its own; the forbidden calls it saw. Raises :class:`GraderFault` when
    the grader failed it."""
    result.checks = []
    with WorkerSession(work, {**config, "folder": str(work)}, time_limit, work.parent / "output.txt", ctx.launcher,
                       reference=reference, preload=libraries_for(ctx.course, exercise)) as session:
        _run_checks(ctx, exercise, checks, session, result)
        if session.fault is not None:   # a check's own code may have caught it: it still counts
            raise session.fault
        return set(session.forbidden_used)


def _not_graded(result: ExerciseResult, checks: list[Callable], fault: str, started: float) -> ExerciseResult:
    result.grader_fault = fault
    result.problem = ("not graded: the grader failed to run your code, for reasons of its own "
                      f"(not yours; grade again later): {fault}")
    result.checks = [CheckOutcome.of(fn, False, NOT_RUN) for fn in checks]
    result.seconds = time.monotonic() - started
    return result


def _run_checks(ctx: GradingContext, exercise: Exercise, checks: list[Callable],
                session: WorkerSession, result: ExerciseResult) -> None:
    def fail_all(reason: str) -> None:
        result.checks.extend(CheckOutcome.of(fn, False, reason) for fn in checks)

    # what an earlier try of this exercise found (see grade_exercise) is not this try's
    result.problem, result.not_written, result.failed_file, result.raised_in = "", False, "", ""
    try:
        import_error = session.start()
    except WorkerGone as exc:
        tail = session.output_tail()
        result.problem = f"{exc}" + (f"\nlast output:\n{tail}" if tail else "")
        fail_all(NOT_RUN)
        return
    if import_error is not None:    # once for the exercise, not once per check
        result.problem, result.failed_file = import_problem(exercise, session.folder, import_error)
        fail_all(NOT_RUN)
        return

    session.calls = CallLog(exercise)
    environment = _WorkerEnvironment(ctx, exercise, session)
    result.checks.extend(run_checks(exercise.id, checks, environment))
    _summarise_stubs(result, exercise, session.folder, environment.stubbed)
    raised_in = set(environment.raised_in)
    if len(raised_in) == 1 and raised_in != {f"{exercise.module}.py"}:
        result.raised_in = raised_in.pop()


class _WorkerEnvironment:
    """Checks run here, the learner's code in the session's worker: what crosses back is
    a :class:`StudentError` or a worker that is gone, described from the calls logged."""

    def __init__(self, ctx: GradingContext, exercise: Exercise, session: WorkerSession):
        self.exercise, self.session = exercise, session
        self.given: dict[str, Any] = {"student": StudentProxy(session, ctx.course.module_names, ctx.signatures)}
        if ctx.reference is not None:
            self.given["ref"] = ctx.reference
        self.stubbed: list[str] = []    # the exercise each check's stub error came from
        self.raised_in: list[str] = []  # the learner file each other error was raised in

    def before_check(self) -> None:
        self.session.calls.clear()

    def failed(self, message: str) -> str:
        return _explain_failure(self.session, message, self.exercise)

    def raised(self, error: Exception) -> str:
        if isinstance(error, GraderFault):
            raise error
        if isinstance(error, WorkerGone):
            tail = self.session.output_tail()
            message = _explain_failure(self.session, str(error)) + (f"\nlast output:\n{tail}" if tail else "")
            raise ChecksEnded(message, "not run: the process running your code had ended")
        if isinstance(error, StudentError):
            return self._learner_raised(error)
        # the learner's result broke the check's own code (e.g. not a tuple)
        return self.failed(f"the result could not be checked: {type(error).__name__}: {error}")

    def _learner_raised(self, error: StudentError) -> str:
        stub = stub_raised(error)
        if stub is not None:        # no argument dump and traceback for a stub
            self.stubbed.append(stub)
            return _not_written_text(stub, self.exercise)
        if error.frames:
            self.raised_in.append(error.frames[-1][0])
        calls = self.session.calls
        call = calls[-1].call_text() if calls else self.exercise.name
        message = f"called {call}\n{error.explain()}"
        own = [dep for dep in self.exercise.uses_own if call.startswith(dep.split(".")[1] + "(")]
        if own:
            message += (f"\n(this check runs your own {own[0]} first, because what it returns is yours "
                        f"to design: make {own[0]} pass, then come back)")
        return message


def _not_written_text(stub: str, exercise: Exercise) -> str:
    if stub == exercise.id:
        return f"{stub} is {NOT_WRITTEN}"
    if stub in exercise.uses_own:
        return (f"this check runs your own {stub} first, because what it returns is yours to design, and "
                f"{stub} is {NOT_WRITTEN}: write it, then come back")
    return f"your code calls {stub}, which is {NOT_WRITTEN}: write it first"


def _summarise_stubs(result: ExerciseResult, exercise: Exercise, folder: Path, stubbed: list[str]) -> None:
    """When every check ran into a stub, say so once: the exercise is not written yet (it
    is, or still holds, its own stub), or one reason names the piece to write first."""
    if not stubbed or len(stubbed) != len(result.checks):
        return
    others = [stub for stub in dict.fromkeys(stubbed) if stub != exercise.id]
    if not others or still_a_stub(folder, exercise):
        result.not_written = True
        return
    result.problem = _not_written_text(others[0], exercise)
    result.checks = [dataclasses.replace(check, feedback=NOT_RUN) for check in result.checks]
