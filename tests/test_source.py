import pytest

from grader.course.source import SourceError, definition_source, find_regions, make_stubs, replace_definition

SOURCE = '''"""doc"""
import numpy as np


def f(x):
    """Twice x."""
    # BEGIN SOLUTION
    y = 2 * x
    return y
    # END SOLUTION


class C:
    def __init__(self):
        # BEGIN SOLUTION
        self.n = 0
        # END SOLUTION

    def bump(self):
        # BEGIN SOLUTION
        self.n += 1
        # END SOLUTION
'''


def test_regions_belong_to_their_top_level_definition():
    assert [r.exercise for r in find_regions(SOURCE)] == ["f", "C", "C"]


def test_stubs_keep_docstrings_and_point_at_the_hint():
    stub = make_stubs(SOURCE, "m")
    assert '"""Twice x."""' in stub and "2 * x" not in stub and "self.n" not in stub
    assert stub.count("course hint m.C") == 2
    compile(stub, "stub", "exec")


def test_keep_fills_in_only_the_named_definitions():
    partial = make_stubs(SOURCE, "m", keep=frozenset({"C"}))
    assert "2 * x" not in partial and "self.n += 1" in partial and "BEGIN" not in partial


@pytest.mark.parametrize("bad, message", [
    ("def f():\n    # BEGIN SOLUTION\n    pass\n", "never closed"),
    ("def f():\n    pass\n    # END SOLUTION\n", "without BEGIN"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a top-level def"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n", "inside another"),
])
def test_malformed_regions_are_reported_with_a_line(bad, message):
    with pytest.raises(SourceError, match=message):
        find_regions(bad, "x.py")


def test_replace_definition_swaps_one_definition():
    new = replace_definition(SOURCE, "f", "def f(x):\n    return x + x\n")
    assert "x + x" in new and "class C" in new and "2 * x" not in new
    assert definition_source(new, "f").startswith("def f(x):")
