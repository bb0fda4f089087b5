"""`course grade --similarity`: pairs of submissions whose code is alike, stubs excluded."""

import shutil
import sys

import pytest

from grader.course.manifest import load_manifest
from grader.instructor.report import CLASS_FILES, SIMILARITY_HTML
from grader.instructor.similarity import SimilarityUnavailable, copydetect_present, find_similar
from tests.support import ROOT

COURSE = load_manifest(ROOT / "course.toml")


def _submission(folder, own=()):
    """The handed-out stubs, with the reference's version of the modules in ``own``."""
    shutil.copytree(ROOT / "exercises", folder)
    for module in own:
        shutil.copy(ROOT / "solutions" / f"{module}.py", folder / f"{module}.py")
    return folder


def test_alike_solutions_are_paired_and_the_stubs_count_for_nothing(tmp_path):
    subs = [_submission(tmp_path / "ann", own=["rnn", "lstm"]), _submission(tmp_path / "bob", own=["rnn", "lstm"]),
            _submission(tmp_path / "cem", own=["lstm"]), _submission(tmp_path / "dan"), _submission(tmp_path / "eve")]
    pairs = find_similar(COURSE, subs, tmp_path / "out")
    found = {(p.first, p.second): [name for name, _ in p.files] for p in pairs}
    assert sorted(found["ann", "bob"]) == ["lstm.py", "rnn.py"]
    assert found["ann", "cem"] == ["lstm.py"] and found["bob", "cem"] == ["lstm.py"]
    # dan and eve hand in the stubs untouched, identical to each other: nothing to see
    assert not [pair for pair in found if "dan" in pair or "eve" in pair]
    assert pairs[0].first == "ann" and pairs[0].second == "bob"     # most files alike first


def test_the_report_names_submissions_not_this_machines_paths(tmp_path):
    subs = [_submission(tmp_path / "ann", own=["rnn"]), _submission(tmp_path / "bob", own=["rnn"])]
    find_similar(COURSE, subs, tmp_path / "out")
    report = (tmp_path / "out" / SIMILARITY_HTML).read_text()
    assert "ann/rnn.py" in report and "course-similarity-" not in report and str(tmp_path) not in report
    assert SIMILARITY_HTML in CLASS_FILES


def test_without_copydetect_it_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "copydetect", None)      # makes `import copydetect` fail
    with pytest.raises(SimilarityUnavailable, match=r"pip install -e '\.\[similarity\]'"):
        copydetect_present()
