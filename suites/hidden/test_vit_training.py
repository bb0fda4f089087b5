"""Hidden checks of vit_training: the learner's own ViT (heads, with the transformer,
multihead and attention modules it builds on), with nothing substituted, trained in the
worker on the quadrant task from the weights ``vit_task.initialise`` gives; the trained
weights come back as plain tensors and are judged here, in the reference ViT, so that
nothing the learner's code reports decides the grade."""

import weakref

import torch

from grader.checks import check, expect, expect_close, plain_state
from grader.content import trainer, vit_task

CONFIG = vit_task.GRADING
THRESHOLD = vit_task.GRADING_THRESHOLD
CONFIDENT = 0.3     # held-out cross-entropy; see bench/vit_training.py for the reference's


def _reference_model(ref):
    torch.manual_seed(1)
    return vit_task.build(ref, CONFIG).eval()


def _parameter_names(module):
    """``module``'s parameter names (buffers of the learner's own are allowed)."""
    return sorted(name for name, value in dict(module.state_dict(keep_vars=True)).items()
                  if isinstance(value, torch.nn.Parameter))


@check("vit_training.learns_quadrants", weight=1)
def assembles_into_the_reference_vit(student, ref):
    """Your ViT, given the reference's weights, computes the reference's logits"""
    model = _reference_model(ref)
    theirs = vit_task.build(student, CONFIG)
    want, got = _parameter_names(model), _parameter_names(theirs)
    expect(got == want, f"your ViT has the parameters {got}; expected {want} (the names the syllabus fixes, so "
                        "that trained weights can be read by the reference)")
    state = plain_state(model)
    missed, unexpected = theirs.load_state_dict(state, strict=False)[:2]
    not_loaded = sorted(set(state) & set(missed)) + sorted(unexpected)
    expect(not not_loaded, f"load_state_dict could not set {not_loaded} of your ViT.")
    theirs.eval()
    images = vit_task.make_dataset(CONFIG).test[0][:32]
    with torch.no_grad():
        expected = model(images)
    expect_close(theirs(images), expected, rtol=1e-4, atol=1e-5,
                 what="the logits of your ViT with the reference's weights, on 32 images of the task")


def _trained(student):
    """The learner's training run, done once per grading: every check of one grading
    shares the same ``student``. A run that raised is not kept."""
    if student not in _RUNS:
        _RUNS[student] = student.fixtures.train_vit(CONFIG.to_dict())
    return _RUNS[student]


_RUNS = weakref.WeakKeyDictionary()


def _trained_reference(ref, run):
    """The reference ViT holding the trained weights."""
    return trainer.load_trained_state(_reference_model(ref), run["state"], "ViT").eval()


def _curve(run):
    losses = run["losses"] if isinstance(run.get("losses"), list) else []
    if losses and all(isinstance(x, float) for x in (losses[0], losses[-1])):
        return f" (your training loss went from {losses[0]:.3f} to {losses[-1]:.3f})"
    return ""


@check("vit_training.learns_quadrants", weight=2)
def tells_the_quadrant_of_held_out_images(student, ref):
    """Trained from the grader's starting weights, it tells the blob's quadrant in held-out images"""
    run = _trained(student)
    model = _trained_reference(ref, run)
    held_out = vit_task.accuracy(model, vit_task.make_dataset(CONFIG).test)
    expect(held_out >= THRESHOLD,
           f"after {CONFIG.steps} training steps{_curve(run)}, the trained weights, run in the reference ViT, "
           f"give the right quadrant for {held_out:.1%} of {CONFIG.test_size} held-out images; at least "
           f"{THRESHOLD:.0%} is needed. If the check above passes, look at what a short call cannot show: that "
           "pos_embed and cls_token are learned (parameters, with gradients), and that the head reads the [CLS] "
           "vector. `course show vit` trains your model and draws where its [CLS] token looks.")


@check("vit_training.learns_quadrants", weight=1)
def is_confident_on_held_out_images(student, ref):
    """Trained, it is confident on held-out images: their cross-entropy is small"""
    run = _trained(student)
    model = _trained_reference(ref, run)
    images, labels = vit_task.make_dataset(CONFIG).test
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(images), labels).item()
    expect(loss <= CONFIDENT,
           f"after {CONFIG.steps} training steps{_curve(run)}, the trained weights, run in the reference ViT, have a "
           f"cross-entropy of {loss:.3f} on {CONFIG.test_size} held-out images; at most {CONFIDENT} is needed (the "
           "reference's is below 0.02): the model should not only guess right, it should be sure.")
