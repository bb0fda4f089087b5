"""`course gradescope`: the zip it builds, and the zip's own scripts run for real in a tree
laid out like Gradescope's (<tmp>/autograder/{source,submission,results}): setup.sh installs
the course into a fresh virtual environment, run_autograder grades what is uploaded."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.instructor.gradescope import Settings, check_setup, find_submission, gradescope_results
from tests.support import EXERCISES, ROOT, SOLUTIONS, make_partial_submission

pytestmark = pytest.mark.slow  # builds an autograder and installs it in a fresh virtual environment

# a few exercises of two modules keep the grading runs short; setup.sh installs everything anyway
ONLY = "rnn.rnn_step_forward,rnn.rnn_forward,attention.softmax"
COURSE = load_manifest(ROOT / "course.toml")
ONLY_POINTS = sum(ex.points for ex in COURSE.select(ONLY))

# https://gradescope-autograders.readthedocs.io/en/latest/specs/
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data"}
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def build(out: Path, *args: str, course: Path = ROOT):
    return CliRunner().invoke(main, ["--course", str(course), "gradescope", "--out", str(out), *args])


def assert_gradescope_format(results: dict) -> None:
    """results.json as Gradescope reads it: known keys, the right types, and a total that is
    the sum of the tests' scores."""
    assert set(results) <= TOP_KEYS, set(results) - TOP_KEYS
    assert isinstance(results["score"], (int, float)) and not isinstance(results["score"], bool)
    assert isinstance(results.get("execution_time", 0), (int, float))
    assert isinstance(results["output"], str) and results["output"]
    assert results.get("output_format", "text") in FORMATS
    assert results.get("test_output_format", "text") in FORMATS
    assert results["visibility"] in VISIBILITIES
    assert results.get("stdout_visibility", "hidden") in VISIBILITIES
    assert isinstance(results["tests"], list)
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert test.get("output_format", "text") in FORMATS
        assert test.get("visibility", "visible") in VISIBILITIES
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]), abs=0.005)


# ---------------------------------------------------------------- the zip

@pytest.fixture(scope="module")
def whole_course_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    run = build(out)
    assert run.exit_code == 0, run.output
    return out


def test_the_zip_holds_both_scripts_executable_and_every_module_but_no_tests_or_caches(whole_course_zip):
    with zipfile.ZipFile(whole_course_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert archive.read("course.toml") == (ROOT / "course.toml").read_bytes()
        settings = Settings.from_json(archive.read("gradescope.json").decode())
    names = set(infos)
    mode = {name: info.external_attr >> 16 for name, info in infos.items()}
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_ISREG(mode[script]) and mode[script] & 0o111 == 0o111, oct(mode[script])
    assert not any(mode[name] & 0o111 for name in names - {"setup.sh", "run_autograder"})
    assert {"course.toml", "pyproject.toml", "constraints.txt", "README.md", "gradescope.json",
            "grader/__init__.py", "grader/instructor/gradescope.py", "grader/isolation/sandbox.py"} <= names
    for module in COURSE.module_names:
        assert f"solutions/{module}.py" in names
    for module in COURSE.modules:     # the capstone has a hidden suite but no solution file
        assert f"suites/hidden/test_{module.name}.py" in names
    assert settings.exercises == tuple(ex.id for ex in COURSE.exercises)
    for name in names:
        assert name.split("/")[0] not in ("tests", "examples", "exercises", "build", "bench", ".git"), name
        assert not name.startswith("suites/visible/"), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name


def test_the_same_course_gives_the_same_bytes(whole_course_zip, tmp_path):
    """So an instructor can tell whether an upload is out of date by comparing files."""
    time.sleep(max(0.0, whole_course_zip.stat().st_mtime + 2.1 - time.time()))  # zip times have 2 s steps
    again = tmp_path / "again.zip"
    assert build(again).exit_code == 0
    assert again.read_bytes() == whole_course_zip.read_bytes()


def test_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "autograder.zip"
    out.write_bytes(b"an earlier upload")
    run = build(out, "--only", "rnn.clip_grad_norm")
    assert run.exit_code != 0 and "--force" in run.output
    assert out.read_bytes() == b"an earlier upload"
    run = build(out, "--only", "rnn.clip_grad_norm", "--force")
    assert run.exit_code == 0, run.output
    assert zipfile.is_zipfile(out)
    assert [p.name for p in tmp_path.iterdir()] == ["autograder.zip"]   # no temporary file left behind


def test_only_selects_the_exercises_and_an_empty_selection_is_an_error(tmp_path):
    run = build(tmp_path / "rnn.zip", "--only", "rnn.*", "--time-limit", "20", "--visibility", "after_due_date")
    assert run.exit_code == 0, run.output
    points = sum(ex.points for ex in COURSE.module("rnn").exercises)
    assert f"{points:g} points" in run.output
    with zipfile.ZipFile(tmp_path / "rnn.zip") as archive:
        settings = Settings.from_json(archive.read("gradescope.json").decode())
        assert "solutions/lstm.py" in archive.namelist()   # references of other modules may stand in
    assert settings.exercises == tuple(ex.id for ex in COURSE.module("rnn").exercises)
    assert settings.time_limit == 20 and settings.visibility == "after_due_date"

    run = build(tmp_path / "none.zip", "--only", "rnn.no_such_exercise")
    assert run.exit_code != 0 and "no exercise matches" in run.output
    assert not (tmp_path / "none.zip").exists()


def test_a_selected_module_without_hidden_checks_is_refused(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "course.toml", course)
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, course)
    shutil.copytree(SOLUTIONS, course / "solutions")
    shutil.copytree(ROOT / "suites" / "hidden", course / "suites" / "hidden")
    (course / "suites" / "hidden" / "test_lstm.py").unlink()
    assert build(tmp_path / "rnn.zip", "--only", "rnn", course=course).exit_code == 0
    run = build(tmp_path / "lstm.zip", "--only", "lstm", course=course)
    assert run.exit_code != 0 and "test_lstm.py" in run.output


