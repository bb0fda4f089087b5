"""Issue 17, a learner's first hour: the student bundle offers exactly its commands and
no solution line; the pictures say whose code drew them and speak Korean in Korean; the
Korean particles agree with the word before them; a notebook names no absolute path."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from grader.cli import all_commands, main
from grader.content import pictures, topics
from grader.course import i18n
from grader.course.i18n import agree_particles, message, particle, word_ending
from grader.course.source import find_regions
from grader.instructor.release import build_release, find_leaks, hidden_check_names, left_out_commands, secret_lines
from grader.learner import show
from tests.support import ROOT, copy_course
from tests.test_release import _bundle_texts, _region_lines

pytestmark = pytest.mark.slow  # builds the student bundle and draws its pictures

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory):
    return build_release(course, tmp_path_factory.mktemp("release") / "student")


def bundle_commands(bundle: Path) -> set[str]:
    """The subcommands the bundle has: the ``command`` of each file of its grader/commands."""
    names = set()
    for path in (bundle / "grader" / "commands").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == "command":
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", None) == "command" \
                            and decorator.args and isinstance(decorator.args[0], ast.Constant):
                        names.add(decorator.args[0].value)
    return names


def run_bundle(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    """``course ARGS`` with the bundle's own grader package (not this repository's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_ROOT", "COURSE_LANG")}
    env["PYTHONPATH"] = str(bundle)
    return subprocess.run([sys.executable, "-c", "import sys; from grader.cli import main; "
                           "assert sys.modules['grader'].__file__.startswith(sys.argv[1]); main(sys.argv[2:])",
                           str(bundle), *args], cwd=bundle, env=env, capture_output=True, text=True, timeout=300)


def mentioned_commands(text: str) -> set[str]:
    """The commands of the course (this repository's, the instructors' too) that ``text``
    names as ``course NAME`` (``course folder`` is no command)."""
    return set(re.findall(r"\bcourse (?:--lang \w+ )?([a-z][a-z_]+)\b", text)) & set(all_commands())


# ---------------------------------------------------------------- the bundle

