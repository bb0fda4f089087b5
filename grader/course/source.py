"""Reading and rewriting course module source: solution regions and top-level definitions.

A solution file marks each piece the learner writes::

    def scale_rows(x, weights):
        \"\"\"...shapes, formula, what to return...\"\"\"
        # BEGIN SOLUTION
        scaled = x * weights[:, None]
        ...
        # END SOLUTION

(a made-up exercise: no line of a real solution may stand here, this file ships in the
student bundle). A region belongs to the exercise named by the top-level ``def``/``class``
around it (``toy.scale_rows``); an exercise may have several regions (e.g. a class's
``__init__`` and ``forward``). The stub keeps everything outside the regions and
replaces each region with a ``raise NotImplementedError`` that points at the hint.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")


class SourceError(ValueError):
    """A solution file's regions are malformed; the message names file and line."""


@dataclass(frozen=True)
class Region:
    exercise: str      # top-level name the region sits in
    begin: int         # 0-based index of the BEGIN line
    end: int           # 0-based index of the END line
    indent: str


def top_level_spans(source: str) -> dict[str, tuple[int, int]]:
    """Top-level function/class name -> (first line, last line), 0-based, decorators included."""
    tree = ast.parse(source)
    spans = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            spans[node.name] = (first, node.end_lineno - 1)
    return spans


def definition_spans(source: str) -> dict[str, tuple[int, int]]:
    """:func:`top_level_spans` with the indented comment lines that close a definition
    (``# END SOLUTION``, a learner's last note), which ``ast`` leaves outside it."""
    lines = source.splitlines()
    return {name: (lo, _closing_comments_end(lines, hi)) for name, (lo, hi) in top_level_spans(source).items()}


def _closing_comments_end(lines: list[str], last: int) -> int:
    """The last line of a definition that ``ast`` ends at ``last``: the indented lines after
    it belong to it (after a top-level definition, only a comment can be indented)."""
    end = last
    while end + 1 < len(lines) and (not lines[end + 1].strip() or lines[end + 1][:1] in (" ", "\t")):
        end += 1
    while end > last and not lines[end].strip():
        end -= 1
    return end


def module_docstring_lines(source: str) -> int:
    """The number of lines the module docstring takes (0 if none)."""
    body = ast.parse(source).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].end_lineno
    return 0


def find_regions(source: str, filename: str = "<source>") -> list[Region]:
    lines = source.splitlines()
    spans = top_level_spans(source)
    regions: list[Region] = []
    open_at: int | None = None
    indent = ""
    for index, line in enumerate(lines):
        begin = BEGIN.match(line)
        if begin:
            if open_at is not None:
                raise SourceError(f"{filename}:{index + 1}: BEGIN SOLUTION inside another region (opened at line {open_at + 1})")
            open_at, indent = index, begin.group("indent")
        elif END.match(line):
            if open_at is None:
                raise SourceError(f"{filename}:{index + 1}: END SOLUTION without BEGIN SOLUTION")
            owner = [name for name, (lo, hi) in spans.items() if lo <= open_at <= hi]
            if not owner:
                raise SourceError(f"{filename}:{open_at + 1}: a solution region must sit inside a top-level def or class")
            if not indent:
                raise SourceError(f"{filename}:{open_at + 1}: a solution region must be indented inside its def")
            regions.append(Region(owner[0], open_at, index, indent))
            open_at = None
    if open_at is not None:
        raise SourceError(f"{filename}:{open_at + 1}: BEGIN SOLUTION is never closed")
    return regions


def stub_message(exercise_id: str) -> str:
    """The message of the error a stub raises (``grader.checks.stub_exercise`` reads it back)."""
    return f"{exercise_id} is not written yet; `course hint {exercise_id}` gives a hint"


def stub_line(indent: str, exercise_id: str) -> str:
    return f'{indent}raise NotImplementedError("{stub_message(exercise_id)}")'


def make_stubs(source: str, module: str, keep: frozenset[str] = frozenset(), filename: str = "<source>") -> str:
    """The learner's version of a solution file.

    Regions of top-level names in ``keep`` stay filled in (without their markers);
    this is how a worker receives exactly the reference pieces an exercise builds on.
    """
    lines = source.splitlines()
    regions = find_regions(source, filename)
    out: list[str] = []
    cursor = 0
    for region in regions:
        out.extend(lines[cursor:region.begin])
        if region.exercise in keep:
            out.extend(lines[region.begin + 1:region.end])
        else:
            out.append(stub_line(region.indent, f"{module}.{region.exercise}"))
        cursor = region.end + 1
    out.extend(lines[cursor:])
    return "\n".join(out) + "\n"


def replace_definition(source: str, name: str, new_definition: str) -> str:
    """Swap the top-level def/class ``name`` for ``new_definition`` (source text)."""
    spans = top_level_spans(source)
    if name not in spans:
        raise KeyError(f"no top-level definition {name!r}")
    lo, hi = spans[name]
    lines = source.splitlines()
    body = new_definition.strip("\n").splitlines()
    return "\n".join(lines[:lo] + body + lines[hi + 1:]) + "\n"


def definition_source(source: str, name: str, closing_comments: bool = False) -> str | None:
    """The text of top-level def/class ``name`` as ``ast`` sees it (what grading compares
    and replaces), or with ``closing_comments`` as a reader does (:func:`definition_spans`:
    a notebook's cell); None if there is no such definition."""
    try:
        spans = definition_spans(source) if closing_comments else top_level_spans(source)
    except SyntaxError:
        return None
    if name not in spans:
        return None
    lo, hi = spans[name]
    return "\n".join(source.splitlines()[lo:hi + 1])
