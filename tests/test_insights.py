"""What the class got wrong: insights.md and insights.csv, from the results alone."""

import csv
import io

from grader.checks import CheckOutcome
from grader.course.manifest import load_manifest
from grader.engine.grading import ExerciseResult
from grader.instructor.insights import class_insights, insights_csv, insights_markdown, summary_lines, write_insights
from grader.instructor.report import CLASS_FILES, INSIGHTS_CSV, INSIGHTS_MD
from grader.instructor.submission import SubmissionResult
from tests.support import ROOT

COURSE = load_manifest(ROOT / "course.toml")
A, B = "rnn.rnn_step_forward", "rnn.rnn_step_backward"


def _exercise(exercise_id, failed=(), passed=("values",), **extra):
    checks = [CheckOutcome(title, 1.0, True) for title in passed]
    checks += [CheckOutcome(title, 1.0, False, message) for title, message in failed]
    return ExerciseResult(exercise_id, "t", 2.0, 0.0 if failed else 2.0, checks, **extra)


def _submission(name, *exercises):
    return SubmissionResult(name, list(exercises), [])


def _class():
    return [
        _submission("ann", _exercise(A, [("db", "called f(x)\nreturned 1\ndb is NaN")]),
                    _exercise(B, [("dx", "dx is off by 3")])),
        _submission("bob", _exercise(A, [("db", "called f(x)\ndb is off by 0.25 at index 7"),
                                         ("shape", "the shape is (2, 3); expected (3, 2)")]),
                    _exercise(B)),
        _submission("cem", _exercise(A, [("db", "db is off by 0.5 at index 2")])),
        # not attempted: a stub, and a file that did not import; neither counts
        _submission("dan", _exercise(A, [("db", "not written yet")], not_written=True)),
        _submission("eve", _exercise(A, [("db", "SyntaxError")], failed_file="rnn.py", problem="rnn.py: SyntaxError")),
    ]


def test_checks_are_listed_most_failed_first_among_those_who_attempted():
    insights, reach = class_insights(COURSE, _class())
    # equal counts: the larger share of those who attempted first
    assert [(i.exercise_id, i.title, i.failed, i.attempted) for i in insights] == [
        (A, "db", 3, 3), (B, "dx", 1, 2), (A, "shape", 1, 3)]
    assert [(r.exercise_id, r.graded, r.attempted, r.passed) for r in reach] == [(A, 5, 3, 0), (B, 2, 2, 1)]


def test_the_example_is_the_most_common_message_numbers_aside_never_the_call():
    db = class_insights(COURSE, _class())[0][0]
    assert db.example == "db is off by 0.25 at index 7"     # two of three say "off by"; bob's comes first


def test_the_files_hold_the_list_and_cannot_be_taken_by_a_submission(tmp_path):
    written = write_insights(tmp_path, COURSE, _class())
    assert [p.name for p in written] == [INSIGHTS_MD, INSIGHTS_CSV]
    assert {INSIGHTS_MD, INSIGHTS_CSV} <= set(CLASS_FILES)
    markdown = (tmp_path / INSIGHTS_MD).read_text()
    assert markdown.index("`rnn.rnn_step_forward`") < markdown.index("`rnn.rnn_step_backward`")
    assert "3 of 3" in markdown and "| `rnn.rnn_step_forward` | 5 | 3 | 0 |" in markdown
    again = tmp_path / "again"
    write_insights(again, COURSE, list(reversed(_class())))
    assert (again / INSIGHTS_MD).read_bytes() == (tmp_path / INSIGHTS_MD).read_bytes()


def test_a_message_cannot_become_a_formula_or_markup():
    hostile = [_submission("x", _exercise(A, [("db", "=HYPERLINK(\"http://e\")\n")])),
               _submission("y", _exercise(A, [("db", "# <script>alert(1)</script> [a](http://e)")]))]
    insights, reach = class_insights(COURSE, hostile)
    rows = list(csv.reader(io.StringIO(insights_csv(insights))))
    assert rows[1][-1].startswith("'=HYPERLINK")
    markdown = insights_markdown(COURSE, insights, reach)
    assert "<script>" not in markdown and "](http" not in markdown


def test_the_terminal_summary_fits_80_columns():
    long = [_submission("x", _exercise(A, [("a very long title " * 10, "m")]))]
    lines = summary_lines(class_insights(COURSE, long)[0])
    assert lines and all(len(line) <= 80 for line in lines)
