"""Feedback a learner can be handed: Markdown (for ``results.json`` and ``feedback.md``) and a
self-contained HTML page (``feedback.html``).

Per exercise: the score, each hidden check by its title with what was called, returned and
expected when it failed, the reason that applies to the whole exercise (a forbidden call, a
module that does not import), and for a failed exercise whose own code ran the first level of its hints from
``course.toml``. Never the hidden checks' code: only their titles and the messages they raise.

Text that comes from a submission (its notes, a check's message, an exercise's problem) is
*learner text*: the learner's code chose some of it. Before it is stored or written it is made
valid UTF-8, bounded (per check, per exercise and per submission, with a visible marker where
it was cut), and any line of a reference solution in it is withheld (:class:`SolutionLines`).
"""

from __future__ import annotations

import dataclasses
import html
import re

from grader.checks import NOT_WRITTEN
from grader.course.i18n import counted
from grader.course.manifest import Course
from grader.engine.results import ExerciseResult, ResultView, Status, result_view

CHECK_LIMIT = 2_000           # characters of learner text per check (and per note)
EXERCISE_LIMIT = 10_000       # per exercise: its problem and every check's message
SUBMISSION_LIMIT = 100_000    # per submission: its notes and every exercise
WITHHELD = "(a line of the reference solution was withheld)"
_SURROGATES = re.compile("[\ud800-\udfff]")
_CUT_MARK = re.compile(r" … \((\d+) more characters? cut\)$")


# ---------------------------------------------------------------- learner text

def clean_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (from undecodable bytes or learner strings)
    become U+FFFD. Every writer of files or terminal output passes text through this."""
    return _SURROGATES.sub("\ufffd", text)


def _cut_marker(count: int) -> str:
    return f" … ({count} more character{'' if count == 1 else 's'} cut)"


def _split_marker(text: str) -> tuple[str, int]:
    """``text`` without a marker left by an earlier cut, and how much that cut dropped
    (so cutting again counts from the original text)."""
    if not text.endswith(" cut)"):
        return text, 0
    found = _CUT_MARK.search(text, max(0, len(text) - 60))
    return (text[:found.start()], int(found.group(1))) if found else (text, 0)


class SolutionLines:
    """The lines of the course's solution regions, to keep out of feedback.

    They come from :func:`grader.instructor.release.secret_lines`, the scan that keeps them out of the
    student release (with its exemptions: lines the stubs show anyway, bare syntax). A line of
    feedback is withheld when it holds one of them, or its code without the comment,
    compared without whitespace so that re-spacing does not hide it, or when it was cut
    short just inside one."""

    MIN_PREFIX = 8          # shorter fragments of a solution line are too common to withhold

    def __init__(self, lines):
        forms = {_squeeze(line) for line in lines}
        forms |= {_squeeze(line.split(" #")[0]) for line in lines if " #" in line}
        self.lines = sorted(form for form in forms if len(form) >= self.MIN_PREFIX)

    @classmethod
    def of(cls, course: Course | None) -> "SolutionLines":
        if course is None:
            return cls(())
        from grader.instructor.release import secret_lines

        return cls(secret_lines(course))

    def within(self, line: str) -> bool:
        squeezed = _squeeze(line)
        return any(secret in squeezed for secret in self.lines)

    def begun(self, line: str) -> bool:
        """Whether ``line`` (cut short) ends inside one of the lines."""
        squeezed = _squeeze(line)
        for secret in self.lines:
            for size in range(len(secret) - 1, self.MIN_PREFIX - 1, -1):
                if squeezed.endswith(secret[:size]):
                    return True
        return False

    def withhold(self, text: str, cut_short: bool = False) -> str:
        """``text`` with each line that holds a solution line replaced by :data:`WITHHELD`;
        with ``cut_short``, the last line was cut and is also withheld if it ends in one."""
        if not self.lines:
            return text
        lines = text.split("\n")
        for index, line in enumerate(lines):
            last = cut_short and index == len(lines) - 1
            if self.within(line) or (last and self.begun(line)):
                lines[index] = WITHHELD
        return "\n".join(lines)


def _squeeze(text: str) -> str:
    return "".join(text.split())


class Budget:
    """Characters of learner text still allowed; each piece also has a limit of its own."""

    def __init__(self, limit: int, solution_lines: SolutionLines):
        self.left = limit
        self.solution_lines = solution_lines

    def take(self, text: str, limit: int = CHECK_LIMIT) -> str:
        """``text`` made valid, cut to what is allowed (with a marker saying how much was
        cut), with solution lines withheld; what it shows is spent."""
        if not text:
            return text
        body, earlier = _split_marker(text)
        allowed = max(0, min(limit, self.left))
        shown = body[:allowed]
        self.left -= len(shown)
        dropped = len(body) - len(shown) + earlier
        shown = self.solution_lines.withhold(clean_text(shown), cut_short=len(shown) < len(body))
        return shown + _cut_marker(dropped) if dropped else shown


def bounded_exercise(result: ExerciseResult, budget: Budget) -> ExerciseResult:
    """A copy of ``result`` whose learner text fits one exercise's share of ``budget``."""
    own = Budget(min(EXERCISE_LIMIT, budget.left), budget.solution_lines)
    problem = own.take(result.problem)
    checks = [dataclasses.replace(check, feedback=own.take(check.feedback)) for check in result.checks]
    budget.left -= min(EXERCISE_LIMIT, budget.left) - own.left
    return dataclasses.replace(result, problem=problem, checks=checks)


