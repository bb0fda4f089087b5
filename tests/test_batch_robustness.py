"""One bad submission never breaks `course grade` for the rest of the class.

Each test grades, in one run of the command, a copy of the reference, a copy of the stubs
and one kind of attack or bad input, on one or two cheap exercises. Every time the batch
finishes (exit 0, grades.csv and both charts), grades.csv has a safe row for each
submission, the reference keeps full marks, the attack gets no more than the stubs, every
text file written is valid UTF-8, and nothing changes outside the output folder and the
copies made here.
"""

import csv
import hashlib
import html
import json
import os
import re
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from grader.checks import describe
from grader.cli import main
from grader.course.manifest import load_manifest
from grader.engine.grading import CheckOutcome, ExerciseResult
import grader.instructor.class_grading
from grader.instructor.feedback import (CHECK_LIMIT, EXERCISE_LIMIT, SUBMISSION_LIMIT, WITHHELD, Budget, SolutionLines,
                             bounded_notes, bounded_submission)
from grader.instructor.release import secret_lines
from tests.support import ROOT, SOLUTIONS, make_partial_submission, make_submission

pytestmark = pytest.mark.slow  # grades batches of broken submissions

STEP = "rnn.rnn_step_forward"
SOFTMAX = "attention.softmax"
COURSE = load_manifest(ROOT / "course.toml")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Batch:
    out: Path
    output: str
    rows: dict[str, float]          # grades.csv: submission -> total

    def feedback(self, name: str) -> str:
        return (self.out / name / "feedback.md").read_text(encoding="utf-8")

    def texts(self, name: str) -> list[str]:
        """Everything written for ``name`` that a learner or an instructor reads."""
        folder = self.out / name
        return [(folder / f).read_text(encoding="utf-8") for f in ("feedback.md", "feedback.html", "results.json")]


