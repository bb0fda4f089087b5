"""Pairs of submissions whose code is unusually alike, for an instructor to read.

The comparison is copydetect's (winnowing, as MOSS does it): each module file of a
submission is compared with the file of the same name in every other submission, and
the stubs the course hands out (``exercises/``) are boilerplate, so the code everyone
was given counts for nothing. A pair of submissions is listed when some of its files
are alike above the threshold, most alike first; copydetect's side-by-side HTML report
is written beside the grades as ``similarity.html``.

Alike is not copied: learners who follow the same hints write similar code, and a
correct solution to a small exercise has few forms. The report is a place to start
reading, never a verdict.

Submissions are read as grading reads them (:func:`grader.instructor.submission.open_submission`:
zips unpacked safely, links refused), into a temporary folder named after each
submission, so that the report names ``ann/rnn.py``, not a path of this machine.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.course.manifest import Course
from grader.instructor.report import SIMILARITY_HTML, write_atomically
from grader.instructor.submission import open_submission, submission_name

THRESHOLD = 0.5     # the share of a file's fingerprints found in the other file


class SimilarityUnavailable(RuntimeError):
    """copydetect is not installed."""


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    files: tuple[tuple[str, float], ...]     # (module file, similarity), most alike first

    @property
    def highest(self) -> float:
        return self.files[0][1]


def copydetect_present():
    try:
        import copydetect
    except ImportError:
        raise SimilarityUnavailable(
            "--similarity needs copydetect: pip install -e '.[similarity]' (or pip install copydetect)") from None
    return copydetect


def find_similar(course: Course, submissions: list[Path], out: Path, threshold: float = THRESHOLD) -> list[SimilarPair]:
    """Compare the module files of ``submissions``; write ``out/similarity.html`` and return
    the pairs with a file alike above ``threshold``, most alike first."""
    copydetect = copydetect_present()
    with tempfile.TemporaryDirectory(prefix="course-similarity-") as tmp:
        root = Path(tmp)
        folders = []
        for path in submissions:
            name = submission_name(path)
            work = root / ".opened" / name
            work.mkdir(parents=True)
            opened = open_submission(path, work, course.module_names)
            if opened.folder is not None:
                shutil.copytree(opened.folder, root / name)
                folders.append(str(root / name))
        report = root / SIMILARITY_HTML
        detector = copydetect.CopyDetector(
            test_dirs=folders, boilerplate_dirs=[str(course.root / "exercises")], extensions=["py"],
            same_name_only=True, display_t=threshold, autoopen=False, silent=True, out_file=str(report))
        pairs: dict[tuple[str, str], list[tuple[str, float]]] = {}
        if len(folders) > 1:
            detector.run()
            for found in detector.get_copied_code_list():
                similarity = float(min(found[0], found[1]))    # alike both ways, not one file inside a longer one
                if similarity <= threshold:
                    continue
                a, b = Path(found[2]), Path(found[3])
                key = tuple(sorted((a.parent.name, b.parent.name)))
                pairs.setdefault(key, []).append((a.name, similarity))
            detector.generate_html_report()
        text = report.read_text(encoding="utf-8") if report.is_file() else _empty_report(len(folders))
        # the report names files as this machine holds them; the instructor knows them by submission
        write_atomically(Path(out) / SIMILARITY_HTML,
                         text.replace(html.escape(str(root) + "/"), "").replace(str(root) + "/", ""))
    found_pairs = [SimilarPair(a, b, tuple(sorted(files, key=lambda f: (-f[1], f[0]))))
                   for (a, b), files in pairs.items()]
    return sorted(found_pairs, key=lambda p: (-len(p.files), -p.highest, p.first, p.second))


def _empty_report(count: int) -> str:
    return (f"<!doctype html><meta charset='utf-8'><title>similarity</title><p>{count} submission(s) with "
            "readable module files: nothing to compare.</p>\n")


def summary_lines(pairs: list[SimilarPair], module_count: int, count: int = 5) -> list[str]:
    """The ``count`` most alike pairs, one line each, for the terminal."""
    lines = [f"{len(p.files):>2}/{module_count} files alike (up to {p.highest:.0%}): {p.first} and {p.second}"
             for p in pairs[:count]]
    if len(pairs) > count:
        lines.append(f"… and {len(pairs) - count} more pair(s)")
    return lines