def bounded_notes(notes: list[str], budget: Budget) -> list[str]:
    """The notes of a submission, each and all together bounded by ``budget``; once it is
    spent, one last note says how many more there were."""
    kept = []
    for index, note in enumerate(notes):
        if budget.left <= 0:
            more = len(notes) - index
            kept.append(f"… ({more} more note{'' if more == 1 else 's'} cut)")
            break
        kept.append(budget.take(note))
    return kept


def bounded_submission(results: list[ExerciseResult], notes: list[str],
                       solution_lines: SolutionLines) -> tuple[list[ExerciseResult], list[str]]:
    """A submission's notes and results, bounded as a whole (and each exercise and check)."""
    budget = Budget(SUBMISSION_LIMIT, solution_lines)
    notes = bounded_notes(notes, budget)
    return [bounded_exercise(result, budget) for result in results], notes


# ---------------------------------------------------------------- Markdown

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


def exercise_markdown(result: ExerciseResult, course: Course | None = None) -> str:
    """One exercise's feedback in Markdown (the ``output`` of its entry in ``results.json``):
    its view (:func:`grader.engine.results.result_view`), with the first hint from ``course``."""
    view = result_view(result)
    headline = f"**{'Passed' if view.status is Status.PASSED else 'Not passed'}**: {view.summary()}"
    if view.status is Status.NOT_WRITTEN:
        return headline
    parts = [headline]
    if view.problem:
        parts.append(md_code_block(view.problem) if view.problem_is_excerpt else md_text(view.problem))
    if view.stand_in_note:
        parts.append(md_text(view.stand_in_note))
    for check in view.checks or ():
        item = f"- {'✓' if check.passed else '✗'} {md_text(check.title)}"
        if check.feedback:
            item += "\n\n" + "\n".join("  " + line if line else "" for line in md_code_block(check.feedback).splitlines())
        parts.append(item)
    if view.hints_apply:
        hint = _first_hint(course, view.exercise_id)
        if hint:
            parts.append(f"**Hint:** {md_text(hint)}")
        parts.append(f"More hints, one level at a time: `course hint {view.exercise_id}`")
    return "\n\n".join(parts)


