"""``course.toml``: the one manifest of the course, read and checked.

A mistake in the manifest is reported with the path of the bad key
(``modules[0].exercises[2].points: must be a positive number``), never as a KeyError.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ManifestError(ValueError):
    """``course.toml`` does not follow the schema; the message names the bad key."""


@dataclass(frozen=True)
class Exercise:
    module: str
    name: str
    points: float
    title: str
    builds_on: tuple[str, ...]
    uses_own: tuple[str, ...]
    forbidden: tuple[str, ...]
    hints: tuple[str, ...]
    time_limit: float | None = None
    # a capstone's: no file of its own, graded on the learner's own modules, nothing standing in
    is_capstone: bool = False

    @property
    def id(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class Module:
    name: str
    title: str
    framework: str
    exercises: tuple[Exercise, ...]
    kind: str = "exercises"         # "capstone": no file of its own; it assembles the others
    assembles: tuple[str, ...] = ()  # a capstone: the module files it runs, nothing substituted
    try_with: str = ""              # a capstone: the command that lets a learner watch it work

    @property
    def is_capstone(self) -> bool:
        return self.kind == "capstone"


@dataclass(frozen=True)
class Course:
    title: str
    version: str
    time_limit: float
    memory_limit_mb: int
    default_lang: str
    modules: tuple[Module, ...]
    root: Path = field(default=Path("."))

    @property
    def exercises(self) -> list[Exercise]:
        return [ex for module in self.modules for ex in module.exercises]

    @property
    def uses_torch(self) -> bool:
        return any(module.framework == "torch" for module in self.modules)

    @property
    def module_names(self) -> list[str]:
        """The modules that are Python files (``rnn.py``, ...), in course order; a
        capstone, which only assembles them, is not one."""
        return [module.name for module in self.modules if not module.is_capstone]

    def module(self, name: str) -> Module:
        for module in self.modules:
            if module.name == name:
                return module
        raise KeyError(name)

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        raise KeyError(exercise_id)

    def select(self, pattern: str | None) -> list[Exercise]:
        """Exercises whose id, or bare name, matches the glob ``pattern`` (several
        separated by commas); a module name selects the module. Course order is kept."""
        if not pattern:
            return self.exercises
        patterns = [p.strip() for p in pattern.split(",") if p.strip()]
        return [
            ex for ex in self.exercises
            if any(fnmatch.fnmatchcase(ex.id, p) or fnmatch.fnmatchcase(ex.name, p) or ex.module == p
                   for p in patterns)
        ]

    def lookup(self, text: str) -> Exercise | Module | None:
        """What ``text`` names: an exercise by its id (``rnn.rnn_forward``), a module by its
        name (``rnn``), or an exercise by its bare name (``rnn_forward``) when no other
        exercise has that name. None when it names nothing, or more than one exercise."""
        for module in self.modules:
            if module.name == text:
                return module
        named = [ex for ex in self.exercises if text in (ex.id, ex.name)]
        return named[0] if len(named) == 1 else None

    def close_matches(self, text: str, n: int = 3) -> list[str]:
        """The exercise ids and module names ``text`` most likely means (a typo, a bare
        name several modules have, a wrong module), best first; at most ``n``."""
        import difflib

        def similarity(a: str, b: str) -> float:
            return difflib.SequenceMatcher(None, a, b).ratio()

        scores = {ex.id: max(similarity(text, ex.id), similarity(text, ex.name)) for ex in self.exercises}
        scores.update({m.name: similarity(text, m.name) for m in self.modules})
        ranked = sorted(scores.items(), key=lambda item: -item[1])    # stable: ties keep course order
        return [name for name, score in ranked if score >= 0.6][:n]

    def builds_on_all(self, exercise_id: str) -> list[str]:
        """Every exercise ``exercise_id`` builds on, directly or not, in course order."""
        seen: set[str] = set()
        stack = list(self.exercise(exercise_id).builds_on)
        while stack:
            dep = stack.pop()
            if dep not in seen:
                seen.add(dep)
                stack.extend(self.exercise(dep).builds_on)
        return [ex.id for ex in self.exercises if ex.id in seen]

    def with_what_they_build_on(self, exercises) -> list[Exercise]:
        """``exercises`` and every exercise they build on, in course order: the order in
        which they are judged, since what an exercise builds on comes before it."""
        wanted = {ex.id for ex in exercises}
        for exercise_id in list(wanted):
            wanted.update(self.builds_on_all(exercise_id))
        return [ex for ex in self.exercises if ex.id in wanted]

    def modules_needed(self, exercises) -> list[str]:
        """The module files a learner must hand in for ``exercises``, in course order: their
        own modules, and for a capstone the modules it assembles."""
        exercises = list(exercises)
        needed = {ex.module for ex in exercises}
        for ex in exercises:
            if ex.is_capstone:
                needed.update(self.module(ex.module).assembles)
        return [m for m in self.module_names if m in needed]

    def overlaps_sources(self, path: Path) -> bool:
        """Whether writing (or replacing) ``path`` would touch what the course is made of:
        the manifest, solutions/, exercises/, suites/, i18n/, the package files, or a
        folder holding any of them (the course root itself, say)."""
        target = Path(path).resolve()
        sources = [self.root / name for name in ("course.toml", "solutions", "exercises", "suites", "i18n",
                                                 "grader", "pyproject.toml", "constraints.txt")]
        for source in (s.resolve() for s in sources):
            if target == source or target.is_relative_to(source) or source.is_relative_to(target):
                return True
        return False

    @property
    def total_points(self) -> float:
        return sum(ex.points for ex in self.exercises)


_COURSE_KEYS = {"title": str, "version": str, "time_limit": (int, float), "memory_limit_mb": int, "default_lang": str}
_MODULE_KEYS = {"name": str, "title": str, "framework": str, "kind": str, "forbidden": list, "exercises": list,
               "assembles": list, "try_with": str}
_KINDS = ("exercises", "capstone")
_EXERCISE_KEYS = {
    "name": str, "title": str, "points": (int, float), "builds_on": list, "uses_own": list, "forbidden": list,
    "hints": list, "time_limit": (int, float),
}
_FRAMEWORKS = ("numpy", "torch")


def _check_keys(table: dict, schema: dict, where: str, required: tuple[str, ...]) -> None:
    for key in table:
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise ManifestError(f"{where}.{key}: unknown key (known keys: {known})")
    for key in required:
        if key not in table:
            raise ManifestError(f"{where}.{key}: missing")
    for key, value in table.items():
        expected = schema[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
            raise ManifestError(f"{where}.{key}: must be {names}, got {type(value).__name__}")


def _strings(value: list, where: str) -> tuple[str, ...]:
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ManifestError(f"{where}[{i}]: must be a non-empty string")
    return tuple(value)


def parse_manifest(data: dict, root: Path = Path(".")) -> Course:
    """The course a manifest's data describes; a :class:`ManifestError` names the first key
    that is wrong."""
    head = _course_table(data)
    modules: list[Module] = []
    ids: set[str] = set()       # every exercise so far: what a later one may build on
    for index, raw in enumerate(data["modules"]):
        modules.append(_module(raw, f"modules[{index}]", modules, ids))
    names = [m.name for m in modules]
    if len(set(names)) != len(names):
        raise ManifestError("modules: a module name is listed twice")
    return Course(
        title=head["title"],
        version=head["version"],
        time_limit=float(head.get("time_limit", 30)),
        memory_limit_mb=int(head.get("memory_limit_mb", 3072)),
        default_lang=head.get("default_lang", "en"),
        modules=tuple(modules),
        root=root,
    )


def _course_table(data: dict) -> dict:
    if not isinstance(data.get("course"), dict):
        raise ManifestError("course: missing table [course]")
    for key in data:
        if key not in ("course", "modules"):
            raise ManifestError(f"{key}: unknown top-level key (known: course, modules)")
    _check_keys(data["course"], _COURSE_KEYS, "course", ("title", "version"))
    if not isinstance(data.get("modules"), list) or not data["modules"]:
        raise ManifestError("modules: at least one [[modules]] table is required")
    return data["course"]


def _named_table(raw: Any, keys: dict, where: str, required: tuple[str, ...], what: str) -> None:
    """``raw`` is a table with the ``required`` keys, known keys only, and a ``name`` that
    is a Python identifier (``what`` says what kind of name)."""
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: must be a table")
    _check_keys(raw, keys, where, required)
    if not raw["name"].isidentifier():
        raise ManifestError(f"{where}.name: {raw['name']!r} is not a {what}")


def _module(raw: Any, where: str, earlier: list[Module], ids: set[str]) -> Module:
    _named_table(raw, _MODULE_KEYS, where, ("name", "title", "framework", "exercises"), "Python module name")
    if raw["framework"] not in _FRAMEWORKS:
        raise ManifestError(f"{where}.framework: must be one of {', '.join(_FRAMEWORKS)}")
    kind = raw.get("kind", "exercises")
    if kind not in _KINDS:
        raise ManifestError(f"{where}.kind: must be one of {', '.join(_KINDS)}")
    assembles, try_with = _capstone_fields(raw, where, kind, earlier)
    forbidden = _strings(raw.get("forbidden", []), f"{where}.forbidden")
    exercises = []
    for index, ex in enumerate(raw["exercises"]):
        exercise = _exercise(ex, f"{where}.exercises[{index}]", raw["name"], kind, forbidden, ids)
        ids.add(exercise.id)
        exercises.append(exercise)
    if not exercises:
        raise ManifestError(f"{where}.exercises: a module needs at least one exercise")
    return Module(raw["name"], raw["title"], raw["framework"], tuple(exercises), kind, assembles, try_with)


def _capstone_fields(raw: dict, where: str, kind: str, earlier: list[Module]) -> tuple[tuple[str, ...], str]:
    """What a capstone assembles and the command that runs it; nothing for another module."""
    assembles = _strings(raw.get("assembles", []), f"{where}.assembles")
    try_with = raw.get("try_with", "")
    if kind == "capstone" and (not assembles or not try_with):
        raise ManifestError(f"{where}: a capstone names the modules it assembles (assembles) and the command "
                            "that runs them for the learner (try_with)")
    if kind != "capstone" and (assembles or try_with):
        raise ManifestError(f"{where}: only a capstone assembles modules (kind = \"capstone\")")
    names = [m.name for m in earlier if not m.is_capstone]
    for index, name in enumerate(assembles):
        if name not in names:
            raise ManifestError(f"{where}.assembles[{index}]: {name!r} is not a module that comes earlier "
                                "in the course")
    return assembles, try_with


def _exercise(ex: Any, where: str, module: str, kind: str, module_forbidden: tuple[str, ...],
              ids: set[str]) -> Exercise:
    _named_table(ex, _EXERCISE_KEYS, where, ("name", "title", "points", "hints"), "Python identifier")
    if ex["points"] <= 0:
        raise ManifestError(f"{where}.points: must be a positive number")
    hints = _strings(ex["hints"], f"{where}.hints")
    if len(hints) < 2:
        raise ManifestError(f"{where}.hints: give at least two levels of hints")
    builds_on = _strings(ex.get("builds_on", []), f"{where}.builds_on")
    uses_own = _strings(ex.get("uses_own", []), f"{where}.uses_own")
    if kind == "capstone" and builds_on:
        raise ManifestError(f"{where}.builds_on: a capstone is graded on the learner's own code only; "
                            "nothing can stand in for it")
    for key, listed in (("builds_on", builds_on), ("uses_own", uses_own)):
        for index, dep in enumerate(listed):
            if dep not in ids:
                raise ManifestError(f"{where}.{key}[{index}]: {dep!r} is not an exercise that comes earlier "
                                    "in the course")
    exercise = Exercise(
        module=module,
        name=ex["name"],
        points=float(ex["points"]),
        title=ex["title"],
        builds_on=builds_on,
        uses_own=uses_own,
        forbidden=module_forbidden + _strings(ex.get("forbidden", []), f"{where}.forbidden"),
        hints=hints,
        time_limit=float(ex["time_limit"]) if "time_limit" in ex else None,
        is_capstone=kind == "capstone",
    )
    if exercise.id in ids:
        raise ManifestError(f"{where}.name: exercise {exercise.id} is listed twice")
    return exercise


def find_course_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds a ``course.toml``."""
    for folder in [start, *start.parents]:
        if (folder / "course.toml").is_file():
            return folder
    return None


def load_manifest(path: Path) -> Course:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest here (is this a course folder?)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_manifest(data, root=path.parent)
    except ManifestError as exc:
        raise ManifestError(f"{path.name}: {exc}") from None
