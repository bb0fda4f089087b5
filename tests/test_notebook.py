"""`course notebook MODULE`: building the notebook, and running it in a real kernel.

Every module's reference notebook is built, validated and executed with nbclient and the
python3 kernel (about 3-6 s each, the capstone's 20 s: it trains twice), and so is the
stub notebook of rnn.
"""

import re
import shutil
import sys

import nbformat
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from grader.cli import main
from grader.content import topics
from grader.course.manifest import load_manifest
from grader.course.notebook_cells import docstring_markdown
from grader.course.source import definition_source, make_stubs
from grader.learner import notebook, show
from tests.support import ROOT, SOLUTIONS, make_partial_submission

pytestmark = pytest.mark.slow  # runs every reference notebook, training included

COURSE = load_manifest(ROOT / "course.toml")


def build(out, module, *args, root=ROOT):
    run = CliRunner().invoke(main, ["--course", str(root), "notebook", module, "--out", str(out), *args],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    return nbformat.read(out, as_version=4)


def execute(nb, where):
    from nbclient import NotebookClient

    NotebookClient(nb, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(where)}}).execute()
    return nb


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def check_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")]


def picture_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("show(")]


@pytest.fixture(scope="module")
def reference_notebooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    return folder, {m.name: build(folder / f"{m.name}.ipynb", m.name, "--reference") for m in COURSE.modules}


# ---------------------------------------------------------------- building

def test_every_module_has_a_valid_notebook_with_a_cell_trio_per_exercise(reference_notebooks):
    _, notebooks = reference_notebooks
    for module in COURSE.modules:
        nb = notebooks[module.name]
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {module.title}")
        setup = nb.cells[2]
        assert setup.cell_type == "code" and "NotebookSession(globals(), module=" in setup.source
        checks = check_cells(nb)
        assert [c.source for c in checks] == [f"check({ex.name!r})" for ex in module.exercises]
        drawn = topics.topics_for_module(module.name)
        assert [c.source for c in picture_cells(nb)] == [f"show({t.name!r})" for t in drawn]
        if module.is_capstone:
            continue
        names = frozenset(ex.name for ex in module.exercises)
        solved = make_stubs((SOLUTIONS / f"{module.name}.py").read_text(), module.name, keep=names)
        for ex, check_cell in zip(module.exercises, checks):
            code = nb.cells[nb.cells.index(check_cell) - 1]
            assert code.source == definition_source(solved, ex.name), "the reference, without region markers"


def test_the_code_cells_hold_the_learners_current_code(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "course.toml", root)
    (root / "i18n").symlink_to(ROOT / "i18n")
    exercises = make_partial_submission(root / "exercises", {"rnn.rnn_step_forward"})
    nb = build(tmp_path / "rnn.ipynb", "rnn", root=root)
    source = (exercises / "rnn.py").read_text()
    code = {c.source.split("(")[0].removeprefix("def "): c.source for c in nb.cells
            if c.cell_type == "code" and c.source.startswith("def ")}
    assert code["rnn_step_forward"] == definition_source(source, "rnn_step_forward")
    assert "NotImplementedError" not in code["rnn_step_forward"]
    assert "raise NotImplementedError" in code["rnn_forward"]
    assert "modules_from='exercises'" in nb.cells[2].source and "import numpy as np" in nb.cells[2].source


def test_korean_notebooks_have_the_korean_intro_and_instructions(tmp_path):
    nb = build(tmp_path / "rnn.ko.ipynb", "rnn", "--lang", "ko", "--reference")
    hangul = re.compile(r"[\uac00-\ud7a3]")
    assert hangul.search(nb.cells[0].source)
    instructions = [c for c in nb.cells if c.cell_type == "markdown" and "`rnn.rnn_forward`" in c.source]
    assert len(instructions) == 1 and hangul.search(instructions[0].source)
    assert "lang='ko'" in nb.cells[2].source


def test_bad_requests_are_refused_with_a_reason(tmp_path):
    runner = CliRunner()
    out = tmp_path / "rnn.ipynb"
    out.write_text("my work")
    run = runner.invoke(main, ["--course", str(ROOT), "notebook", "rnn", "--out", str(out)])
    assert run.exit_code == 1 and "--force" in run.output and out.read_text() == "my work"
    run = runner.invoke(main, ["--course", str(ROOT), "notebook", "rnnn", "--out", str(tmp_path / "x.ipynb")])
    assert run.exit_code == 1 and "no module 'rnnn'" in run.output and "multihead" in run.output
    assert "Traceback" not in run.output


