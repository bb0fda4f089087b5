"""`course dev check`: every cheap rule a course must keep, checked in seconds.

The full test run (`make test`) grades every variant and trains models; it takes many
minutes. The rules here need no worker and run no course code: they read files, the
manifest and the sources' syntax trees. Each broken rule becomes a :class:`Problem` that
names the file to edit and what to put there.

The rules are the ones the slow tests would otherwise find late:
tests/test_manifest.py (checks and hints), tests/test_variants.py (variants),
tests/test_i18n.py (translations), tests/test_apidoc.py and `course sync --check`
(generated files), tests/test_release.py (check names).
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.course.i18n import LANGS
from grader.course.manifest import Course, Exercise
from grader.course.sync import find_drift
from grader.course.translations import stale, translation_file

# What tests/test_manifest.py and tests/test_variants.py demand of every exercise.
MIN_HIDDEN_CHECKS = 3
MIN_VISIBLE_CHECKS = 1
MIN_WRONG_VARIANTS = 3
MIN_RIGHT_VARIANTS = 1

LANGUAGE_NAMES = {"ko": "Korean"}
TRANSLATED_LANGS = tuple(lang for lang in LANGS if lang != "en")


@dataclass(frozen=True)
class Problem:
    """One broken rule: the file to edit (relative to the course) and what to do there."""

    path: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.fix}"


@dataclass(frozen=True)
class Rule:
    name: str
    demands: str                                  # said when the rule holds
    find: Callable[[Course], list[Problem]]


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    problems: list[Problem]


# ---------------------------------------------------------------- static reads

@dataclass(frozen=True)
class CheckFunction:
    exercise_id: str
    name: str
    path: Path
    titled: bool           # has a docstring: the title the learner sees


def read_checks(folder: Path) -> list[CheckFunction]:
    """Every ``@check("module.exercise")`` function of ``folder/test_*.py``, read from the
    syntax tree: importing a suite would import torch, which costs seconds."""
    found = []
    for path in sorted(folder.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call) and _called_name(decorator) == "check" and decorator.args
                        and isinstance(decorator.args[0], ast.Constant) and isinstance(decorator.args[0].value, str)):
                    found.append(CheckFunction(decorator.args[0].value, node.name, path,
                                               bool((ast.get_docstring(node) or "").strip())))
    return found


def _called_name(call: ast.Call) -> str | None:
    return getattr(call.func, "id", getattr(call.func, "attr", None))


def read_variants(path: Path) -> dict[str, dict[str, set[str]]]:
    """``{"WRONG": {exercise_id: {variant names}}, "RIGHT": {...}}`` of one
    tests/variants file, read from its syntax tree, never imported.

    It follows what the variant files do: dict displays (``**other`` too), names of dicts
    made earlier in the file, ``NAME["id"] = {...}`` and ``NAME.update({...})``. A
    variant's source is whatever expression; only the keys count."""
    names: dict[str, dict] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                _assign(target, _value(node.value, names), names)
        elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and node.value.args
              and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "update"):
            updated = _lookup(node.value.func.value, names)
            added = _value(node.value.args[0], names)
            if isinstance(updated, dict) and isinstance(added, dict):
                updated.update(added)
    return {kind: {exercise_id: set(named) if isinstance(named, dict) else set()
                   for exercise_id, named in (names.get(kind) or {}).items()}
            for kind in ("WRONG", "RIGHT")}


def _value(node: ast.expr, names: dict) -> dict | None:
    """A dict display as nested dicts (a name stands for the very dict it names, as in
    Python, so a later update shows through); None for anything else."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if not isinstance(node, ast.Dict):
        return None
    built: dict = {}
    for key, value in zip(node.keys, node.values):
        if key is None:                   # {**other, ...}
            built.update(_value(value, names) or {})
        elif isinstance(key, ast.Constant) and isinstance(key.value, str):
            built[key.value] = _value(value, names)
    return built


def _lookup(node: ast.expr, names: dict):
    """What ``NAME`` or ``NAME["a"]["b"]`` holds, when the static read knows it."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        holder = _lookup(node.value, names)
        return holder.get(node.slice.value) if isinstance(holder, dict) else None
    return None