# ---------------------------------------------------------------- pieces of the grading run

def test_an_upload_holding_one_zip_and_no_python_is_graded_as_that_zip(tmp_path):
    upload = tmp_path / "submission"
    upload.mkdir()
    (upload / "my work.zip").write_bytes(b"PK")
    assert find_submission(upload, tmp_path / "staging") == tmp_path / "staging" / "submission.zip"
    (upload / "rnn.py").write_text("")
    assert find_submission(upload, tmp_path / "staging2") == upload


def test_visibility_holds_for_the_results_and_every_test():
    settings = Settings(("rnn.rnn_forward",))
    graded = {"output": "**2/2 points**\n\n- missing modules: rnn.py",
              "tests": [{"name": "rnn.rnn_forward", "score": 0.0, "max_score": 2.0, "status": "failed",
                         "output": "", "output_format": "md", "visibility": "visible"}]}
    results = gradescope_results(graded, COURSE, settings, 1.0)
    assert "missing modules: rnn.py" in results["output"]
    assert results["visibility"] == results["tests"][0]["visibility"] == "visible"
    hidden_until_due = Settings(("rnn.rnn_forward",), visibility="after_due_date")
    results = gradescope_results(graded, COURSE, hidden_until_due, 1.0)
    assert results["visibility"] == results["tests"][0]["visibility"] == "after_due_date"


def _installed_source(tmp_path: Path) -> Path:
    """An autograder's source/ as setup.sh leaves it, holding the rnn module's hidden suite only."""
    source = tmp_path / "autograder" / "source"
    (source / "suites" / "hidden").mkdir(parents=True)
    shutil.copy(ROOT / "course.toml", source)
    shutil.copy(ROOT / "suites" / "hidden" / "test_rnn.py", source / "suites" / "hidden")
    shutil.copytree(ROOT / "solutions", source / "solutions")
    return source


def test_setup_check_fails_when_an_exercise_has_no_hidden_checks(tmp_path, capsys):
    source = _installed_source(tmp_path)
    (source / "gradescope.json").write_text(Settings(("rnn.rnn_forward",)).to_json())
    assert check_setup(tmp_path / "autograder") == 0
    (source / "gradescope.json").write_text(Settings(("rnn.rnn_forward", "lstm.lstm_forward")).to_json())
    assert check_setup(tmp_path / "autograder") == 1
    assert "lstm.lstm_forward" in capsys.readouterr().err


def test_setup_check_fails_when_the_reference_does_not_get_full_marks_here(tmp_path, capsys):
    source = _installed_source(tmp_path)
    rnn = source / "solutions" / "rnn.py"
    rnn.write_text(rnn.read_text().replace("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = x @ Wx + prev_h @ Wh + b"))
    (source / "gradescope.json").write_text(Settings(("rnn.rnn_step_forward",)).to_json())
    assert check_setup(tmp_path / "autograder") == 1
    captured = capsys.readouterr()
    assert "not full marks on rnn.rnn_step_forward" in captured.err
    assert "isolated on this image" in captured.out


# ---------------------------------------------------------------- the scripts, for real

def unpack(archive: Path, into: Path) -> None:
    """As Gradescope's unzip does: files with the mode the zip gives them."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = into / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            target.chmod(info.external_attr >> 16 & 0o777)


def clean_env(**extra: str) -> dict:
    """No variable of this environment that could hand the scripts the course's checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "COURSE_ROOT", "PYTHON")}
    return {**env, **extra}


