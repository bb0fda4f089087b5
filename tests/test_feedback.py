"""feedback.md, feedback.html and the Markdown in results.json: what a learner may be handed."""

import json
import re
from html.parser import HTMLParser

from click.testing import CliRunner

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.engine.grading import CheckOutcome, ExerciseResult
from grader.instructor.feedback import exercise_markdown, md_code_block, md_text, submission_html, submission_markdown
from tests.support import ROOT, make_submission

COURSE = load_manifest(ROOT / "course.toml")
STEP = "rnn.rnn_step_forward"
NASTY = '<script>alert("x")</script> & **bold** `tick` ```fence``` [link](http://evil)'


def failed_result(exercise_id=STEP):
    ex = COURSE.exercise(exercise_id)
    return ExerciseResult(exercise_id, ex.title, ex.points, 0.5, checks=[
        CheckOutcome("shapes are right", 1, True),
        CheckOutcome("values " + NASTY, 3, False, "called f(x=1)\nreturned 2\nexpected 3\n" + NASTY),
    ], problem="uses " + NASTY)


def passed_result(exercise_id="rnn.clip_grad_norm"):
    ex = COURSE.exercise(exercise_id)
    return ExerciseResult(exercise_id, ex.title, ex.points, ex.points, checks=[CheckOutcome("all good", 1, True)])


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_everything_from_the_learner_and_is_self_contained():
    page = submission_html("bob<i>", [failed_result(), passed_result()], ["note " + NASTY], COURSE)
    parsed = Collect()
    parsed.feed(page)
    assert "script" not in parsed.tags and "i" not in parsed.tags
    assert set(parsed.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "strong", "ul",
                                "li", "pre", "table", "tr", "th", "td", "a", "span", "section", "code"}
    text = "".join(parsed.text)
    assert text.count(NASTY) == 4      # the check's title and feedback, the problem, the note: shown as text
    assert "bob<i>" in text
    # nothing to fetch: no external stylesheet, script, image or font
    assert not [v for k, v in parsed.attrs if k in ("src", "href") and not v.startswith("#")]
    assert "url(" not in page and "@import" not in page and "<link" not in page


def test_feedback_lists_scores_failures_and_only_the_first_hint_of_failed_exercises():
    failed, passed = failed_result(), passed_result()
    hints = COURSE.exercise(STEP).hints
    for text in (submission_markdown("bob", [failed, passed], [], COURSE),
                 submission_html("bob", [failed, passed], [], COURSE)):
        assert "0.5/2 points" in text and "2/2 points" in text
        assert "expected 3" in text and "returned 2" in text
        flat = text.replace("\\", "").replace("&#x27;", "'").replace("&quot;", '"')
        assert hints[0] in flat
        assert hints[1] not in flat
        for other in COURSE.exercise("rnn.clip_grad_norm").hints:   # passed: no hint
            assert other not in flat
        assert f"course hint {STEP}" in text


def test_markdown_shows_learner_text_as_text():
    assert md_text("**a** <b> _c_ [d](e) # f") == r"\*\*a\*\* \<b\> \_c\_ \[d\](e) # f"
    assert md_text("# title\n- item") == "\\# title\n\\- item"
    block = md_code_block("x ```` y")
    fence = block.splitlines()[0][:-len("text")]
    assert set(fence) == {"`"} and len(fence) == 5 and block.endswith("\n" + fence)
    output = exercise_markdown(failed_result(), COURSE)
    assert "<script>" not in output.replace("```", "").split("text\n", 1)[0]   # outside code: escaped
    assert "\\<script\\>" in output


def test_graded_feedback_never_shows_hidden_test_code(tmp_path):
    """A submission that fails every way the rnn checks can say: the check titles and
    messages are there, not one line of the hidden suite's code."""
    wrong = make_submission(tmp_path / "subs" / "wrong", {
        STEP: "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
              "    next_h = np.tanh(x @ Wx + b)\n"
              "    return next_h, (x, prev_h, Wx, Wh, next_h)\n",
        "rnn.clip_grad_norm": "def clip_grad_norm(grads, max_norm):\n    return grads\n",
    })
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(wrong), "--out", str(out),
                                    "--only", f"{STEP},rnn.clip_grad_norm"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    texts = [(out / "wrong" / name).read_text() for name in ("feedback.md", "feedback.html")]
    texts += [t["output"] for t in json.loads((out / "wrong" / "results.json").read_text())["tests"]]
    assert all("✗" in text for text in texts)
    assert "expected" in texts[0]
    suite = (ROOT / "suites" / "hidden" / "test_rnn.py").read_text()
    code_lines = {line.strip() for line in suite.splitlines()
                  if len(line.strip()) > 20 and not line.strip().startswith(('"', "'", "#"))}
    assert len(code_lines) > 20
    for text in texts:
        leaked = [line for line in code_lines if line in text or line in text.replace("\\", "")]
        assert not leaked, leaked[:3]
        assert not re.search(r"^\s*def \w+\(.*student", text, re.MULTILINE)


def test_results_json_declares_markdown_for_gradescope(tmp_path):
    sub = make_submission(tmp_path / "carol")
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(sub), "--out", str(out),
                                    "--only", "rnn.clip_grad_norm"], catch_exceptions=False)
    assert run.exit_code == 0
    data = json.loads((out / "carol" / "results.json").read_text())
    assert data["output_format"] == "md" and data["test_output_format"] == "md"
    (test,) = data["tests"]
    assert test["output_format"] == "md" and test["output"].startswith("**Passed**")
    assert (out / "carol" / "feedback.md").read_text().startswith("# Feedback for carol\n")
    assert (out / "carol" / "feedback.html").read_text().startswith("<!DOCTYPE html>")
    for path in [out / "grades.csv", *(out / "carol").glob("*")]:   # to be shared: readable by others
        assert path.stat().st_mode & 0o044, path
