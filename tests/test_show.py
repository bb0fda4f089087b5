"""`course show`: the pictures, and the choice between the learner's code and the reference."""

import contextlib
import dataclasses
import re
import shutil
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from grader.content import topics

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.learner import show
from tests.support import EXERCISES, ROOT, SOLUTIONS, make_submission

pytestmark = pytest.mark.slow  # draws every picture with the learner's code

PNG = b"\x89PNG\r\n\x1a\n"
BROKEN_NORMS = "def hidden_grad_norms(dh_last, cache):\n    return [1.0]\n"


def course_root(where: Path, exercises: Path, solutions: bool = True, shipped: Path | None = None) -> Path:
    """A course folder as a learner has it: the manifest, the visible checks, the texts,
    their exercises/, and either solutions/ (the repository) or shipped reference
    pictures (a student's release)."""
    root = where / "course"
    root.mkdir()
    shutil.copy(ROOT / "course.toml", root / "course.toml")
    shutil.copytree(ROOT / "suites" / "visible", root / "suites" / "visible")
    (root / "i18n").symlink_to(ROOT / "i18n")
    shutil.copytree(exercises, root / "exercises")
    if solutions:
        (root / "solutions").symlink_to(SOLUTIONS)
    if shipped is not None:
        shutil.copytree(shipped, root / show.SHIPPED)
    return root


def run_show(root: Path, *args: str):
    return CliRunner(env={"COLUMNS": "1000"}).invoke(main, ["--course", str(root), "show", *args],
                                                    catch_exceptions=False)


def lines_by_topic(output: str) -> dict[str, str]:
    """The line each picture gets, by topic."""
    return dict(re.findall(r"^[✓•] (\w+): (.*)$", output, flags=re.MULTILINE))


def assert_sensible_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG, f"{path.name} is not a PNG"
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert 400 <= width <= 2500 and 250 <= height <= 2000, f"{path.name} is {width}x{height}"
    assert pixels.std() > 20, f"{path.name} looks blank (pixel standard deviation {pixels.std():.1f})"


HANGUL = re.compile(r"[\uac00-\ud7a3]")


class Recording(topics.Report):
    """A :class:`Report` that keeps what a topic's training runs and tables said."""

    def __init__(self):
        self.steps, self.tables = [], []

    @contextlib.contextmanager
    def training(self, runs):
        yield lambda name, step, loss: self.steps.append((name, step))

    def table(self, title, headers, rows, note=""):
        self.tables.append((title, list(headers), [list(r) for r in rows], note))