def _said_once(results: list[ExerciseResult]) -> list[ExerciseResult]:
    """``results`` with a file's import error shown in full once: the next exercises it
    sank point back to the first, in a page that holds them all."""
    first: dict[str, str] = {}
    shown = []
    for result in results:
        if result.failed_file and result.problem in first:
            head = result.problem.split("\n", 1)[0].rstrip(":")
            result = dataclasses.replace(result, problem=f"{head}: the same error as for {first[result.problem]}, above")
        elif result.failed_file:
            first[result.problem] = result.id
        shown.append(result)
    return shown


def _totals(results: list[ExerciseResult]) -> tuple[float, float, int]:
    score = round(sum(r.score for r in results), 2)
    return score, sum(r.max_score for r in results), sum(r.passed for r in results)


def submission_markdown(name: str, results: list[ExerciseResult], notes: list[str],
                        course: Course | None = None) -> str:
    """``feedback.md``: a summary table, then every exercise in course order."""
    score, max_score, passed = _totals(results)
    lines = [f"# Feedback for {md_text(name)}", "",
             f"**{score:g}/{max_score:g} points**, {passed} of {counted(len(results), 'exercise')} passed.", ""]
    if notes:
        lines += [f"- {md_text(note)}" for note in notes] + [""]
    if results:
        lines += ["| exercise | | points |", "|---|---|---:|"]
        lines += [f"| {'✓' if r.passed else '✗'} {md_text(r.id)} | {md_text(r.title)}"
                  f"{f' ({NOT_WRITTEN})' if r.not_written else ''} | {r.score:g}/{r.max_score:g} |" for r in results]
        lines.append("")
    # an exercise not written yet has said all there is in its row of the table
    for result in _said_once([r for r in results if not r.not_written]):
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
           f"<p><strong>{score:g}/{max_score:g} points</strong>, {passed} of {counted(len(results), 'exercise')} passed.</p>"]
    if notes:
        out.append("<ul>" + "".join(f"<li>{e(note)}</li>" for note in notes) + "</ul>")
    if results:
        out.append("<table>")
        out.append("<tr><th>exercise</th><th></th><th>points</th></tr>")
        for r in results:
            exercise = e(r.id) if r.not_written else f'<a href="#{_anchor(r.id)}">{e(r.id)}</a>'
            title = f"{e(r.title)} ({NOT_WRITTEN})" if r.not_written else e(r.title)
            out.append(f'<tr><td>{_mark(r.passed)} {exercise}</td>'
                       f'<td>{title}</td><td class="points">{r.score:g}/{r.max_score:g}</td></tr>')
        out.append("</table>")
    for r in _said_once([r for r in results if not r.not_written]):     # as in feedback.md
        out.append(f'<section id="{_anchor(r.id)}">')
        out.append(f"<h2>{_mark(r.passed)} {e(r.id)}: {e(r.title)}</h2>")
        out.extend(_exercise_html(result_view(r), course))
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _exercise_html(view: ResultView, course: Course | None) -> list[str]:
    """The lines of an exercise's section below its heading, from its view."""
    e = html.escape
    out = [f"<p>{e(view.summary())}</p>"]
    if view.problem:
        tag = "pre" if view.problem_is_excerpt else "p"
        out.append(f'<{tag} class="problem">{e(view.problem)}</{tag}>')
    if view.stand_in_note:
        out.append(f'<p class="note">{e(view.stand_in_note)}</p>')
    if view.checks is not None:
        out.append('<ul class="checks">')
        for check in view.checks:
            item = f"<li>{_mark(check.passed)} {e(check.title)}"
            if check.feedback:
                item += f"<pre>{e(check.feedback)}</pre>"
            out.append(item + "</li>")
        out.append("</ul>")
    if view.hints_apply:
        hint = _first_hint(course, view.exercise_id)
        if hint:
            out.append(f'<p class="hint"><strong>Hint:</strong> {e(hint)}</p>')
        out.append(f"<p>More hints, one level at a time: <code>course hint {e(view.exercise_id)}</code></p>")
    return out
