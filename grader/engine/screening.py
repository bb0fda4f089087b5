"""Screening a worker's copy of a submission before any of it runs.

Every module of the copy is scanned for the constructs no exercise needs
(:func:`grader.engine.forbidden.refused_constructs`: eval, frames, private library namespaces,
patching a module ...). A refused construct costs the definition that holds it: that
definition is replaced, in the copy, by its stub (or, for a helper of the learner's own,
by a function that raises), so it never runs, whichever exercise is graded. A refused
construct outside every definition costs its whole module, which becomes its stub. The
exercise whose own definition was refused is not run at all: :class:`Screening` says so.
"""

from __future__ import annotations

import ast
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.source import definition_source, replace_definition
from grader.engine.forbidden import Refusal, refused_constructs


@dataclass
class Screening:
    """What was refused in a worker's copy, by module (file stem)."""

    refused: dict[str, list[Refusal]] = field(default_factory=dict)

    def against(self, module: str, name: str) -> list[Refusal]:
        """The refusals that cost exercise ``module.name``: in its definition, or at its module's level."""
        return [r for r in self.refused.get(module, []) if r.definition in (name, None)]


class RefusalCache:
    """Refusals by source text, shared by every exercise of a grading run (a module is
    scanned once per distinct content, not once per exercise)."""

    def __init__(self, course_modules: list[str]):
        self.course_modules = frozenset(course_modules)
        self._found: dict[str, list[Refusal]] = {}
        self._lock = threading.Lock()

    def __call__(self, source: str) -> list[Refusal]:
        key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            if key not in self._found:
                self._found[key] = refused_constructs(source, self.course_modules)
            return self._found[key]


def screen(folder: Path, stubs: dict[str, str], refusals: RefusalCache) -> Screening:
    """Scan every module in ``folder`` (a worker's private copy) and neutralise, in place,
    what is refused."""
    screening = Screening()
    for path in sorted(folder.glob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace")
        found = refusals(source)
        if not found:
            continue
        screening.refused[path.stem] = found
        path.write_text(_neutralised(source, found, stubs.get(path.stem)), encoding="utf-8")
    return screening


def _neutralised(source: str, found: list[Refusal], stub: str | None) -> str:
    names = {r.definition for r in found}
    try:
        kinds = _top_level_kinds(source)
    except (SyntaxError, ValueError, RecursionError):
        kinds = {}
    if None in names or any(len(kinds.get(n, [])) != 1 for n in names):  # redefined: no one definition to cut
        return stub if stub is not None else ""
    for name in sorted(names):
        replacement = definition_source(stub, name) if stub is not None else None
        source = replace_definition(source, name, replacement or _refusing_definition(name, kinds[name][0]))
    return source


def _top_level_kinds(source: str) -> dict[str, list[bool]]:
    """Each top-level definition's name, with one entry per definition: is it a class?"""
    kinds: dict[str, list[bool]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kinds.setdefault(node.name, []).append(isinstance(node, ast.ClassDef))
    return kinds


def _refusing_definition(name: str, is_class: bool) -> str:
    """A stand-in for a refused helper of the learner's own: it raises when used."""
    message = f"{name} was not run: it uses something a submission may not (see the feedback)"
    if is_class:
        return f"class {name}:\n    def __init__(self, *args, **kwargs):\n        raise RuntimeError({message!r})\n"
    return f"def {name}(*args, **kwargs):\n    raise RuntimeError({message!r})\n"
