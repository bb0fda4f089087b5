"""Visible check of vit_training: your ViT, trained on telling in which quadrant of an
image a bright blob lies, measured as your own model computes it."""

from grader.checks import check, expect
from grader.content import vit_task


@check("vit_training.learns_quadrants")
def learns_where_the_blob_is(student):
    """Your ViT, trained by the grader, finds the blob's quadrant in held-out images"""
    config = vit_task.GRADING
    run = student.fixtures.train_vit(config.to_dict(), measure=True)
    losses = run["losses"]
    expect(run["accuracy"] >= vit_task.GRADING_THRESHOLD,
           f"after {config.steps} steps the training loss went from {losses[0]:.3f} to {losses[-1]:.3f}; your ViT "
           f"gives the right quadrant for {run['accuracy']:.1%} of {config.test_size} held-out images, and at least "
           f"{vit_task.GRADING_THRESHOLD:.0%} is needed. `course show vit` draws your model at work.")
