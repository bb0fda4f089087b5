"""The rule "earlier pieces first", written once.

An exercise that builds on earlier ones is judged after them. What it builds on runs as
the learner wrote it where that passed its own checks; where it did not, the reference
stands in, so that one bug costs one exercise. ``course grade`` (with stored results),
``course check`` and ``course watch`` (:func:`grader.engine.grading.grade_in_order`) and
the nbgrader runtime in a kernel all go through :func:`judge_in_order`, so they agree on
which pieces are the learner's.
"""

from __future__ import annotations

from typing import Callable, Iterable


def judge_in_order(order: Iterable[str], builds_on: Callable[[str], Iterable[str]],
                   judge: Callable[[str, frozenset[str]], bool],
                   verdicts: dict[str, bool] | None = None) -> dict[str, bool]:
    """Judge each exercise of ``order`` that ``verdicts`` does not hold yet, in that order.

    ``order`` must put what an exercise builds on before it (course order does).
    ``judge(exercise, passed)`` gets which of ``builds_on(exercise)`` passed; the
    reference stands in for the others. Its verdict is kept in ``verdicts`` (returned)."""
    verdicts = {} if verdicts is None else verdicts
    for exercise in order:
        if exercise not in verdicts:
            passed = frozenset(dep for dep in builds_on(exercise) if verdicts.get(dep, False))
            verdicts[exercise] = judge(exercise, passed)
    return verdicts
