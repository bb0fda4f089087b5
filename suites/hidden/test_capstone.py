"""Hidden checks of the capstone: the learner's own modules, with nothing substituted,
assembled into a Transformer and trained in the worker, from the initial weights
``capstone.initialise`` gives every model (the learner's constructor may draw its own: the
capstone grades whether the modules learn); the trained weights come back as plain
tensors and are judged here, in the reference architecture."""

import weakref

import torch

from grader.checks import check, expect, expect_close, plain_state
from grader.content import capstone, trainer

CONFIG = capstone.GRADING
THRESHOLD = capstone.GRADING_THRESHOLD


def _reference_model(ref, config=CONFIG):
    torch.manual_seed(1)
    return capstone.build_model(ref, config).eval()


def _names(state):
    return sorted(state)


def _parameter_names(module):
    """The names of ``module``'s parameters: buffers of the learner's own (a scale, a mask)
    are allowed. state_dict(keep_vars=True) keeps parameters as nn.Parameter, also
    through the worker's proxy."""
    return sorted(name for name, value in dict(module.state_dict(keep_vars=True)).items()
                  if isinstance(value, torch.nn.Parameter))


@check("capstone.reverse_digits", weight=1)
def assembles_into_the_reference_transformer(student, ref):
    """Your modules assemble into a Transformer that computes what the reference computes"""
    mine = _reference_model(ref)
    theirs = student.transformer.Transformer(
        capstone.VOCAB, capstone.VOCAB, d_model=CONFIG.d_model, num_heads=CONFIG.num_heads,
        num_encoder_layers=CONFIG.num_layers, num_decoder_layers=CONFIG.num_layers, d_ff=CONFIG.d_ff,
        dropout=CONFIG.dropout, max_len=CONFIG.max_digits + 8)
    expected_names = _parameter_names(mine)
    got_names = _parameter_names(theirs)
    expect(got_names == expected_names,
           f"your Transformer's parameters are {got_names}; expected {expected_names} "
           "(the names the syllabus fixes, so that trained weights can be read by any conforming Transformer)")
    reference_state = plain_state(mine)
    missed, unexpected = theirs.load_state_dict(reference_state, strict=False)[:2]
    not_loaded = sorted(set(reference_state) & set(missed)) + sorted(unexpected)
    expect(not not_loaded, f"load_state_dict could not set {not_loaded} of your Transformer.")
    theirs.eval()
    dataset = capstone.make_dataset(CONFIG)
    src, tgt = dataset.val[0][:16], dataset.val[1][:16]
    tgt_in = tgt[:, :-1]
    src_mask, tgt_mask = capstone.masks(ref, src, tgt_in)
    with torch.no_grad():
        expected = mine(src, tgt_in, src_mask, tgt_mask)
    got = theirs(src, tgt_in, src_mask, tgt_mask)
    expect_close(got, expected, rtol=1e-4, atol=1e-4, what="the logits of your Transformer with the reference's weights")


def _trained(student):
    """The learner's training run, done once per grading of the capstone: every check of
    one grading shares the same ``student`` (and the same worker). A run that raised is
    not kept, so each check that needs it reports the learner's error itself."""
    if student not in _RUNS:
        _RUNS[student] = student.fixtures.train_capstone(CONFIG.to_dict())
    return _RUNS[student]


_RUNS = weakref.WeakKeyDictionary()


def _trained_reference(ref, run):
    """The reference architecture holding the trained weights (what counts of a run: its
    loss curve is the worker's report, never trusted)."""
    model = _reference_model(ref)
    expected_names = _names(model.state_dict())

    def describe_missing(missing, state):
        return (f"the trained model's state is {_names(state) if isinstance(state, dict) else state!r}, "
                f"without {missing}; expected {expected_names}")

    return trainer.load_trained_state(model, run["state"], "Transformer", describe_missing=describe_missing)


def _loss(logits, tgt) -> float:
    """Plain cross-entropy of ``logits`` for teacher-forced ``tgt``, computed here."""
    logits = torch.as_tensor(logits).detach().float()   # the learner's logits may carry requires_grad
    return float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                                                   ignore_index=capstone.PAD))


@check("capstone.reverse_digits", weight=1)
def training_lowers_the_loss(student, ref):
    """Trained with your loss and schedule, your model's loss falls below a quarter of an untrained model's"""
    run = _trained(student)
    src, tgt = capstone.make_dataset(CONFIG).val
    tgt_in = tgt[:, :-1]
    src_mask, tgt_mask = capstone.masks(ref, src, tgt_in)
    with torch.no_grad():
        before = _loss(_reference_model(ref)(src, tgt_in, src_mask, tgt_mask), tgt)
    theirs = capstone.build_model(student, CONFIG)      # the trained weights in your own architecture
    theirs.load_state_dict(run["state"])
    theirs.eval()
    after = _loss(theirs(src, tgt_in, src_mask, tgt_mask), tgt)
    expect(after < 0.25 * before,
           f"after {run['steps']} training steps, your model with the trained weights has a loss of {after:.3f} on "
           f"{CONFIG.val_size} validation strings (measured here, from its logits), against {before:.3f} for an "
           "untrained model; expected it below a quarter of that. Look at noam_lr (the learning rate it gives at "
           "each step) and at cross_entropy; `course capstone` plots the curve.")


@check("capstone.reverse_digits", weight=4)
def learns_to_reverse_held_out_strings(student, ref):
    """Trained with your loss, schedule and masks, it reverses held-out strings in the reference architecture"""
    run = _trained(student)
    model = _trained_reference(ref, run)
    held_out = capstone.accuracy(ref, model, capstone.make_dataset(CONFIG).test)
    expect(held_out >= THRESHOLD,
           f"after {run['steps']} training steps, the trained weights, run in the reference Transformer, reverse "
           f"{held_out:.1%} of {CONFIG.test_size} held-out strings exactly; at least {THRESHOLD:.0%} is needed. "
           "If your own Transformer computes what the reference computes (the check above), look at the masks "
           "used in training. Run `course capstone` to watch your model train.")
