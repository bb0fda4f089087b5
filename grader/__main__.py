"""``python -m grader``: the ``course`` command.

Python put the working folder first on ``sys.path``. The grader is found by now, and the
working folder may be a folder of submissions (one named ``json`` would shadow the standard
library, as root, in the grader and in the grading processes that inherit ``sys.path``),
so it goes."""

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from grader.cli import run  # noqa: E402 - after the working folder left sys.path

if __name__ == "__main__":  # not when a grading process of `--jobs` imports this module again
    run()
