"""Feedback a learner can be handed: Markdown (for ``results.json`` and ``feedback.md``) and a
self-contained HTML page (``feedback.html``).

Per exercise: the score, each hidden check by its title with what was called, returned and
expected when it failed, the reason that applies to the whole exercise (a forbidden call, a
module that does not import), and for a failed exercise the first level of its hints from
``course.toml``. Never the hidden checks' code: only their titles and the messages they raise.
"""

from __future__ import annotations

import html
import re

from grader.grading import ExerciseResult
from grader.manifest import Course

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])", re.MULTILINE)


def md_text(text: str) -> str:
    """``text`` shown as itself in Markdown: no emphasis, links, HTML or headings."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def md_code_block(text: str) -> str:
    """A fenced block holding ``text`` verbatim, whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _first_hint(course: Course | None, exercise_id: str) -> str | None:
    if course is None:
        return None
    try:
        hints = course.exercise(exercise_id).hints
    except KeyError:
        return None
    return hints[0] if hints else None


def _summary(result: ExerciseResult) -> str:
    done = sum(c.passed for c in result.checks)
    return f"{done}/{len(result.checks)} checks passed, {result.score:g}/{result.max_score:g} points"


def exercise_markdown(result: ExerciseResult, course: Course | None = None) -> str:
    """One exercise's feedback in Markdown (the ``output`` of its entry in ``results.json``)."""
    parts = [f"**{'Passed' if result.passed else 'Not passed'}**: {_summary(result)}"]
    if result.problem:
        parts.append(md_text(result.problem))
    for check in result.checks:
        item = f"- {'✓' if check.passed else '✗'} {md_text(check.title)}"
        if check.feedback:
            item += "\n\n" + "\n".join("  " + line if line else "" for line in md_code_block(check.feedback).splitlines())
        parts.append(item)
    if not result.passed:
        hint = _first_hint(course, result.id)
        if hint:
            parts.append(f"**Hint:** {md_text(hint)}")
        parts.append(f"More hints, one level at a time: `course hint {result.id}`")
    return "\n\n".join(parts)


def _totals(results: list[ExerciseResult]) -> tuple[float, float, int]:
    score = round(sum(r.score for r in results), 2)
    return score, sum(r.max_score for r in results), sum(r.passed for r in results)


def submission_markdown(name: str, results: list[ExerciseResult], notes: list[str],
                        course: Course | None = None) -> str:
    """``feedback.md``: a summary table, then every exercise in course order."""
    score, max_score, passed = _totals(results)
    lines = [f"# Feedback for {md_text(name)}", "",
             f"**{score:g}/{max_score:g} points**, {passed} of {len(results)} exercises passed.", ""]
    if notes:
        lines += [f"- {md_text(note)}" for note in notes] + [""]
    if results:
        lines += ["| exercise | | points |", "|---|---|---:|"]
        lines += [f"| {'✓' if r.passed else '✗'} {md_text(r.id)} | {md_text(r.title)} | "
                  f"{r.score:g}/{r.max_score:g} |" for r in results]
        lines.append("")
    for result in results:
        lines += [f"## {md_text(result.id)}: {md_text(result.title)}", "", exercise_markdown(result, course), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { padding: 0.2rem 0.8rem; border-bottom: 1px solid #ddd; text-align: left; }
td.points { text-align: right; font-variant-numeric: tabular-nums; }
section { border-top: 1px solid #ccc; margin-top: 1.5rem; }
.pass { color: #1a7f37; } .fail { color: #c62828; }
ul.checks { list-style: none; padding-left: 0.5rem; }
pre { background: #f5f5f7; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
.problem { background: #fff4e5; padding: 0.5rem; }
.hint { background: #eef5ff; padding: 0.5rem; }
code { background: #f0f0f0; padding: 0 0.2rem; }
""".strip()


def _mark(passed: bool) -> str:
    return '<span class="pass">✓</span>' if passed else '<span class="fail">✗</span>'


def _anchor(exercise_id: str) -> str:
    return "ex-" + re.sub(r"[^A-Za-z0-9_.-]", "-", exercise_id)


def submission_html(name: str, results: list[ExerciseResult], notes: list[str],
                    course: Course | None = None) -> str:
    """``feedback.html``: the same as ``feedback.md``, one page with no external assets."""
    e = html.escape
    score, max_score, passed = _totals(results)
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>Feedback for {e(name)}</title>", f"<style>\n{_CSS}\n</style>", "</head>", "<body>",
           f"<h1>Feedback for {e(name)}</h1>",
           f"<p><strong>{score:g}/{max_score:g} points</strong>, {passed} of {len(results)} exercises passed.</p>"]
    if notes:
        out.append("<ul>" + "".join(f"<li>{e(note)}</li>" for note in notes) + "</ul>")
    if results:
        out.append("<table>")
        out.append("<tr><th>exercise</th><th></th><th>points</th></tr>")
        for r in results:
            out.append(f'<tr><td>{_mark(r.passed)} <a href="#{_anchor(r.id)}">{e(r.id)}</a></td>'
                       f'<td>{e(r.title)}</td><td class="points">{r.score:g}/{r.max_score:g}</td></tr>')
        out.append("</table>")
    for r in results:
        out.append(f'<section id="{_anchor(r.id)}">')
        out.append(f"<h2>{_mark(r.passed)} {e(r.id)}: {e(r.title)}</h2>")
        out.append(f"<p>{e(_summary(r))}</p>")
        if r.problem:
            out.append(f'<p class="problem">{e(r.problem)}</p>')
        out.append('<ul class="checks">')
        for check in r.checks:
            item = f"<li>{_mark(check.passed)} {e(check.title)}"
            if check.feedback:
                item += f"<pre>{e(check.feedback)}</pre>"
            out.append(item + "</li>")
        out.append("</ul>")
        if not r.passed:
            hint = _first_hint(course, r.id)
            if hint:
                out.append(f'<p class="hint"><strong>Hint:</strong> {e(hint)}</p>')
            out.append(f"<p>More hints, one level at a time: <code>course hint {e(r.id)}</code></p>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