@pytest.fixture(scope="module")
def reference_pictures(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    paths = show.write_reference_pictures(load_manifest(ROOT / "course.toml"), out)
    return out, paths


# ---------------------------------------------------------------- the pictures themselves

def test_the_reference_pictures_are_sensible_pngs_one_per_topic(reference_pictures):
    out, paths = reference_pictures
    assert [p.name for p in paths] == [f"{name}.png" for name in topics.TOPICS]
    for path in paths:
        assert_sensible_png(path)


def test_the_vanishing_curves_tell_the_story_the_caption_tells():
    reference = show.reference_modules(load_manifest(ROOT / "course.toml"))
    curves = topics.vanishing_curves(reference)
    rnn, lstm_closed, lstm_open = (curves[k] for k in curves)
    assert rnn[0] / rnn[-1] < 1e-6 and lstm_closed[0] / lstm_closed[-1] < 1e-6, "both vanish"
    assert lstm_open[0] / lstm_open[-1] > 1e-2, "open forget gates keep the gradient"


def test_each_head_does_the_one_job_its_title_says():
    weights = topics.head_weights(show.reference_modules(load_manifest(ROOT / "course.toml")))
    words = topics.HEAD_SENTENCE
    strongest = weights.argmax(axis=-1)                   # (heads, T): where each word looks most
    T = len(words)
    assert strongest[0].tolist() == [0] + list(range(T - 1)), "previous word"
    assert strongest[1].tolist() == list(range(1, T)) + [T - 1], "next word"
    for t, word in enumerate(words):
        same = [s for s, other in enumerate(words) if other == word]
        assert weights[2, t, same].sum() > 0.95, "same word"
    assert (strongest[3] == 0).all(), "first word"


# ---------------------------------------------------------------- yours or the reference

def test_a_solutions_copy_draws_with_its_own_code_and_checks_each_exercise_once(tmp_path, monkeypatch):
    exercises = make_submission(tmp_path / "mine", {"rnn.hidden_grad_norms": BROKEN_NORMS})
    (exercises / "heads.py").write_text("def mean_pool(:\n")      # a module no picture uses
    root = course_root(tmp_path, exercises)
    from grader.engine import grading

    graded = []
    real = grading.grade_exercise
    monkeypatch.setattr(grading, "grade_exercise",
                        lambda ctx, ex, folder, passed=None: graded.append(ex.id) or real(ctx, ex, folder, passed))
    out = tmp_path / "pictures"
    run = run_show(root, "all", "--out", str(out))
    assert run.exit_code == 0, run.output
    found = lines_by_topic(run.output)
    assert set(found) == set(topics.TOPICS), run.output
    assert found["vanishing"].endswith("(reference, because rnn.hidden_grad_norms does not pass its checks yet)")
    for topic in ("positional", "masks", "heads", "capstone"):
        assert found[topic].endswith("(yours)"), found[topic]
    assert len(graded) == len(set(graded)), "every exercise is checked once per run"
    assert "rnn.hidden_grad_norms" in graded and "lstm.lstm_step_forward" not in graded, \
        "checking stops at the first exercise a picture needs that fails"
    for name in topics.TOPICS:
        assert_sensible_png(out / f"{name}.png")


def test_a_stub_folder_gets_the_reference_and_is_told_which_exercise_to_finish(tmp_path, reference_pictures):
    root = course_root(tmp_path, EXERCISES)
    run = run_show(root, "heads", "--out", str(tmp_path / "pictures"))
    assert run.exit_code == 0, run.output
    assert lines_by_topic(run.output) == {
        "heads": f"wrote {tmp_path / 'pictures' / 'heads.png'} (reference, because attention.softmax does not pass "
                 "its checks yet)"}
    drawn = np.asarray(Image.open(tmp_path / "pictures" / "heads.png").convert("L"), dtype=float)
    shipped = np.asarray(Image.open(reference_pictures[0] / "heads.png").convert("L"), dtype=float)
    assert drawn.shape == shipped.shape and np.abs(drawn - shipped).mean() < 1.0, "the reference's picture"


def test_a_release_without_solutions_copies_the_shipped_pictures(tmp_path, reference_pictures):
    shipped, _ = reference_pictures
    root = course_root(tmp_path, EXERCISES, solutions=False, shipped=shipped)
    out = tmp_path / "pictures"
    run = run_show(root, "all", "--out", str(out))
    assert run.exit_code == 0, run.output
    found = lines_by_topic(run.output)
    assert set(found) == set(topics.TOPICS) and all("(reference, because" in line for line in found.values())
    for name in topics.TOPICS:
        assert (out / f"{name}.png").read_bytes() == (shipped / f"{name}.png").read_bytes()


def test_without_solutions_or_shipped_pictures_it_says_so_and_fails(tmp_path):
    root = course_root(tmp_path, EXERCISES, solutions=False)
    run = run_show(root, "positional", "--out", str(tmp_path / "pictures"))
    assert run.exit_code == 1
    assert "no picture" in run.output and "pictures/reference" in run.output
    assert not (tmp_path / "pictures" / "positional.png").exists()


def test_learner_code_that_breaks_or_hangs_while_drawing_falls_back_with_the_reason(tmp_path):
    course = load_manifest(ROOT / "course.toml")
    topic = dataclasses.replace(topics.TOPICS["positional"], time_limit=0.5)

    def hangs(max_len, d_model, dtype=None):
        while True:
            pass

    def wrong_shape(max_len, d_model, dtype=None):
        return np.zeros((d_model, max_len + 1))

    for encoding, reason in ((hangs, "your code took longer than 0.5 s to draw it"),
                             (wrong_shape, "your code raised PictureError: sinusoidal_positional_encoding(100, 64) "
                                           "has shape (64, 101)")):
        modules = types.SimpleNamespace(positional=types.SimpleNamespace(sinusoidal_positional_encoding=encoding))
        picture = show.make_picture(course, topic, tmp_path, lambda ids: None, lambda _: modules)
        assert not picture.yours and picture.reason.startswith(reason), picture.reason
        assert_sensible_png(picture.path)


def test_a_learners_modules_are_loaded_from_a_copy_of_what_the_topic_needs_and_imports(tmp_path):
    folder = make_submission(tmp_path / "mine")
    (folder / "transformer.py").write_text("raise SystemExit('imported')\n")
    learner = show.LearnerModules(load_manifest(ROOT / "course.toml"), folder)
    try:
        modules = learner.for_topic(topics.TOPICS["masks"])
        assert Path(modules.masking.__file__).read_text() == (folder / "masking.py").read_text()
        assert not Path(modules.masking.__file__).is_relative_to(folder)
        assert modules.attention.softmax is not None, "masking imports attention: it comes along"
        with pytest.raises(AttributeError):
            modules.transformer                 # neither needed nor imported, so never run
    finally:
        learner.close()


def test_an_unknown_topic_lists_the_topics(tmp_path):
    run = CliRunner().invoke(main, ["--course", str(ROOT), "show", "attention"])
    assert run.exit_code == 2
    for name in [*topics.TOPICS, "all"]:
        assert name in run.output
