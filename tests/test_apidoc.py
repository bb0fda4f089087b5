"""docs/api.md, the project's own reference of the exercise API."""

from grader.course.apidoc import api_page
from grader.course.manifest import load_manifest
from grader.course.source import find_regions
from tests.support import ROOT

COURSE = load_manifest(ROOT / "course.toml")


def test_the_page_names_every_exercise_with_its_signature_and_no_solution_line():
    page = api_page(COURSE)
    stubs = "".join(p.read_text() for p in (ROOT / "exercises").glob("*.py"))   # what learners hold anyway
    for exercise in COURSE.exercises:
        if not exercise.is_capstone:
            assert f"### `{exercise.id}`" in page, exercise.id
    assert "def rnn_forward(x, h0, Wx, Wh, b)" in page
    assert "class MultiHeadAttention(nn.Module): __init__(d_model, num_heads, bias=True)" in page
    for module in COURSE.module_names:
        path = ROOT / "solutions" / f"{module}.py"
        if not path.exists():
            continue
        lines = path.read_text().splitlines()
        for region in find_regions(path.read_text(), str(path)):
            for line in lines[region.begin + 1:region.end]:
                if len(line.strip()) > 25 and line.strip() not in stubs:   # short ones occur in prose
                    assert line.strip() not in page, line


def test_the_committed_page_is_current():
    assert (ROOT / "docs" / "api.md").read_text() == api_page(COURSE)
