"""`course show bottleneck`: seq2seq without and with attention, by source length."""

import dataclasses
import io
import re
import types

import pytest
from click.testing import CliRunner
from PIL import Image
from rich.console import Console

from grader.cli import main
from grader.content import bottleneck, pictures, topics
from grader.course.i18n import message
from grader.learner import show
from tests.support import ROOT
from tests.test_show import HANGUL, Recording, assert_sensible_png

pytestmark = pytest.mark.slow  # trains the models the picture compares

# a run small enough for the plumbing; the story needs bottleneck.SHOW
TINY = bottleneck.Seq2seqConfig(min_digits=3, max_digits=5, steps=5, val_size=16, test_size=60)


@pytest.fixture(scope="module")
def found(reference):
    """The picture's own runs with the reference (about 10 s)."""
    return topics.bottleneck_sweep(reference)


def tiny_topic():
    return dataclasses.replace(topics.TOPICS["bottleneck"],
                               compute=lambda modules, report: topics.bottleneck_sweep(modules, report, TINY))


def test_the_topic_is_listed_and_needs_the_seq2seq_exercises(course):
    topic = topics.TOPICS["bottleneck"]
    assert topic in topics.course_topics(course)
    assert topic in topics.topics_for_module("seq2seq")
    assert {"seq2seq.Encoder", "seq2seq.Decoder", "seq2seq.AttentionDecoder", "seq2seq.translate",
            "attention.general_score", "attention.attention_context", "attention.attentional_hidden"} <= set(topic.needs)
    helped = CliRunner().invoke(main, ["--course", str(ROOT), "show", "--help"])
    assert helped.exit_code == 0 and re.search(r"^\s+bottleneck\s", helped.output, flags=re.MULTILINE), helped.output


def test_the_bottleneck_falls_with_the_length_and_attention_holds(found):
    plain, attention = found.accuracy["Decoder"], found.accuracy["AttentionDecoder"]
    assert found.lengths == list(range(bottleneck.SHOW.min_digits, bottleneck.SHOW.max_digits + 1))
    assert min(found.counts) >= 50, "enough held-out strings of every length"
    assert plain[0] > 0.9 and plain[-1] < 0.2, plain
    assert min(attention) > 0.95, attention
    assert attention[-1] - plain[-1] > 0.7


def test_the_alignment_is_the_anti_diagonal(found):
    length = len(found.source)
    assert length == bottleneck.SHOW.max_digits
    assert found.tokens[1:length + 1].tolist() == found.source.flip(0).tolist(), "it reverses the string"
    assert tuple(found.weights.shape) == (len(found.tokens) - 1, length)
    strongest = found.weights.argmax(dim=1)[:length].tolist()
    mirror = sum(column == length - 1 - row for row, column in enumerate(strongest))
    assert mirror >= 0.8 * length, strongest


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_it_draws_a_png_in_each_language_that_says_whose_code_drew_it(found, tmp_path, monkeypatch, lang):
    titles = []
    real = pictures._save

    def spy(fig, path, *args, **kwargs):
        titles.append(fig._suptitle.get_text())
        texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")) if t.get_text().strip()]
        titles.append(texts)
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(pictures, "_save", spy)
    path = topics.render_bottleneck(found, tmp_path / "bottleneck.png", lang, yours=True)
    assert_sensible_png(path)
    with Image.open(path) as image:
        assert min(image.info["dpi"]) >= 100 and image.size[0] >= 1200, (image.info["dpi"], image.size)
    title, texts = titles
    assert title.splitlines()[-1] == message("picture_whose_yours", lang)
    assert message("picture_bottleneck_plain", lang) in texts and message("picture_bottleneck_attention", lang) in texts
    if lang == "ko":
        assert HANGUL.search(title) and sum(bool(HANGUL.search(t)) for t in texts) >= 6, texts


def test_the_terminal_shows_a_bar_per_model_and_the_figures_in_korean_too(reference):
    for lang, header in (("en", "digits"), ("ko", "자릿수")):
        out = io.StringIO()
        found = topics.bottleneck_sweep(reference, topics.TerminalReport(Console(file=out, width=120), lang), TINY)
        text = out.getvalue()
        assert text.count(f"{TINY.steps}/{TINY.steps}") == 2, text
        assert header in text and "AttentionDecoder" in text, text
        for length, accuracy in zip(found.lengths, found.accuracy["Decoder"]):
            assert re.search(rf"│\s+{length} │\s+{accuracy:.1%} │", text), text
        assert message("show_bottleneck_seconds", lang, plain=found.seconds["Decoder"],
                       attention=found.seconds["AttentionDecoder"]) in text


def test_yours_when_the_checks_pass_with_the_training_reported(course, reference, tmp_path):
    report = Recording()
    picture = show.make_picture(course, tiny_topic(), tmp_path, lambda ids: None, lambda _: reference,
                                report=report)
    assert picture.yours and picture.path.is_file()
    assert [step for step in report.steps if step[1] == TINY.steps] == [("Decoder", TINY.steps),
                                                                        ("AttentionDecoder", TINY.steps)]
    assert len(report.tables) == 1 and report.tables[0][1][1:3] == ["Decoder", "AttentionDecoder"]


def test_an_attention_decoder_with_wrong_weights_falls_back_to_the_reference(course, reference, tmp_path):
    class Cropped(reference.seq2seq.AttentionDecoder):
        def forward(self, *args):
            logits, weights, state = super().forward(*args)
            return logits, weights[..., :-1], state

    seq2seq = types.SimpleNamespace(**{name: getattr(reference.seq2seq, name)
                                       for name in ("Encoder", "Decoder", "translate")}, AttentionDecoder=Cropped)
    broken = types.SimpleNamespace(seq2seq=seq2seq, attention=reference.attention)
    picture = show.make_picture(course, tiny_topic(), tmp_path, lambda ids: None, lambda _: broken)
    assert not picture.yours and picture.reason.startswith("your code raised PictureError: the AttentionDecoder's "
                                                           "weights"), picture.reason
    assert_sensible_png(picture.path)
