"""Visible check of the capstone: your own modules, assembled and trained on a quick run
of the capstone task, measured with your own greedy decoding."""

from grader.checks import check, expect
from grader.content import capstone


@check("capstone.reverse_digits")
def learns_to_reverse_digits_in_a_quick_run(student):
    """Your Transformer, trained with your loss and schedule, reverses held-out strings (a quick run)"""
    config = capstone.GRADING
    run = student.fixtures.train_capstone(config.to_dict(), measure=True)
    losses = run["losses"]
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    expect(run["accuracy"] >= capstone.GRADING_THRESHOLD,
           f"after {run['steps']} steps the training loss went from {first:.3f} to "
           f"{last:.3f}; your greedy_decode reverses {run['accuracy']:.1%} of {config.test_size} held-out strings "
           f"exactly, and at least {capstone.GRADING_THRESHOLD:.0%} is needed. `course capstone` shows the "
           "training in full, with pictures.")
