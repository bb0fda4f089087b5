"""`course grade` as a gradebook: nothing lost when killed, nothing graded twice, the class outputs.

One small class (copies of solutions/ and exercises/, a zip, a submission with two wrong
exercises) is graded on the fast `rnn` module only, on a private copy of the course so that
edits elsewhere in the tree cannot change results between two runs.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.instructor.gradebook import RECORD_FILE
from grader.instructor.report import pass_rates
import grader.instructor.submission
from grader.instructor.submission import SubmissionResult
from tests.support import ROOT, make_submission

pytestmark = pytest.mark.slow  # grades a class, killed and resumed

ONLY = "rnn.*"
WRONG = {
    # forgets the previous state
    "rnn.rnn_step_forward": "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
                            "    next_h = np.tanh(x @ Wx + b)\n"
                            "    return next_h, (x, prev_h, Wx, Wh, next_h)\n",
    # never clips
    "rnn.clip_grad_norm": "def clip_grad_norm(grads, max_norm):\n"
                          "    return [g * 1.0 for g in grads], float(np.sqrt(sum((g * g).sum() for g in grads)))\n",
}


def copy_course(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "course.toml", dest / "course.toml")
    for folder in ("solutions", "exercises", "suites"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.glob("*.py")):
            zf.write(path, f"{folder.name}/{path.name}")
    return archive


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """A course copy, six submissions, and the outputs of one uninterrupted run."""
    base = tmp_path_factory.mktemp("gradebook")
    course = copy_course(base / "course")
    subs = base / "subs"
    subs.mkdir()
    for name in ("sol_a", "sol_b"):
        make_submission(subs / name, base=course / "solutions")
    for name in ("stub_a", "stub_b"):
        make_submission(subs / name, base=course / "exercises")
    zip_folder(make_submission(base / "sol_zip", base=course / "solutions"), subs / "sol_zip.zip")
    make_submission(subs / "wrong", WRONG, base=course / "solutions")
    paths = sorted(subs.iterdir())
    reference = base / "reference"
    run = grade_process(course, paths, reference)
    assert run.wait(timeout=300) == 0, run.communicate()
    return {"course": course, "paths": paths, "reference": reference, "base": base}


def grade_process(course: Path, paths, out: Path, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "--course", str(course), "grade", *map(str, paths), "--out", str(out),
         "--only", ONLY, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def snapshot(out: Path) -> dict[str, object]:
    """Every file under ``out``, with the timing fields taken out."""
    files = {}
    for path in sorted(p for p in Path(out).rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if path.name == "results.json":
            data = json.loads(path.read_text())
            assert isinstance(data.pop("execution_time"), (int, float))
            files[rel] = data
        elif path.name == RECORD_FILE:
            data = json.loads(path.read_text())
            data.pop("source")
            for entry in data["exercises"].values():
                entry["result"].pop("seconds")
            files[rel] = data
        else:
            files[rel] = path.read_bytes()
    return files


def graded_count(output: str) -> tuple[int, int]:
    line = next(line for line in output.splitlines() if line.startswith("exercise results:"))
    words = line.split()
    return int(words[2]), int(words[5])   # "exercise results: G graded now, R reused ..."


def wait_for(condition, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "grading ended before the moment to kill it: " + process.communicate()[1]
        assert time.monotonic() < deadline, "timed out waiting for the moment to kill"
        time.sleep(0.01)


def record_entries(out: Path) -> int:
    total = 0
    for path in Path(out).glob(f"*/{RECORD_FILE}"):
        try:
            total += len(json.loads(path.read_text())["exercises"])
        except (ValueError, KeyError):
            pass
    return total


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL


def test_kill_at_any_moment_then_resume_gives_the_uninterrupted_outputs(klass, tmp_path):
    out = tmp_path / "out"
    course, paths, per_submission = klass["course"], klass["paths"], 6
    # killed in the middle of the first submission: some exercise results, no results.json yet
    first = grade_process(course, paths, out)
    wait_for(lambda: record_entries(out) >= 2, first)
    kill(first)
    # killed again once two submissions are complete
    second = grade_process(course, paths, out)
    wait_for(lambda: len(list(out.glob("*/results.json"))) >= 2, second)
    kill(second)
    done_before = record_entries(out)
    assert 2 <= done_before < len(paths) * per_submission, "the kills did not happen midway"
    assert not (out / "grades.csv").exists()

    last = grade_process(course, paths, out)
    stdout, stderr = last.communicate(timeout=300)
    assert last.returncode == 0, stderr
    graded, reused = graded_count(stdout)
    assert reused >= done_before and graded + reused == len(paths) * per_submission
    assert graded > 0
    assert snapshot(out) == snapshot(klass["reference"])


def grade_in_process(course: Path, paths, out: Path, *extra, only: str = ONLY):
    return CliRunner().invoke(main, ["--course", str(course), "grade", *map(str, paths), "--out", str(out),
                                     "--only", only, *extra], catch_exceptions=False)


@pytest.fixture
def graded_ids(monkeypatch):
    """The (submission folder name, exercise id) of every exercise actually graded."""
    calls = []
    real = grader.instructor.submission.grade_exercise

    def counting(ctx, exercise, folder, *rest):
        calls.append(exercise.id)
        return real(ctx, exercise, folder, *rest)

    monkeypatch.setattr(grader.instructor.submission, "grade_exercise", counting)
    return calls


def test_a_second_run_with_nothing_changed_grades_nothing(klass, tmp_path, graded_ids):
    out = tmp_path / "out"
    shutil.copytree(klass["reference"], out)
    (out / "sol_a" / ".results.json.x1y2.tmp").write_text("half of a file from a killed run")
    started = time.monotonic()
    run = grade_in_process(klass["course"], klass["paths"], out)
    seconds = time.monotonic() - started
    assert run.exit_code == 0, run.output
    assert graded_ids == []
    assert graded_count(run.output) == (0, len(klass["paths"]) * 6)
    assert snapshot(out) == snapshot(klass["reference"])     # the leftover is gone too
    assert seconds < 10, seconds


def test_a_changed_submission_is_graded_again_and_only_it(klass, tmp_path, graded_ids):
    out = tmp_path / "out"
    shutil.copytree(klass["reference"], out)
    changed = make_submission(tmp_path / "sol_b", {"rnn.clip_grad_norm": WRONG["rnn.clip_grad_norm"]},
                              base=klass["course"] / "solutions")
    paths = [changed if p.name == "sol_b" else p for p in klass["paths"]]
    run = grade_in_process(klass["course"], paths, out)
    assert run.exit_code == 0, run.output
    assert sorted(graded_ids) == sorted(ex.id for ex in load_manifest(klass["course"] / "course.toml").select(ONLY))
    tests = {t["name"]: t for t in json.loads((out / "sol_b" / "results.json").read_text())["tests"]}
    assert tests["rnn.clip_grad_norm"]["status"] == "failed"
    assert tests["rnn.rnn_forward"]["status"] == "passed"
    row = next(line for line in (out / "grades.csv").read_text().splitlines() if line.startswith("sol_b,"))
    clip = tests["rnn.clip_grad_norm"]["score"]
    assert clip < tests["rnn.clip_grad_norm"]["max_score"] == 2
    assert row.split(",")[-1] == f"{14 + clip:g}"
    # only what changed: the others' files are as before
    before, after = snapshot(klass["reference"]), snapshot(out)
    assert {k for k in after if after[k] != before.get(k)} <= {
        "sol_b/results.json", "sol_b/feedback.md", "sol_b/feedback.html", f"sol_b/{RECORD_FILE}",
        "grades.csv", "scores_histogram.png", "pass_rates.png", "insights.md", "insights.csv"}


def test_a_changed_submission_graded_in_part_drops_its_old_results(klass, tmp_path, graded_ids):
    out = tmp_path / "out"
    shutil.copytree(klass["reference"], out)
    changed = make_submission(tmp_path / "sol_b", {"rnn.clip_grad_norm": WRONG["rnn.clip_grad_norm"]},
                              base=klass["course"] / "solutions")
    run = grade_in_process(klass["course"], [changed], out, only="rnn.clip_grad_norm")
    assert run.exit_code == 0, run.output
    assert graded_ids == ["rnn.clip_grad_norm"]
    tests = json.loads((out / "sol_b" / "results.json").read_text())["tests"]
    assert [t["name"] for t in tests] == ["rnn.clip_grad_norm"]   # results of the old files are not kept
    assert json.loads((out / "sol_a" / "results.json").read_text()) == json.loads(
        (klass["reference"] / "sol_a" / "results.json").read_text())


def test_force_grades_the_selection_again_and_keeps_the_rest(klass, tmp_path, graded_ids):
    out = tmp_path / "out"
    shutil.copytree(klass["reference"], out)
    sol_a = [p for p in klass["paths"] if p.name == "sol_a"]
    run = grade_in_process(klass["course"], sol_a, out, "--force", only="rnn.clip_grad_norm,rnn.rnn_forward")
    assert run.exit_code == 0, run.output
    assert graded_ids == ["rnn.rnn_forward", "rnn.clip_grad_norm"]
    assert graded_count(run.output) == (2, 0)
    assert snapshot(out) == snapshot(klass["reference"])   # all six exercises still there, same results


def test_the_gradebook_accumulates_exercises_and_submissions_across_runs(klass, tmp_path, graded_ids):
    out = tmp_path / "out"
    by_name = {p.name: p for p in klass["paths"]}
    assert grade_in_process(klass["course"], [by_name["wrong"]], out, only="rnn.clip_grad_norm").exit_code == 0
    assert grade_in_process(klass["course"], [by_name["wrong"]], out, only="rnn.rnn_step_forward").exit_code == 0
    assert grade_in_process(klass["course"], [by_name["sol_a"]], out, only="rnn.rnn_forward").exit_code == 0
    # rnn_forward builds on rnn_step_forward: whether sol_a's own passes is known first, not kept
    assert graded_ids == ["rnn.clip_grad_norm", "rnn.rnn_step_forward", "rnn.rnn_step_forward", "rnn.rnn_forward"]
    tests = json.loads((out / "wrong" / "results.json").read_text())["tests"]
    assert [t["name"] for t in tests] == ["rnn.rnn_step_forward", "rnn.clip_grad_norm"]   # course order
    step, clip = (f'{t["score"]:g}' for t in tests)
    assert (out / "grades.csv").read_text().splitlines() == [
        "submission,rnn.rnn_step_forward,rnn.rnn_forward,rnn.clip_grad_norm,total",
        "sol_a,,2,,2",
        f"wrong,{step},,{clip},{float(step) + float(clip):g}",
    ]


def test_a_change_to_the_course_or_the_time_limit_grades_again(tmp_path, graded_ids):
    course = copy_course(tmp_path / "course")
    sub = make_submission(tmp_path / "ann", base=course / "solutions")
    out = tmp_path / "out"
    only = "rnn.clip_grad_norm"
    assert grade_in_process(course, [sub], out, only=only).exit_code == 0
    assert grade_in_process(course, [sub], out, only=only).exit_code == 0
    assert len(graded_ids) == 1
    hidden = course / "suites" / "hidden" / "test_rnn.py"
    hidden.write_text(hidden.read_text() + "\n# a new check would go here\n")
    assert grade_in_process(course, [sub], out, only=only).exit_code == 0
    assert len(graded_ids) == 2
    assert grade_in_process(course, [sub], out, "--time-limit", "20", only=only).exit_code == 0
    assert len(graded_ids) == 3
    (course / "course.toml").write_text((course / "course.toml").read_text() + "\n# edited\n")
    assert grade_in_process(course, [sub], out, "--time-limit", "20", only=only).exit_code == 0
    assert len(graded_ids) == 4


def test_a_zip_is_fingerprinted_by_what_it_holds(tmp_path, klass, graded_ids):
    folder = make_submission(tmp_path / "inner" / "bo", base=klass["course"] / "solutions")
    archive = zip_folder(folder, tmp_path / "bo.zip")
    out = tmp_path / "out"
    only = "rnn.clip_grad_norm"
    assert grade_in_process(klass["course"], [archive], out, only=only).exit_code == 0
    before = archive.read_bytes()
    for path in folder.glob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    zip_folder(folder, archive)          # the same files, zipped again: other bytes, same modules
    assert archive.read_bytes() != before
    assert grade_in_process(klass["course"], [archive], out, only=only).exit_code == 0
    assert len(graded_ids) == 1
    make_submission(folder, {"rnn.clip_grad_norm": WRONG["rnn.clip_grad_norm"]}, base=klass["course"] / "solutions")
    zip_folder(folder, tmp_path / "bo.zip")
    assert grade_in_process(klass["course"], [archive], out, only=only).exit_code == 0
    assert len(graded_ids) == 2


def test_a_damaged_record_costs_a_regrade_not_a_crash(tmp_path, klass, graded_ids):
    out = tmp_path / "out"
    shutil.copytree(klass["reference"], out)
    (out / "stub_a" / RECORD_FILE).write_text('{"format": 1, "exercises": {"rnn.rnn_forward": 3')
    (out / "stub_b" / RECORD_FILE).write_text('{"format": 1, "exercises": {"rnn.rnn_forward": {"key": 1}}}')
    stubs = [p for p in klass["paths"] if p.name.startswith("stub")]
    run = grade_in_process(klass["course"], stubs, out)
    assert run.exit_code == 0, run.output
    assert len(graded_ids) == 12
    assert snapshot(out) == snapshot(klass["reference"])


# ---------------------------------------------------------------- what an instructor publishes

def test_class_outputs_grades_pass_rates_and_pictures(klass):
    out = klass["reference"]
    lines = (out / "grades.csv").read_text().splitlines()
    assert lines[0] == ("submission,rnn.rnn_step_forward,rnn.rnn_step_backward,rnn.rnn_forward,rnn.rnn_backward,"
                        "rnn.hidden_grad_norms,rnn.clip_grad_norm,total")
    rows = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert list(rows) == ["sol_a", "sol_b", "sol_zip", "stub_a", "stub_b", "wrong"]
    assert rows["sol_zip"][-1] == "16" and rows["stub_a"][-1] == "0"
    assert float(rows["wrong"][0]) < 2 and rows["wrong"][2] == "2" and float(rows["wrong"][5]) < 2

    course = load_manifest(klass["course"] / "course.toml")
    results = []
    for name in rows:
        data = json.loads((out / name / "results.json").read_text())
        assert data["output_format"] == "md" and data["test_output_format"] == "md"
        assert all(t["output_format"] == "md" for t in data["tests"])
        results.append(SubmissionResult(name, [_Passed(t) for t in data["tests"]]))
    rates = dict((i, r) for i, r, _ in pass_rates(course.exercises, results))
    assert list(rates) == [ex.id for ex in course.select(ONLY)]
    assert rates["rnn.rnn_step_forward"] == pytest.approx(3 / 6)   # the stubs and `wrong` missed it
    assert rates["rnn.rnn_forward"] == pytest.approx(4 / 6)        # `wrong` gets the reference step here
    for picture in ("scores_histogram.png", "pass_rates.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _Passed:
    def __init__(self, test):
        self.id, self.passed, self.score, self.max_score = test["name"], test["status"] == "passed", test["score"], test["max_score"]


def test_the_summary_gives_the_class_mean_and_the_pass_rate_per_module(klass, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(klass["reference"], out)
    run = grade_in_process(klass["course"], klass["paths"][:1], out)
    totals = [float(line.split(",")[-1]) for line in (out / "grades.csv").read_text().splitlines()[1:]]
    assert f"class mean: {sum(totals) / len(totals):.2f}/16 over 6 submissions" in run.output
    passed = sum(r == "passed" for name in ("sol_a", "sol_b", "sol_zip", "stub_a", "stub_b", "wrong")
                 for r in (t["status"] for t in json.loads((out / name / "results.json").read_text())["tests"]))
    module_row = next(line for line in run.output.splitlines() if "│ rnn" in line)
    assert f"{passed / 36:.0%}" in module_row and f"{passed}/36" in module_row


def test_every_part_said_to_decide_a_result_exists():
    from grader.instructor.gradebook import GRADER_ROOT, GRADING_CODE

    assert {part for part in GRADING_CODE if not (GRADER_ROOT / part).exists()} == set()


def test_one_submission_gets_no_class_charts_and_is_told_what_was_written(tmp_path):
    """A class chart of one submission (a Gradescope run) shows nothing its results do not,
    and drawing it costs 0.8 s: it is not drawn, older ones go, and the summary says so."""
    out = tmp_path / "out"
    out.mkdir()
    for picture in ("scores_histogram.png", "pass_rates.png"):       # from an earlier, larger class
        (out / picture).write_bytes(b"\x89PNG\r\n\x1a\n")
    run = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(make_submission(tmp_path / "ann")),
                                    "--out", str(out), "--only", "rnn.rnn_step_forward"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert not (out / "scores_histogram.png").exists() and not (out / "pass_rates.png").exists()
    assert "feedback.html files, and insights.md" in " ".join(run.output.split())
    assert (out / "grades.csv").exists() and (out / "insights.md").exists()
