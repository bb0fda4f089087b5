"""Hidden checks of seq2seq_training: the learner's own seq2seq module (and the attention
functions it calls), with nothing substituted, trained in the worker on reversing digit
strings from the weights ``bottleneck.initialise`` gives; the trained weights come back
as plain tensors and are judged here, in the reference architecture with the reference
``translate``, so that nothing the learner's code reports decides the grade."""

import weakref

import torch

from grader.checks import check, expect, expect_close, plain_state
from grader.content import bottleneck, trainer
from grader.content.capstone import PAD

CONFIG = bottleneck.GRADING
THRESHOLD = bottleneck.GRADING_THRESHOLD


def _reference_models(ref):
    torch.manual_seed(1)
    encoder, decoder = bottleneck.build(ref, CONFIG)
    return encoder.eval(), decoder.eval()


def _parameter_names(module, prefix):
    """``module``'s parameter names under ``prefix``, with an LSTM cell's names written as
    the LSTM's; buffers of the learner's own are allowed."""
    names = {f"{prefix}.{name}": value for name, value in dict(module.state_dict(keep_vars=True)).items()
             if isinstance(value, torch.nn.Parameter)}
    return sorted(bottleneck.lstm_names(names))


def _loadable(state, module, prefix):
    """The part of ``state`` (reference names, under ``prefix``) for ``module``, renamed to
    the names ``module`` uses for the same weights (an LSTM cell's, say)."""
    own = {bottleneck.lstm_names({name: None}).popitem()[0]: name for name in dict(module.state_dict())}
    start = prefix + "."
    return {own.get(name[len(start):], name[len(start):]): value
            for name, value in state.items() if name.startswith(start)}


@check("seq2seq_training.learns_to_reverse", weight=1)
def assembles_into_the_reference_model(student, ref):
    """Your Encoder and AttentionDecoder, given the reference's weights, compute the reference's logits"""
    encoder, decoder = _reference_models(ref)
    theirs_encoder, theirs_decoder = bottleneck.build(student, CONFIG)
    want = _parameter_names(encoder, "encoder") + _parameter_names(decoder, "decoder")
    got = _parameter_names(theirs_encoder, "encoder") + _parameter_names(theirs_decoder, "decoder")
    expect(got == want, f"your Encoder and AttentionDecoder have the parameters {got}; expected {want} "
                        "(the names the syllabus fixes, so that trained weights can be read by the reference)")
    state = {f"encoder.{k}": v for k, v in plain_state(encoder).items()}
    state.update({f"decoder.{k}": v for k, v in plain_state(decoder).items()})
    for module, prefix in ((theirs_encoder, "encoder"), (theirs_decoder, "decoder")):
        wanted = _loadable(state, module, prefix)
        missed, unexpected = module.load_state_dict(wanted, strict=False)[:2]
        not_loaded = sorted(set(wanted) & set(missed)) + sorted(unexpected)
        expect(not not_loaded, f"load_state_dict could not set {not_loaded} of your {prefix}.")
        module.eval()
    src, tgt = bottleneck.make_dataset(CONFIG.strings()).val
    src, tgt_in = src[:16], tgt[:16, :-1]
    with torch.no_grad():
        expected = bottleneck.logits_on(encoder, decoder, src, tgt_in, attention=True)
    got_logits = bottleneck.logits_on(theirs_encoder, theirs_decoder, src, tgt_in, attention=True)
    expect_close(got_logits, expected, rtol=1e-4, atol=1e-5,
                 what="the logits of your Encoder and AttentionDecoder with the reference's weights, "
                      "teacher-forced on 16 padded strings")


def _trained(student):
    """The learner's training run, done once per grading: every check of one grading
    shares the same ``student``. A run that raised is not kept."""
    if student not in _RUNS:
        _RUNS[student] = student.fixtures.train_seq2seq(CONFIG.to_dict())
    return _RUNS[student]


_RUNS = weakref.WeakKeyDictionary()


def _trained_reference(ref, run):
    """The reference encoder and decoder holding the trained weights."""
    encoder, decoder = _reference_models(ref)
    for module, prefix in ((encoder, "encoder"), (decoder, "decoder")):
        trainer.load_trained_state(module, run["state"], prefix, prefix=f"{prefix}.", rename=bottleneck.lstm_names)
    return encoder, decoder


@check("seq2seq_training.learns_to_reverse", weight=2)
def learns_to_reverse_held_out_strings(student, ref):
    """Trained from the grader's starting weights, it reverses held-out strings of 8-12 digits"""
    run = _trained(student)
    encoder, decoder = _trained_reference(ref, run)
    held_out = bottleneck.accuracy(ref, encoder, decoder, bottleneck.make_dataset(CONFIG.strings()).test)
    losses = run["losses"] if isinstance(run.get("losses"), list) else []
    curve = (f" (your training loss went from {losses[0]:.3f} to {losses[-1]:.3f})"
             if losses and all(isinstance(x, float) for x in (losses[0], losses[-1])) else "")
    expect(held_out >= THRESHOLD,
           f"after {CONFIG.steps} training steps{curve}, the trained weights, run in the reference Encoder and "
           f"AttentionDecoder with the reference translate, reverse {held_out:.1%} of {CONFIG.test_size} held-out "
           f"strings of {CONFIG.min_digits}-{CONFIG.max_digits} digits exactly; at least {THRESHOLD:.0%} is needed. "
           "If the check above passes, look at what a short call cannot show: the encoder's final state taken "
           "after each row's last real token, and the padded source positions masked. `course show bottleneck` "
           "trains your model and draws its alignment.")


ALIGNED = 0.8       # the reference: 100% of the digits over seeds 0-4


def mirror_share(encoder, decoder, src, tgt) -> float:
    """How many output digits, teacher-forced, put their largest attention weight on the
    source digit they copy, or on the position just after it (the encoder's output there
    still holds it): the share of all the digits of ``src``."""
    with torch.no_grad():
        memory, state = encoder(src)
        weights = decoder(tgt[:, :-1], state, memory, src != PAD)[1]           # (B, T, S)
    lengths = (src != PAD).sum(dim=1)
    read = weights.argmax(dim=-1)                                                # (B, T)
    hits = total = 0
    for row, length in enumerate(lengths.tolist()):
        for step in range(length):                                               # step t writes digit L-1-t
            mirror = length - 1 - step
            hits += int(read[row, step]) in (mirror, mirror + 1)
            total += 1
    return hits / total


@check("seq2seq_training.learns_to_reverse", weight=1)
def attention_reads_the_mirror_position(student, ref):
    """Trained, its attention reads each output digit from the source digit it copies"""
    run = _trained(student)
    encoder, decoder = _trained_reference(ref, run)
    src, tgt = bottleneck.make_dataset(CONFIG.strings()).test
    share = mirror_share(encoder, decoder, src[:100], tgt[:100])
    expect(share >= ALIGNED,
           f"after training, the attention weights (the trained weights in the reference AttentionDecoder, "
           f"teacher-forced on 100 held-out strings) are largest at the source digit being copied for {share:.0%} "
           f"of the output digits; at least {ALIGNED:.0%} is needed. For reversal the weights should form an "
           "anti-diagonal: `course show bottleneck` draws them.")