def _assign(target: ast.expr, value: dict | None, names: dict) -> None:
    if isinstance(target, ast.Name):
        names[target.id] = value
    elif isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        holder = _lookup(target.value, names)
        if isinstance(holder, dict):
            holder[target.slice.value] = value


def _relative(course: Course, path: Path) -> str:
    try:
        return str(Path(path).relative_to(course.root))
    except ValueError:
        return str(path)


def _suite_file(kind: str, exercise: Exercise) -> str:
    return f"suites/{kind}/test_{exercise.module}.py"


def _variants_file(exercise: Exercise) -> str:
    return f"tests/variants/{exercise.module}.py"


def _variant_files(course: Course) -> list[Path]:
    folder = course.root / "tests" / "variants"
    return sorted(p for p in folder.glob("*.py") if p.name != "__init__.py") if folder.is_dir() else []


def _language(lang: str) -> str:
    return LANGUAGE_NAMES.get(lang, lang)


# ---------------------------------------------------------------- the rules

def find_missing_solutions(course: Course) -> list[Problem]:
    return [Problem(f"solutions/{module}.py",
                    f"add the reference module {module!r} (course.toml lists it): a top-level def or "
                    "class per exercise, its answer between `# BEGIN SOLUTION` and `# END SOLUTION`")
            for module in course.module_names if not (course.root / "solutions" / f"{module}.py").is_file()]


def find_stale_generated_files(course: Course) -> list[Problem]:
    """What `course sync --check` finds, said as what to edit instead."""
    try:
        drift = find_drift(course)
    except ValueError as exc:             # malformed regions, or regions the manifest does not list
        where, _, reason = str(exc).replace(f"{course.root}/", "").partition(": ")
        return [Problem(where, f"{reason}; each exercise of course.toml has one `# BEGIN SOLUTION` ... "
                               "`# END SOLUTION` region inside its def or class")]
    problems = []
    for item in drift:
        where = _relative(course, item.path)
        if item.reason.startswith("has no solution"):
            fix = (f"{item.reason}; add solutions/{item.path.name} and its module to course.toml, "
                   "or delete the stub")
        else:
            fix = (f"{item.reason}; edit solutions/ (never the generated file), "
                   "then run `course sync`")
        problems.append(Problem(where, fix))
    return problems


def _checks_problems(course: Course, kind: str, least: int) -> list[Problem]:
    checks = read_checks(course.root / "suites" / kind)
    problems = []
    for exercise in course.exercises:
        own = [c for c in checks if c.exercise_id == exercise.id]
        if len(own) < least:
            problems.append(Problem(
                _suite_file(kind, exercise),
                f"add {least - len(own)} more {kind} check(s) for {exercise.id} (has {len(own)}, needs "
                f"{least}): a function decorated `@check(\"{exercise.id}\")` whose docstring is its title"))
        problems += [Problem(_relative(course, c.path), f"give the check {c.name} a docstring: the title the "
                                                        "learner sees") for c in own if not c.titled]
    return problems


def find_missing_hidden_checks(course: Course) -> list[Problem]:
    return _checks_problems(course, "hidden", MIN_HIDDEN_CHECKS)


def find_missing_visible_checks(course: Course) -> list[Problem]:
    return _checks_problems(course, "visible", MIN_VISIBLE_CHECKS)


def find_weak_hints(course: Course) -> list[Problem]:
    """course.toml's loader already demands two levels; tests/test_manifest.py adds these."""
    problems = []
    for exercise in course.exercises:
        if any("TODO" in hint for hint in exercise.hints):
            problems.append(Problem("course.toml", f"write the hint of {exercise.id} that still says TODO"))
        if len(exercise.hints[-1]) <= len(exercise.hints[0]):
            problems.append(Problem("course.toml", f"make the last hint of {exercise.id} say more than its "
                                                   "first: each level is more specific than the one before"))
    return problems