def tree(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``, links not followed: a link by its target, a file by its
    bytes (Python's caches left out: importing the reference may write them)."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if "__pycache__" in path.parts:
            continue
        if path.is_symlink():
            found[rel] = "link to " + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def grade_batch(tmp_path: Path, attacks: list[Path], only=(STEP,), time_limit: float = 10) -> Batch:
    """``attacks`` graded beside a copy of the reference and one of the stubs; the batch's
    invariants checked."""
    ref = make_submission(tmp_path / "class" / "ref")
    stubs = make_partial_submission(tmp_path / "class" / "stubs", set())
    out = tmp_path / "out"
    outside = {"here": tree(tmp_path), "solutions": tree(SOLUTIONS), "exercises": tree(ROOT / "exercises")}
    run = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(ref), str(stubs), *map(str, attacks),
                                    "--out", str(out), "--only", ",".join(only), "--time-limit", str(time_limit)],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert {"here": {k: v for k, v in tree(tmp_path).items() if not k.startswith("out/") and k != "out"},
            "solutions": tree(SOLUTIONS), "exercises": tree(ROOT / "exercises")} == outside
    for picture in ("scores_histogram.png", "pass_rates.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".html", ".json", ".csv"):
            path.read_bytes().decode("utf-8")          # valid UTF-8, or this raises
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    rows = {row[0]: float(row[-1]) for row in table[1:]}
    assert len(rows) == len(table) - 1 == 2 + len(attacks), table
    assert not [name for name in rows if name.startswith(FORMULA_START)], rows
    assert rows["ref"] == sum(COURSE.exercise(i).points for i in only)
    assert rows["stubs"] == 0
    assert all(total <= rows["stubs"] for name, total in rows.items() if name not in ("ref", "stubs")), rows
    return Batch(out, run.output, rows)


def step_body(code: str) -> dict[str, str]:
    return {STEP: "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n" + textwrap.indent(textwrap.dedent(code), "    ")}


def softmax_body(code: str) -> dict[str, str]:
    return {SOFTMAX: "def softmax(x, dim=-1):\n" + textwrap.indent(textwrap.dedent(code), "    ")}


def zip_of(archive: Path, members: dict[str, str]) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return archive


# ---------------------------------------------------------------- A: the batch goes on

def test_an_exception_message_with_a_lone_surrogate(tmp_path):
    attack = make_submission(tmp_path / "class" / "surrogate", step_body('raise ValueError("\\udc80 broken")'))
    batch = grade_batch(tmp_path, [attack])
    assert "raised ValueError: \ufffd broken" in batch.feedback("surrogate")


@pytest.mark.parametrize("damage", ["bad_crc", "encrypted"])
def test_a_damaged_or_encrypted_zip(tmp_path, damage):
    archive = zip_of(tmp_path / "class" / f"{damage}.zip", {"rnn.py": (SOLUTIONS / "rnn.py").read_text()})
    data = bytearray(archive.read_bytes())
    if damage == "bad_crc":
        start = data.index(b"import")              # stored, not compressed: the bytes are there to change
        data[start] = ord("I")
    else:                                          # the "encrypted" flag, in the local and the central header
        data[data.index(b"PK\x03\x04") + 6] |= 1
        data[data.index(b"PK\x01\x02") + 8] |= 1
    archive.write_bytes(bytes(data))
    batch = grade_batch(tmp_path, [archive])
    words = {"bad_crc": "is damaged", "encrypted": "protected by a password"}[damage]
    assert words in batch.feedback(damage)


def test_names_of_the_gradebooks_own_files_are_refused(tmp_path):
    """Each would be graded over grades.csv or a chart; each is refused, with a note, and
    gets zero under refused_<name>."""
    subs = tmp_path / "class"
    attacks = [zip_of(subs / "grades.csv.zip", {"rnn.py": (SOLUTIONS / "rnn.py").read_text()}),
               make_submission(subs / "scores_histogram.png"),
               make_submission(subs / "pass_rates.png"),
               make_submission(subs / "Grades.CSV"),
               make_submission(subs / ".hidden")]
    batch = grade_batch(tmp_path, attacks)
    assert (batch.out / "grades.csv").is_file()
    for name in ("grades.csv", "scores_histogram.png", "pass_rates.png", "Grades.CSV", ".hidden"):
        assert batch.rows["refused_" + name] == 0
        assert "was not graded" in batch.feedback("refused_" + name), name
    assert "not graded for their names" in batch.output


def test_rich_markup_in_a_zip_member_name_is_printed_as_text(tmp_path):
    archive = zip_of(tmp_path / "class" / "markup.zip", {"../[/x][bold]": "x = 1\n"})
    batch = grade_batch(tmp_path, [archive])
    assert "[/x][bold]" in batch.output           # the note in the summary, shown as itself
    assert "unsafe path" in batch.feedback("markup")


def test_dot_names_and_formulas_in_names_keep_a_safe_row(tmp_path):
    """``..zip`` would be graded as ``.`` (OUT itself) and lose its row; a name starting
    with ``=`` would be a formula in a spreadsheet."""
    subs = tmp_path / "class"
    attacks = [zip_of(subs / "..zip", {"rnn.py": "x = 1\n"}),
               zip_of(subs / "...zip", {"rnn.py": "x = 1\n"}),
               zip_of(subs / '=HYPERLINK("x","y").zip', {"rnn.py": "x = 1\n"}),
               make_partial_submission(subs / "-2+3", set())]
    batch = grade_batch(tmp_path, attacks)
    assert {"refused_.", "refused_..", "'=HYPERLINK(\"x\",\"y\")", "'-2+3"} <= set(batch.rows)
    assert not (batch.out / "results.json").exists() and not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("where", ["grading", "writing"])
def test_a_failure_while_grading_one_submission_costs_only_it(tmp_path, monkeypatch, caplog, where):
    """Whatever raises while one submission is graded or written (a grader bug) is logged
    and becomes a note for that submission; the others are graded and the class outputs written."""
    victim = make_submission(tmp_path / "class" / "victim", step_body("raise NotImplementedError"))
    target = {"grading": "grade_submission", "writing": "write_results"}[where]
    real = getattr(grader.instructor.class_grading, target)

    def failing(*args, **kwargs):
        if any(getattr(arg, "name", None) == "victim" for arg in args):
            raise RuntimeError("a bug in the grader")
        return real(*args, **kwargs)

    monkeypatch.setattr(grader.instructor.class_grading, target, failing)
    batch = grade_batch(tmp_path, [victim])
    assert batch.rows["victim"] == 0
    assert any("victim" in r.getMessage() and r.exc_info for r in caplog.records)
    if where == "grading":          # written, it says so (when writing is what fails, nothing is)
        assert "grading this submission failed" in batch.feedback("victim")
        assert "a bug in the grader" in batch.feedback("victim")


# ---------------------------------------------------------------- B: links

def test_links_never_reach_outside_the_submission(tmp_path):
    """A link to solutions/ as exercises/, as the only folder, or as a module file, and a
    hard link to a solution file: each gets a note and no points for what it would give."""
    subs = tmp_path / "class"
    (subs / "exercises_link").mkdir(parents=True)
    (subs / "exercises_link" / "exercises").symlink_to(SOLUTIONS, target_is_directory=True)
    (subs / "child_link").mkdir()
    (subs / "child_link" / "homework").symlink_to(SOLUTIONS, target_is_directory=True)
    module_link = make_partial_submission(subs / "module_link", set())
    (module_link / "rnn.py").unlink()
    (module_link / "rnn.py").symlink_to(SOLUTIONS / "rnn.py")
    outside = make_submission(tmp_path / "elsewhere")          # the same disk, so that a hard link can be made
    hard_link = make_partial_submission(subs / "hard_link", set())
    (hard_link / "rnn.py").unlink()
    os.link(outside / "rnn.py", hard_link / "rnn.py")
    batch = grade_batch(tmp_path, [subs / "exercises_link", subs / "child_link", module_link, hard_link])
    assert "exercises is a link to a folder outside the submission" in batch.feedback("exercises_link")
    assert "homework is a link to a folder outside the submission" in batch.feedback("child_link")
    assert "rnn.py is a link to a file outside the submission; it was not graded" in batch.feedback("module_link")
    assert "rnn.py is a hard link" in batch.feedback("hard_link")


def test_a_submission_given_as_a_link_is_graded(hidden, tmp_path):
    """The instructor may hand over the submission's folder itself as a link."""
    from grader.instructor.submission import grade_submission

    real = make_submission(tmp_path / "real")
    (tmp_path / "given").symlink_to(real, target_is_directory=True)
    result = grade_submission(hidden, tmp_path / "given", [COURSE.exercise(STEP)])
    assert result.name == "given" and result.score == 2 and not result.notes


# ---------------------------------------------------------------- C: honest learners

def test_a_module_over_1_mb_is_said_to_be_too_large(tmp_path):
    big = make_submission(tmp_path / "class" / "big")
    (big / "rnn.py").write_text((big / "rnn.py").read_text() + "#" * 80 + "\n" + "# padding\n" * 140_000)
    batch = grade_batch(tmp_path, [big])
    feedback = batch.feedback("big")
    assert "rnn.py is 1.4 MB; modules of at most 1 MB are graded" in feedback
    assert "missing" not in feedback


def test_a_returned_meta_or_bfloat16_tensor_fails_its_checks_normally(tmp_path):
    subs = tmp_path / "class"
    meta = make_submission(subs / "meta", softmax_body("return torch.empty(x.shape, device='meta')"))
    bf16 = make_submission(subs / "bf16", softmax_body("""
        e = torch.exp(x - x.amax(dim=dim, keepdim=True))
        return (e / e.sum(dim=dim, keepdim=True)).to(torch.bfloat16)
        """))
    batch = grade_batch(tmp_path, [meta, bf16], only=(SOFTMAX,))
    for name, shown in (("meta", "on meta (no values)"), ("bf16", "tensor bfloat16 (3, 3) = [[")):
        feedback = batch.feedback(name)
        assert "the grader failed" not in feedback and shown in feedback, feedback[:3000]


def test_describe_never_fails_on_a_tensor():
    assert describe(torch.tensor([0.5, 0.25], dtype=torch.bfloat16)) == "tensor bfloat16 (2,) = [0.5 , 0.25]"
    assert describe(torch.empty(2, 3, device="meta")) == "tensor float32 (2, 3) on meta (no values)"
    assert describe(torch.ones(3, 3).to_sparse()) == "tensor float32 (3, 3)"
    assert describe((torch.ones(2, dtype=torch.bfloat16), 1)) == "(tensor bfloat16 (2,) = [1., 1.], 1)"


# ---------------------------------------------------------------- D: bounded feedback, no solution lines

def test_feedback_is_bounded_whatever_the_learner_code_produces(tmp_path, without_screening):
    """A function name of 5 million characters appears in every traceback of the exercise
    (made through ``__code__``, which the static layer refuses: it is off here)."""
    attack = make_submission(tmp_path / "class" / "flood", step_body("""
        def f():
            raise ValueError("x" * 10_000_000)
        flood = type(f)(f.__code__.replace(co_name="n" * 5_000_000), globals())
        flood()
        """))
    batch = grade_batch(tmp_path, [attack])
    for path in (batch.out / "flood").iterdir():
        assert path.stat().st_size < EXERCISE_LIMIT + 5_000, path
    assert "more characters cut)" in batch.feedback("flood")


def shown_length(text: str) -> int:
    """How much of ``text`` is learner text: the cut marker left out."""
    return len(re.sub(r"(^| )… \(\d+ more \w+ cut\)$", "", text))


def test_learner_text_is_capped_per_check_exercise_and_submission():
    long = "y" * 50_000
    results = [ExerciseResult(ex.id, ex.title, ex.points, 0.0, problem=long,
                              checks=[CheckOutcome(f"check {i}", 1, False, long) for i in range(9)])
               for ex in COURSE.exercises]
    exercises, notes = bounded_submission(results, [long] * 3, SolutionLines(()))
    texts = [t for r in exercises for t in [r.problem] + [c.feedback for c in r.checks]]
    assert max(map(shown_length, texts + notes)) == CHECK_LIMIT
    assert max(sum(shown_length(c.feedback) for c in r.checks) + shown_length(r.problem)
               for r in exercises) == EXERCISE_LIMIT
    assert sum(map(shown_length, texts + notes)) == SUBMISSION_LIMIT
    assert notes[0].endswith(f"y … ({50_000 - CHECK_LIMIT} more characters cut)")
    assert texts[-1] == " … (50000 more characters cut)"
    # once the budget is spent, one note says how many more there were
    notes = bounded_notes([long] * 100, Budget(EXERCISE_LIMIT, SolutionLines(())))
    assert len(notes) == EXERCISE_LIMIT // CHECK_LIMIT + 1 and notes[-1] == "… (95 more notes cut)"


def test_no_feedback_file_carries_a_line_of_a_solution_region(tmp_path):
    """Learner code that got hold of reference source (here, simply pasted) and puts it in
    an exception message, re-spaced or not: each such line is withheld."""
    secrets = secret_lines(COURSE)
    lines = [line for line, owner in secrets.items() if owner in ("rnn.rnn_forward", STEP)]
    assert len(lines) >= 4
    message = "\n".join(lines + [line.replace(" ", "  ") for line in lines])
    attack = make_submission(tmp_path / "class" / "leak", step_body(f"raise ValueError({message!r})"))
    batch = grade_batch(tmp_path, [attack])
    assert WITHHELD in batch.feedback("leak")
    markdown, page, results = batch.texts("leak")
    results = json.loads(results)
    shown = [markdown.replace("\\", ""), html.unescape(page), results["output"]]
    shown += [test["output"] for test in results["tests"]]
    solution = SolutionLines(secrets)
    for text in shown:
        assert not [line for line in text.splitlines() if solution.within(line)]