def test_the_bundles_help_offers_exactly_the_commands_it_has(bundle):
    has = bundle_commands(bundle)
    assert {"check", "hint", "list", "explain", "watch", "show", "notebook", "capstone"} <= has
    helped = run_bundle(bundle, "--help")
    assert helped.returncode == 0, helped.stderr
    listed = {line.split()[0] for line in helped.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == has
    assert mentioned_commands(helped.stdout) <= has, helped.stdout
    for name in has:        # and every command's own help
        own = run_bundle(bundle, name, "--help")
        assert own.returncode == 0 and mentioned_commands(own.stdout) <= has, (name, own.stdout)


def test_the_bundles_readme_shows_every_command_and_no_other(bundle):
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    has = bundle_commands(bundle)
    assert {name for name in has if f"course {name}" not in readme} == set()
    assert mentioned_commands(readme) <= has


def _texts_said_to_learners(bundle: Path) -> dict[str, str]:
    """What the bundle can say to a learner: its README, manifest and message files, and
    every string of its grader package but the docstrings of modules, classes and plain
    functions (a command's docstring is its --help: that one counts)."""
    said = {}
    for path in [bundle / "README.md", bundle / "course.toml", *sorted((bundle / "i18n").rglob("*.toml"))]:
        said[str(path.relative_to(bundle))] = path.read_text(encoding="utf-8")
    for path in sorted((bundle / "grader").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
                first = node.body[0]
                is_help = path.parent.name == "commands" or (path.name == "cli.py" and getattr(node, "name", "") == "main")
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and not (
                        is_help and isinstance(node, ast.FunctionDef)):
                    docstrings.add(id(first.value))
        strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                   and isinstance(node.value, str) and id(node) not in docstrings]
        said[str(path.relative_to(bundle))] = "\n".join(strings)
    return said


def test_nothing_in_the_bundle_points_at_a_command_it_lacks(bundle):
    lacks = left_out_commands()
    assert {"grade", "sync", "release"} <= lacks and not lacks & bundle_commands(bundle)
    pointing = [(where, name) for where, text in _texts_said_to_learners(bundle).items()
                for name in mentioned_commands(text) & lacks]
    assert pointing == []


def _code(line: str) -> str:
    """A line's code, read here independently of grader.instructor.release: no comment, one space."""
    return " ".join(line.split(" #")[0].split())


def test_no_line_of_any_solution_region_is_in_the_bundle_comments_and_spacing_aside(bundle):
    """The whole-line scan of tests/test_release.py, on the code of each line: a solution
    line quoted without its comment (as grader/course/source.py's docstring once did) is found."""
    outside = set()                   # code the solution files show outside their regions: the stubs show it
    for path in (ROOT / "solutions").glob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        inside = {index for region in find_regions("\n".join(lines)) for index in range(region.begin + 1, region.end)}
        outside |= {_code(line) for index, line in enumerate(lines) if index not in inside}
    secrets = {_code(line): where for line, where in _region_lines(min_length=12).items()}
    secrets = {code: where for code, where in secrets.items() if len(code) >= 12 and code not in outside}
    assert "next_h = np.tanh(x @ Wx + prev_h @ Wh + b)" in secrets
    texts = _bundle_texts(bundle)
    assert "grader/course/source.py" in texts
    leaked = [(name, line.strip()) for name, text in texts.items() for line in text.splitlines()
              if _code(line) in secrets]
    assert leaked == []


def test_the_release_scan_finds_a_solution_line_quoted_without_its_comment(bundle, course, tmp_path):
    copy = shutil.copytree(bundle, tmp_path / "copy")
    secrets = secret_lines(course)
    assert any(line.startswith("next_h = np.tanh(") and " #" in line for line in secrets)
    (copy / "notes.py").write_text('"""For example::\n\n    next_h  =  np.tanh(x @ Wx + prev_h @ Wh + b)\n"""\n')
    leaks = find_leaks(copy, secrets, hidden_check_names(course))
    assert [(leak.path, leak.line) for leak in leaks] == [("notes.py", 3)]
    assert "rnn.rnn_step_forward" in leaks[0].what


def test_the_bundle_ignores_notebooks_and_ships_the_reference_pictures_in_korean(bundle):
    assert "notebooks/" in (bundle / ".gitignore").read_text().splitlines()
    english = sorted(p.name for p in (bundle / show.SHIPPED).glob("*.png"))
    korean = sorted(p.name for p in (bundle / show.SHIPPED / "ko").glob("*.png"))
    assert english == korean == sorted(f"{name}.png" for name in topics.TOPICS)


def test_a_release_without_solutions_shows_the_korean_reference_in_korean(bundle, tmp_path):
    out = tmp_path / "pictures"
    run = CliRunner().invoke(main, ["--course", str(bundle), "show", "masks", "--lang", "ko", "--out", str(out)],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert (out / "masks.png").read_bytes() == (bundle / show.SHIPPED / "ko" / "masks.png").read_bytes()


# ---------------------------------------------------------------- the pictures

@pytest.fixture(scope="module")
def computed(reference):
    """What each topic shows, computed once with the reference; the capstone's made up
    (its training run takes seconds and changes nothing here)."""
    rng = np.random.default_rng(0)
    found = {name: topic.compute(reference) for name, topic in topics.TOPICS.items() if name != "capstone"}
    found["capstone"] = (rng.dirichlet(np.ones(7), size=(2, 8)), ["bos"] + [str(d) for d in range(7)],
                         [str(d) for d in range(7)], 0.97)
    return found


def _figure_texts(monkeypatch) -> list[dict]:
    """Every figure saved from now on, as {"title": ..., "labels": [...]} (its suptitle or
    single axes title, and every other text in it), read just before it is written."""
    figures = []
    real = pictures._save

    def spy(fig, path, *args, **kwargs):
        texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")) if t.get_text().strip()]
        title = fig._suptitle.get_text() if fig._suptitle is not None else fig.axes[0].get_title()
        figures.append({"title": title, "texts": texts, "path": Path(path)})
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(pictures, "_save", spy)
    return figures


@pytest.mark.parametrize("yours", [True, False])
def test_every_pictures_title_says_whose_code_drew_it(computed, tmp_path, monkeypatch, yours):
    figures = _figure_texts(monkeypatch)
    for name, topic in topics.TOPICS.items():
        topic.render(computed[name], tmp_path / f"{name}.png", "en", yours)
    assert len(figures) == len(topics.TOPICS)
    whose = "drawn with your code" if yours else "drawn with the reference implementation"
    for figure in figures:
        assert figure["title"].splitlines()[-1] == whose, figure


def test_a_learners_picture_says_yours_and_the_fallback_says_reference(tmp_path):
    from grader.course.manifest import load_manifest

    course = load_manifest(ROOT / "course.toml")
    topic = topics.TOPICS["positional"]
    reference = show.reference_modules(course)
    seen = []
    spy = lambda found, path, lang, yours: seen.append(yours) or pictures_path(path)   # noqa: E731
    mine = show.make_picture(course, _with_render(topic, spy), tmp_path, lambda ids: None, lambda _: reference)
    fallback = show.make_picture(course, _with_render(topic, spy), tmp_path, lambda ids: "not yet",
                                 lambda _: reference)
    assert mine.yours and not fallback.yours and seen == [True, False]


def pictures_path(path: Path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n")
    return Path(path)


def _with_render(topic, render):
    import dataclasses

    return dataclasses.replace(topic, render=render)


def test_korean_pictures_have_korean_words_in_a_font_with_hangul(computed, tmp_path, monkeypatch):
    assert pictures.hangul_font() is not None, "koreanize-matplotlib (a dependency) ships NanumGothic"
    figures = _figure_texts(monkeypatch)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")   # a Hangul glyph drawn as a box
        for name, topic in topics.TOPICS.items():
            topic.render(computed[name], tmp_path / f"{name}.png", "ko", False)
    for figure in figures:
        assert HANGUL.search(figure["title"]), figure["title"]
        assert figure["title"].splitlines()[-1] == message("picture_whose_reference", "ko")
        english = [t for t in figure["texts"] if re.fullmatch(r"(head \d.*|position|dimension|value|key|query|"
                                                              r"source|attention weight|sentence \d|time step.*)", t)]
        assert english == [], (figure["path"].name, english)
        assert sum(bool(HANGUL.search(t)) for t in figure["texts"]) >= 3, figure["texts"]


def test_without_a_hangul_font_korean_pictures_keep_english_words_and_say_so(computed, tmp_path, monkeypatch,
                                                                             capsys):
    monkeypatch.setattr(pictures, "hangul_font", lambda: None)
    monkeypatch.setattr(pictures, "_told", set())
    figures = _figure_texts(monkeypatch)
    for name in ("masks", "heads"):
        topics.TOPICS[name].render(computed[name], tmp_path / f"{name}.png", "ko", True)
        topics.TOPICS[name].render(computed[name], tmp_path / f"{name}-2.png", "ko", True)
    assert all(not HANGUL.search(" ".join(f["texts"])) for f in figures)
    assert figures[0]["title"].endswith("drawn with your code")
    assert capsys.readouterr().err.count("koreanize-matplotlib") == 1


def test_the_pictures_are_at_least_100_dpi_and_the_capstone_is_big_enough_to_read(computed, tmp_path):
    for name, topic in topics.TOPICS.items():
        path = topic.render(computed[name], tmp_path / f"{name}.png", "en", True)
        with Image.open(path) as image:
            assert min(image.info["dpi"]) >= 100, (name, image.info["dpi"])
            if name == "capstone":
                width, height = image.size
                assert width >= 900 and height >= 500, image.size


# ---------------------------------------------------------------- Korean particles

@pytest.mark.parametrize("word, pair, agreed", [
    ("dot_score", "을(를)", "를"), ("softmax", "을(를)", "를"), ("파일", "을(를)", "을"), ("함수", "을(를)", "를"),
    ("rnn", "이(가)", "이"), ("causal_mask", "이(가)", "가"), ("mask_len", "은(는)", "은"),
    ("masking", "이(가)", "이"), ("exercises/", "(으)로", "로"), ("state.json.broken", "(으)로", "으로"),
    ("tool", "(으)로", "로"), ("파일", "(으)로", "로"), ("책", "(으)로", "으로"), ("step 3", "와(과)", "과"),
    ("step 2", "와(과)", "와"), ("`rnn.rnn_forward`", "을(를)", "를"), ("10", "이(가)", "이"), ("7", "(으)로", "로"),
    ("!?", "을(를)", "을(를)"),
])
def test_a_particle_agrees_with_the_end_of_the_word(word, pair, agreed):
    assert particle(word, pair) == agreed


def test_word_endings():
    assert [word_ending(w) for w in ("사과", "물", "밥", "ring", "x", "8", "", "...")] == [
        "vowel", "rieul", "consonant", "consonant", "vowel", "rieul", None, None]


def test_messages_fill_the_particle_after_the_placeholder_even_inside_markup():
    assert message("show_reason_failing", "ko", exercise="attention.dot_score") == \
        "attention.dot_score가 아직 검사(check)를 통과하지 못했습니다"
    assert message("show_reason_failing", "ko", exercise="masking.causal_mask_len").startswith(
        "masking.causal_mask_len이 아직")
    assert message("notebook_grading", "ko", file="exercises/rnn.py").startswith(
        "채점과 `course check`는 이 노트북이 아니라 exercises/rnn.py를 읽습니다")
    assert agree_particles("[bold]{name}[/]을(를) 고치세요", {"name": "causal_mask"}) == "[bold]{name}[/]를 고치세요"
    assert agree_particles("{n:g}이(가)", {"n": 3.0}) == "{n:g}이"
    assert agree_particles("{missing}을(를)", {}) == "{missing}을(를)"


def _korean_messages() -> dict[str, str]:
    return i18n.messages("ko")


def test_every_variable_particle_after_a_placeholder_is_written_so_that_it_can_agree():
    """A particle that changes with the word ("{name}를") must be written as a pair
    ("{name}을(를)"), which the message fills in; a fixed one ("{name}의") is fine."""
    fixed = re.compile(r"\{\w+(?::[^{}]*)?\}(?:\[/?[^\[\]]*\])*(을|를|이|가|은|는|와|과|으로|로)(?![(\w가-힣])")
    wrong = {key: text for key, text in _korean_messages().items() if fixed.search(text)}
    assert wrong == {}


def test_no_korean_message_shows_a_mechanical_particle_pair():
    samples = {"dot_score", "파일", "rnn.rnn_step_forward", "/tmp/state.json.broken", "exercises/", "3"}
    for key, text in _korean_messages().items():
        fields = {name: value for name in re.findall(r"\{(\w+)", text)
                  for value in [sorted(samples)[hash(key + name) % len(samples)]]}
        try:
            shown = message(key, "ko", **fields)
        except (ValueError, KeyError):      # a numeric format ({points:g}) with a word in it
            continue
        assert not re.search(r"[을이은와과]\([를가는과와]\)|\(으\)로", shown), (key, shown)


# ---------------------------------------------------------------- the notebook

def test_a_notebook_names_no_absolute_path_and_goes_to_the_ignored_notebooks_folder(tmp_path, monkeypatch):
    root = copy_course(tmp_path / "course", folders=("exercises", "suites/visible", "i18n"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = CliRunner().invoke(main, ["--course", str(root), "notebook", "masking"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    written = root / "notebooks" / "masking.ipynb"
    assert written.is_file() and not (elsewhere / "notebooks").exists()
    text = written.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and str(ROOT) not in text
    setup = next(c for c in json.loads(text)["cells"] if "NotebookSession(" in "".join(c["source"]))
    assert "course_root='..'" in "".join(setup["source"])
    # the kernel starts in the notebook's folder; the relative path finds the course from there
    from grader.learner.notebook import NotebookSession

    monkeypatch.chdir(tmp_path)          # outside the course: only course_root can find it
    other = tmp_path / "nb"
    other.mkdir()
    monkeypatch.chdir(other)
    session = NotebookSession({}, module="masking", course_root=os.path.relpath(root, other))
    assert session.course.root.resolve() == root.resolve()
    assert "notebooks/" in (ROOT / ".gitignore").read_text().splitlines()
