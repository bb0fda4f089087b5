"""What the test cells of the nbgrader notebooks run (see :mod:`grader.instructor.nbexport`).

This package is copied into every assignment that ``course nbgrader`` writes, next to the
notebook, together with the few grader modules the checks are written in
(``grader/checks.py`` and what it needs) and the module's visible suite, so that a
student's copy runs wherever Jupyter has numpy and torch, without the ``course`` package.
It imports nothing but those, numpy and (lazily) torch.
"""

from grader.instructor.nbgrader_support.runner import ExerciseFailed, ExerciseTests, load_hidden

__all__ = ["ExerciseTests", "ExerciseFailed", "load_hidden"]