def _translation_problems(course: Course, lang: str) -> list[Problem]:
    problems = []
    language = _language(lang)
    for module in course.modules:
        path = translation_file(course, lang, module.name)
        where = _relative(course, path)
        if not path.is_file():
            problems.append(Problem(where, f"add the {language} texts of module {module.name}: title, intro "
                                           "and an [exercises.NAME] table (title, instructions, hints) for "
                                           "each exercise; copy a neighbouring file's layout"))
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(Problem(where, f"make it valid TOML ({exc})"))
            continue
        problems += [Problem(where, f"add the {language} {key} of module {module.name}")
                     for key in ("title", "intro") if not str(data.get(key, "")).strip()]
        tables = data.get("exercises", {}) if isinstance(data.get("exercises"), dict) else {}
        for exercise in module.exercises:
            table = tables.get(exercise.name)
            if not isinstance(table, dict):
                problems.append(Problem(where, f"add an [exercises.{exercise.name}] table with the {language} "
                                               f"title, instructions and {len(exercise.hints)} hints of "
                                               f"{exercise.id}"))
                continue
            problems += [Problem(where, f"add the {language} {key} of {exercise.id} to [exercises.{exercise.name}]")
                         for key in ("title", "instructions") if not str(table.get(key, "")).strip()]
            hints = table.get("hints") if isinstance(table.get("hints"), list) else []
            given = [h for h in hints if isinstance(h, str) and h.strip()]
            if len(hints) != len(exercise.hints) or len(given) != len(hints):
                problems.append(Problem(where, f"give [exercises.{exercise.name}] hints {len(exercise.hints)} "
                                               f"non-empty {language} levels, one per English hint of "
                                               f"{exercise.id} in course.toml (it has {len(given)})"))
    return problems


def _capstone_english_problems(course: Course) -> list[Problem]:
    """A capstone has no file to hold its English: i18n/en/<module>.toml does."""
    problems = []
    for module in (m for m in course.modules if m.is_capstone):
        path = translation_file(course, "en", module.name)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(Problem(_relative(course, path), f"make it valid TOML ({exc})"))
            continue
        if not str(data.get("intro", "")).strip():
            problems.append(Problem(_relative(course, path), f"add the English intro of capstone {module.name}"))
        tables = data.get("exercises", {}) if isinstance(data.get("exercises"), dict) else {}
        for exercise in module.exercises:
            table = tables.get(exercise.name, {})
            if not (isinstance(table, dict) and str(table.get("instructions", "")).strip()):
                problems.append(Problem(_relative(course, path), f"add [exercises.{exercise.name}] "
                                                                 f"instructions, the English of {exercise.id}"))
    return problems


def find_missing_translations(course: Course) -> list[Problem]:
    problems = _capstone_english_problems(course)
    for lang in TRANSLATED_LANGS:
        problems += _translation_problems(course, lang)
    return problems


def find_stale_translations(course: Course) -> list[Problem]:
    problems = []
    for lang in TRANSLATED_LANGS:
        for module in course.modules:
            keys = stale(course, lang, module.name)
            if keys:
                problems.append(Problem(
                    _relative(course, translation_file(course, lang, module.name)),
                    f"the English of {', '.join(keys)} changed since it was translated: update the "
                    f"{_language(lang)}, then run `python -m grader.course.translations stamp {lang} {module.name}`"))
    return problems


def find_missing_variants(course: Course) -> list[Problem]:
    counts = {"WRONG": {}, "RIGHT": {}}
    for path in _variant_files(course):
        for kind, by_exercise in read_variants(path).items():
            for exercise_id, names in by_exercise.items():
                counts[kind].setdefault(exercise_id, set()).update(names)
    meaning = {"WRONG": "a mistake learners make, which must lose points",
               "RIGHT": "a correct version written differently, which must keep full marks"}
    problems = []
    for exercise in course.exercises:
        for kind, least in (("WRONG", MIN_WRONG_VARIANTS), ("RIGHT", MIN_RIGHT_VARIANTS)):
            have = len(counts[kind].get(exercise.id, ()))
            if have < least:
                problems.append(Problem(
                    _variants_file(exercise),
                    f"add {least - have} more {kind} variant(s) of {exercise.id} (has {have}, needs {least}): "
                    f"{kind}[\"{exercise.id}\"][\"a_name\"] = the source of the whole definition, {meaning[kind]}"))
    return problems