def test_a_file_with_a_syntax_error_is_reported_not_turned_into_cells(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "course.toml", root)
    (root / "exercises").mkdir()
    (root / "exercises" / "rnn.py").write_text("def rnn_step_forward(:\n")
    run = CliRunner().invoke(main, ["--course", str(root), "notebook", "rnn", "--out", str(tmp_path / "rnn.ipynb")])
    assert run.exit_code == 1 and "syntax error at line 1" in run.output


def test_docstrings_become_markdown_that_shows_the_same_thing():
    text = ("Returns (next_h, cache), with __init__ and <pad>:\n"
            "    next_h = tanh(x Wx + b)      (N, H)\n"
            "where `F.scaled_dot_product_attention` is off limits and a*b*c stays.\n"
            "\n"
            "  - a list item that goes\n"
            "    on here\n"
            "\n"
            "Then run `course check\n"
            "my_module`; a lone ` is a backtick.\n")
    html = MarkdownIt("commonmark").render(docstring_markdown(text))
    assert "<pre><code>next_h = tanh(x Wx + b)      (N, H)\n</code></pre>" in html
    assert "(next_h, cache), with __init__ and &lt;pad&gt;:" in html
    assert "<code>F.scaled_dot_product_attention</code>" in html and "a*b*c stays" in html
    assert "<li>a list item that goes\non here</li>" in html
    assert "<p>Then run <code>course check my_module</code>; a lone ` is a backtick.</p>" in html


def test_a_formula_under_a_step_and_a_table_keep_their_layout():
    """As the attention intro writes them: a numbered list with a formula indented under
    each step, and a table of names, formulas and indented notes."""
    text = ("At step t:\n"
            "\n"
            "  1. score every state:\n"
            "         e_i = score(s_t, h_i)\n"
            "  2. normalise them\n"
            "\n"
            "  dot     e_i = s . h\n"
            "          the cheapest\n")
    html = MarkdownIt("commonmark").render(docstring_markdown(text))
    assert "<pre><code>1. score every state:\n       e_i = score(s_t, h_i)\n2. normalise them\n</code></pre>" in html
    assert "<pre><code>dot     e_i = s . h\n        the cheapest\n</code></pre>" in html
    assert "<p>At step t:</p>" in html


def test_a_check_cell_prints_the_feedback_of_a_wrong_definition_and_does_not_raise(capsys, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    namespace = {"rnn_step_forward": lambda x, prev_h, Wx, Wh, b: (x @ Wx + prev_h @ Wh + b, None)}
    session = notebook.NotebookSession(namespace, module="rnn", modules_from="solutions", course_root=str(ROOT))
    session.check("rnn_step_forward")
    session.check("rnn_forward")
    out = capsys.readouterr().out
    assert "✗ rnn.rnn_step_forward: 1/2 checks" in out
    assert "✗ a tiny example (N=1, D=2, H=2)" in out and "entries of next_h differ from the expected value" in out
    assert "rnn_forward is not defined yet: run the cell that defines it" in out
    assert "Stuck? `course hint rnn.rnn_step_forward`" in out


# ---------------------------------------------------------------- running in a kernel

@pytest.mark.parametrize("module", [m.name for m in COURSE.modules])
def test_the_reference_notebook_runs_top_to_bottom_and_every_check_passes(reference_notebooks, module):
    folder, notebooks = reference_notebooks
    nb = execute(notebooks[module], folder)
    for cell in check_cells(nb):
        exercise = f"{module}.{cell.source[7:-2]}"
        assert printed(cell).startswith(f"✓ {exercise}: "), printed(cell)
        assert "✗" not in printed(cell)
    for cell in picture_cells(nb):
        topic = cell.source[6:-2]
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), f"no picture for {topic}"
        assert f"{topic}: yours" in printed(cell), printed(cell)


def test_the_stub_notebook_runs_top_to_bottom_and_says_what_fails(tmp_path):
    nb = execute(build(tmp_path / "rnn.ipynb", "rnn"), tmp_path)
    for cell in check_cells(nb):
        assert printed(cell).startswith(f"✗ rnn.{cell.source[7:-2]}: 0/"), printed(cell)
        assert "raised NotImplementedError" in printed(cell)
    picture, = picture_cells(nb)
    assert "vanishing: reference, because rnn.rnn_step_forward does not pass its checks yet" in printed(picture)
    assert any("image/png" in o.get("data", {}) for o in picture.outputs)