class Gradescope:
    """A tree laid out like Gradescope's, with the autograder installed by its setup.sh."""

    def __init__(self, root: Path, python: Path):
        self.root, self.python = root, python

    def grade(self, fill, use_python: bool = True) -> tuple[subprocess.CompletedProcess, dict]:
        submission, results = self.root / "submission", self.root / "results"
        for folder in (submission, results):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        fill(submission)
        env = clean_env(AUTOGRADER_ROOT=str(self.root), **({"PYTHON": str(self.python)} if use_python else {}))
        run = subprocess.run([str(self.root / "source" / "run_autograder")], env=env, cwd=self.root.parent,
                             capture_output=True, text=True, timeout=300)
        return run, json.loads((results / "results.json").read_text())


@pytest.fixture(scope="module")
def gradescope(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradescope")
    archive = base / "autograder.zip"
    assert build(archive, "--only", ONLY).exit_code == 0
    root = base / "autograder"
    unpack(archive, root / "source")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    env = clean_env(AUTOGRADER_ROOT=str(root), PYTHON=str(python), TORCH_INDEX_URL="")
    setup = subprocess.run([str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True,
                           timeout=600)
    seconds = time.monotonic() - started
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert "ready to grade 3 exercises" in setup.stdout
    print(f"\nGradescope setup (venv + setup.sh): {seconds:.1f} s")
    yield Gradescope(root, python)
    shutil.rmtree(base, ignore_errors=True)   # the venv holds torch: about 0.9 GB


def copy_modules(source: Path):
    def fill(submission: Path) -> None:
        for path in source.glob("*.py"):
            shutil.copy(path, submission / path.name)
    return fill


def test_solutions_get_full_marks(gradescope):
    run, results = gradescope.grade(copy_modules(SOLUTIONS))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert_gradescope_format(results)
    assert [t["name"] for t in results["tests"]] == ONLY.split(",")
    assert all(t["status"] == "passed" for t in results["tests"])
    assert results["score"] == ONLY_POINTS
    assert results["output"].startswith("**Attention from scratch**: 3 of 3 exercises passed")
    assert results["visibility"] == "visible" and results["stdout_visibility"] == "hidden"


def test_untouched_stubs_in_an_exercises_folder_get_zero(gradescope):
    run, results = gradescope.grade(lambda submission: shutil.copytree(EXERCISES, submission / "exercises"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert_gradescope_format(results)
    assert results["score"] == 0 and len(results["tests"]) == 3
    assert all(t["status"] == "failed" and "not written yet" in t["output"] for t in results["tests"])


def test_one_uploaded_zip_is_graded_with_the_interpreter_setup_chose(gradescope, tmp_path):
    partial = make_partial_submission(tmp_path / "exercises", {"rnn.rnn_step_forward"})

    def fill(submission: Path) -> None:
        with zipfile.ZipFile(submission / "homework 1.zip", "w") as archive:
            for path in sorted(partial.glob("*.py")):
                archive.write(path, f"exercises/{path.name}")

    run, results = gradescope.grade(fill, use_python=False)   # PYTHON unset: the one setup.sh recorded
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"run_autograder: {gradescope.python} -m grader" in run.stdout
    assert_gradescope_format(results)
    scores = {t["name"]: t["score"] for t in results["tests"]}
    assert scores == {"rnn.rnn_step_forward": 2.0, "rnn.rnn_forward": 0.0, "attention.softmax": 0.0}
    assert results["score"] == 2.0


def test_a_broken_course_still_gives_a_results_json_that_says_grading_failed(gradescope, tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(gradescope.root / "source", root / "source")
    (root / "source" / "course.toml").unlink()
    (root / "submission").mkdir()
    copy_modules(SOLUTIONS)(root / "submission")
    env = clean_env(AUTOGRADER_ROOT=str(root), PYTHON=str(gradescope.python))
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_format(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "contact the course staff" in results["output"]
    assert results["extra_data"]["grading_failed"] and "course.toml" in results["extra_data"]["reason"]
    assert "course.toml" in run.stdout    # the traceback, for the staff


def test_a_grader_that_cannot_start_still_gives_a_results_json(gradescope, tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(gradescope.root / "source", root / "source", ignore=shutil.ignore_patterns("grader"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    env = clean_env(AUTOGRADER_ROOT=str(root), PYTHON=str(tmp_path / "bare" / "bin" / "python"))
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode != 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_format(results)
    assert results["score"] == 0 and "contact the course staff" in results["output"]
    assert results["extra_data"]["grading_failed"]


def test_gradescope_refuses_to_write_over_the_course(tmp_path):
    from tests.support import copy_course

    root = copy_course(tmp_path / "course")       # a copy: were the guard broken, this is what it would overwrite
    before = (root / "course.toml").read_bytes()
    run = CliRunner().invoke(main, ["--course", str(root), "gradescope", "--out", str(root / "course.toml"), "--force"])
    assert run.exit_code != 0 and "course itself" in run.output
    assert (root / "course.toml").read_bytes() == before
