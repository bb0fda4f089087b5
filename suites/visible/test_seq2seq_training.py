"""Visible check of seq2seq_training: your Encoder and AttentionDecoder, trained on
reversing digit strings, measured with your own translate."""

from grader.checks import check, expect
from grader.content import bottleneck


@check("seq2seq_training.learns_to_reverse")
def learns_to_reverse_digit_strings(student):
    """Your encoder and attention decoder, trained by the grader, reverse held-out strings"""
    config = bottleneck.GRADING
    run = student.fixtures.train_seq2seq(config.to_dict(), measure=True)
    losses = run["losses"]
    expect(run["accuracy"] >= bottleneck.GRADING_THRESHOLD,
           f"after {config.steps} steps the training loss went from {losses[0]:.3f} to {losses[-1]:.3f}; your "
           f"translate reverses {run['accuracy']:.1%} of {config.test_size} held-out strings exactly, and at least "
           f"{bottleneck.GRADING_THRESHOLD:.0%} is needed. `course show bottleneck` draws your model at work.")
