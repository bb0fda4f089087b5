"""Jupyter notebooks as the course writes them: Markdown from docstrings, cells, the file.

Two commands write notebooks: `course notebook` (:mod:`grader.learner.notebook`) and
`course nbgrader` (:mod:`grader.instructor.nbexport`). They decide which cells a notebook
has; this module turns a docstring into Markdown that shows what the docstring shows,
makes the cells and the notebook (nbformat 4, validated, for the python3 kernel) and
writes its file as Jupyter does. nbformat is imported when a notebook is made: its
validator takes most of a second to import, which the notebook's kernel, reading
docstrings, need not pay.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

# ---------------------------------------------------------------- docstrings as Markdown

_LIST_MARKER = r"^ {0,3}(?:[-*+]|\d+[.)])"
_LIST_ITEM_TEXT = re.compile(_LIST_MARKER + r"\s+(?=\S)")   # a list item's marker, up to its text
_SETEXT = re.compile(r"^ {0,3}(-+|=+)\s*$")
# In prose, one of: a code span (closed by a run of backticks as long as the one that opened
# it, maybe on a later line of the paragraph), a list item's marker, or a character Markdown
# would read as emphasis, a link, HTML, a table, a heading, a quote, strikethrough or code
# (and Jupyter $...$ as math). A backslash before any ASCII punctuation is valid CommonMark,
# so escaping one that meant nothing changes nothing.
_PROSE_TOKEN = re.compile(r"(?P<code>(?<!`)(`+)(?!`).+?(?<!`)\2(?!`))"
                          rf"|(?P<marker>{_LIST_MARKER}(?=\s))"
                          r"|(?P<special>[\\`*_\[\]<>|$#~])", re.MULTILINE | re.DOTALL)


def escape_markdown(text: str) -> str:
    """Prose (one paragraph or list item) with what Markdown would read as formatting
    escaped: ``__init__`` stays ``__init__``, ``<pad>`` is no HTML tag, ``$x$`` is no formula.
    Code spans in backticks and list markers are kept: they mean the same in docstrings."""
    return _PROSE_TOKEN.sub(lambda token: "\\" + token.group() if token["special"] else token.group(), text)


def docstring_markdown(text: str) -> str:
    """A docstring as Markdown that shows what the docstring shows: paragraphs and lists
    stay prose (escaped); what is laid out by indentation (a formula under a line of prose
    or under a step of a list, a table, an argument list) is kept line for line, in a
    code block (fenced: Jupyter reads no ``$`` there as math)."""
    out: list[str] = []
    for kind, lines in _segments(text.expandtabs(4).splitlines()):
        if kind == "code":
            margin = min(len(line) - len(line.lstrip(" ")) for line in lines)
            out += ["", "```", *(line[margin:] for line in lines), "```", ""]
        else:
            out += ["", escape_markdown("\n".join(lines))]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _segments(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The docstring's lines in runs: "prose" (a paragraph at the margin, with a heading's
    underline), "list" (items whose further lines are indented to their text) and "code"
    (laid out: indented off the margin, or a list with a line indented past its text,
    which makes the whole list laid out). A blank line ends a run."""
    segments: list[list] = []            # [kind, lines, text column of the current list item]
    for raw in lines:
        indent = len(raw) - len(raw.lstrip(" "))
        current = segments[-1] if segments else None
        kind = current[0] if current else None
        item = _LIST_ITEM_TEXT.match(raw)
        if not raw.strip():
            segments.append(["blank", [], 0])
        elif kind == "code" and indent > 0:
            current[1].append(raw)
        elif item:
            if kind == "list":
                current[1].append(raw)
                current[2] = item.end()
            else:
                segments.append(["list", [raw], item.end()])
        elif kind == "list" and indent > 0:
            current[1].append(raw)
            if indent > current[2] + 1:      # a formula under a step: keep the whole list's layout
                current[0] = "code"
        elif indent > 0:
            if kind == "code":
                current[1].append(raw)
            else:
                segments.append(["code", [raw], 0])
        elif kind == "prose":            # the paragraph goes on (or is underlined: a heading)
            current[1].append(raw)
        else:
            segments.append(["prose", [raw], 0])
    return [(kind, lines) for kind, lines, _ in segments if kind != "blank"]


# ---------------------------------------------------------------- cells and the notebook

def markdown_cell(source: str, cell_id: str | None = None, metadata: dict | None = None) -> NotebookNode:
    """A Markdown cell; without ``cell_id`` nbformat draws a random one."""
    from nbformat import v4

    return v4.new_markdown_cell(source, **_fields(cell_id, metadata))


def code_cell(source: str, cell_id: str | None = None, metadata: dict | None = None) -> NotebookNode:
    """A code cell that has not run; without ``cell_id`` nbformat draws a random one."""
    from nbformat import v4

    return v4.new_code_cell(source, **_fields(cell_id, metadata))


def _fields(cell_id: str | None, metadata: dict | None) -> dict:
    import nbformat

    fields = {"metadata": nbformat.from_dict(metadata or {})}
    if cell_id is not None:
        fields["id"] = cell_id
    return fields


def make_notebook(cells: list[NotebookNode]) -> NotebookNode:
    """A notebook of ``cells`` for the python3 kernel."""
    from nbformat import v4

    return v4.new_notebook(cells=list(cells),
                           metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})


def write_notebook(path: Path, notebook: NotebookNode) -> Path:
    """Write ``notebook`` to ``path`` (its folder made if need be) as Jupyter saves one."""
    import nbformat

    path = Path(path)
    nbformat.validate(notebook)          # nbformat.write only logs an invalid notebook, and writes it
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path
