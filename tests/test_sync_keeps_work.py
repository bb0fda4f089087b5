"""`course sync` never loses a learner's work, and its check judges the course, not them."""

import subprocess

from click.testing import CliRunner

from grader.cli import main
from grader.course.source import make_stubs
from tests.support import ROOT, copy_course


def run(root, *args):
    return CliRunner().invoke(main, ["--course", str(root), "sync", *args])


def _solve_first_exercise(root):
    """The learner writes rnn_step_forward in exercises/rnn.py."""
    solved = make_stubs((ROOT / "solutions" / "rnn.py").read_text(), "rnn", keep=frozenset({"rnn_step_forward"}))
    (root / "exercises" / "rnn.py").write_text(solved)
    return solved


def _change_the_docstrings(root):
    """A course developer edits the module docstrings of rnn and lstm."""
    for module in ("rnn", "lstm"):
        path = root / "solutions" / f"{module}.py"
        path.write_text(path.read_text().replace('"""', '"""Edited. ', 1))


def test_sync_leaves_a_file_with_the_learners_work_alone_and_says_so(tmp_path):
    root = copy_course(tmp_path / "course")
    mine = _solve_first_exercise(root)
    _change_the_docstrings(root)
    result = run(root)
    assert result.exit_code == 0, result.output
    assert (root / "exercises" / "rnn.py").read_text() == mine
    assert (root / "exercises" / "lstm.py").read_text().startswith('"""Edited. ')   # a stub: regenerated
    assert "left alone, since they hold your own work: exercises/rnn.py" in " ".join(result.output.split())


def test_sync_force_keeps_a_copy_of_the_learners_work_first(tmp_path):
    root = copy_course(tmp_path / "course")
    mine = _solve_first_exercise(root)
    result = run(root, "--force")
    assert result.exit_code == 0, result.output
    backups = list((root / ".course" / "backup").glob("*/rnn.py"))
    assert [b.read_text() for b in backups] == [mine]
    assert (root / "exercises" / "rnn.py").read_text() != mine
    assert "your own versions of those files are in .course/backup/" in result.output


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


def test_the_check_judges_the_committed_stub_of_a_file_the_learner_edited(tmp_path):
    root = copy_course(tmp_path / "course")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "course")
    _solve_first_exercise(root)
    result = run(root, "--check")
    assert result.exit_code == 0, result.output          # a learner's clone: `make test` passes
    _change_the_docstrings(root)                          # the course itself out of date: it fails
    result = run(root, "--check")
    assert result.exit_code == 1
    assert "exercises/rnn.py: as committed, differs" in result.output
    assert "exercises/lstm.py: differs from what solutions/ generates" in result.output