def find_unknown_names(course: Course) -> list[Problem]:
    """Names that point at nothing: they would be skipped silently, not fail."""
    declared = {exercise.id for exercise in course.exercises}
    modules = {module.name for module in course.modules}
    problems = []
    by_kind = {kind: read_checks(course.root / "suites" / kind) for kind in ("hidden", "visible")}
    for checks in by_kind.values():
        problems += [Problem(_relative(course, c.path), f"{c.name} checks {c.exercise_id!r}, which course.toml does "
                                                        "not have: fix the id in @check(...) or add the exercise")
                     for c in checks if c.exercise_id not in declared]
    hidden_names = {c.name for c in by_kind["hidden"]}
    problems += [Problem(_relative(course, c.path), f"rename the visible check {c.name}: a hidden check has that "
                                                    "name, and the release must not show it")
                 for c in by_kind["visible"] if c.name in hidden_names]
    for path in _variant_files(course):
        if path.stem not in modules:
            problems.append(Problem(_relative(course, path), "tests/test_variants.py reads only files named after "
                                                             "a module of course.toml: rename or merge this one"))
        for kind, by_exercise in read_variants(path).items():
            problems += [Problem(_relative(course, path), f"{kind}[{exercise_id!r}]: course.toml has no such "
                                                          "exercise; fix the id")
                         for exercise_id in by_exercise if exercise_id not in declared]
    for lang in TRANSLATED_LANGS:
        for module in course.modules:
            path = translation_file(course, lang, module.name)
            try:
                tables = tomllib.loads(path.read_text(encoding="utf-8")).get("exercises", {}) if path.is_file() else {}
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                continue                      # said by the translations rule
            known = {exercise.name for exercise in module.exercises}
            problems += [Problem(_relative(course, path), f"[exercises.{name}]: module {module.name} has no such "
                                                          "exercise in course.toml; rename or remove the table")
                         for name in (tables if isinstance(tables, dict) else {}) if name not in known]
    return problems


MANIFEST = Rule("manifest", "course.toml loads and follows its schema", lambda course: [])

RULES = (
    MANIFEST,
    Rule("solutions", "solutions/ has a file per module", find_missing_solutions),
    Rule("generated", "exercises/ and docs/api.md match solutions/", find_stale_generated_files),
    Rule("hidden checks", f"at least {MIN_HIDDEN_CHECKS} titled hidden checks per exercise",
         find_missing_hidden_checks),
    Rule("visible checks", f"at least {MIN_VISIBLE_CHECKS} titled visible check per exercise",
         find_missing_visible_checks),
    Rule("hints", "hints grow more specific, none says TODO", find_weak_hints),
    Rule("translations", f"every text in {', '.join(TRANSLATED_LANGS)}; capstones' English",
         find_missing_translations),
    Rule("translations fresh", "translated from today's English", find_stale_translations),
    Rule("variants", f"at least {MIN_WRONG_VARIANTS} WRONG and {MIN_RIGHT_VARIANTS} RIGHT per exercise",
         find_missing_variants),
    Rule("names", "every id in suites/, variants, i18n/ exists", find_unknown_names),
)


def check_course(course: Course) -> list[Outcome]:
    """Every rule on ``course``, in order; a rule that cannot even read its files is a
    problem of that rule, not a crash of the whole check."""
    outcomes = []
    for rule in RULES:
        try:
            problems = rule.find(course)
        except (SyntaxError, OSError, UnicodeDecodeError) as exc:
            where = getattr(exc, "filename", None) or "course"
            problems = [Problem(_relative(course, Path(where)), f"could not be read: {exc}")]
        outcomes.append(Outcome(rule, problems))
    return outcomes


def manifest_failed(error: str) -> list[Outcome]:
    """The outcome when course.toml does not load: nothing else can be checked."""
    return [Outcome(MANIFEST, [Problem("course.toml", f"{error}; the comments at its top list every key")])]
