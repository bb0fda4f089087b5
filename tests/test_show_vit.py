"""`course show vit`: where the [CLS] token of a small trained ViT looks."""

import dataclasses
import io
import re
import types

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from grader.cli import main
from grader.content import pictures, topics, vit_task
from grader.course.i18n import message
from grader.learner import show
from tests.support import ROOT
from tests.test_show import HANGUL, Recording, assert_sensible_png

# a run small enough for the plumbing; the story needs vit_task.SHOW
TINY = dataclasses.replace(vit_task.SHOW, steps=4, test_size=40)


@pytest.fixture(scope="module")
def found(reference):
    """The picture's own run with the reference (about 2 s)."""
    return topics.vit_attention(reference)


def tiny_topic():
    return dataclasses.replace(topics.TOPICS["vit"], compute=lambda modules, report: topics.vit_attention(modules, report, TINY))


def test_the_topic_is_listed_and_needs_the_vit_and_its_parts(course):
    topic = topics.TOPICS["vit"]
    assert topic in topics.course_topics(course)
    assert topic in topics.topics_for_module("heads") and topic in topics.topics_for_module("vit_training")
    assert {"heads.ViT", "heads.patchify", "transformer.EncoderLayer", "multihead.MultiHeadAttention"} <= set(topic.needs)
    helped = CliRunner().invoke(main, ["--course", str(ROOT), "show", "--help"])
    assert helped.exit_code == 0 and re.search(r"^\s+vit\s", helped.output, flags=re.MULTILINE), helped.output


def test_the_trained_cls_token_looks_at_the_blob(found):
    assert found["accuracy"] > 0.98
    assert found["predicted"] == [0, 1, 2, 3]
    maps = found["maps"]                                  # (4 images, 2 layers, 4, 4)
    assert maps.shape == (4, vit_task.SHOW.num_layers, 4, 4)
    assert np.all(maps >= 0) and np.all(maps.sum(axis=(2, 3)) <= 1 + 1e-6)
    blobs = vit_task.blob_patches(__import__("torch").as_tensor(found["images"])[:, None].float(), vit_task.SHOW)
    # in some layer, each image's largest [CLS] weight falls on one of its blob's patches
    for k in range(4):
        best = [int(maps[k, layer].argmax()) for layer in range(maps.shape[1])]
        assert any(bool(blobs[k, b]) for b in best), (k, best, blobs[k].nonzero())


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_it_draws_a_png_in_each_language_that_says_whose_code_drew_it(found, tmp_path, monkeypatch, lang):
    titles = []
    real = pictures._save

    def spy(fig, path, *args, **kwargs):
        titles.append(fig._suptitle.get_text())
        titles.append([t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")) if t.get_text().strip()])
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(pictures, "_save", spy)
    path = topics.render_vit(found, tmp_path / "vit.png", lang, yours=True)
    assert_sensible_png(path)
    title, texts = titles
    assert title.splitlines()[-1] == message("picture_whose_yours", lang)
    assert message("picture_vit_layer", lang, layer=2, layers=2) in texts
    if lang == "ko":
        assert HANGUL.search(title) and sum(bool(HANGUL.search(t)) for t in texts) >= 6, texts


def test_the_terminal_shows_the_training_and_the_answers(reference):
    for lang in ("en", "ko"):
        out = io.StringIO()
        found = topics.vit_attention(reference, topics.TerminalReport(Console(file=out, width=120), lang), TINY)
        text = out.getvalue()
        assert f"{TINY.steps}/{TINY.steps}" in text, text
        assert message("show_vit_accuracy", lang, accuracy=f"{found['accuracy']:.1%}", count=TINY.test_size) in text


def test_yours_when_the_checks_pass_with_the_training_reported(course, reference, tmp_path):
    report = Recording()
    picture = show.make_picture(course, tiny_topic(), tmp_path, lambda ids: None, lambda _: reference,
                                report=report)
    assert picture.yours and picture.path.is_file()
    assert ("ViT", TINY.steps) in report.steps
    assert len(report.tables) == 1 and len(report.tables[0][2]) == 4


def test_attention_that_keeps_no_weights_falls_back_to_the_reference(course, reference, tmp_path):
    class Forgetful(reference.heads.ViT):
        def forward(self, images):
            logits = super().forward(images)
            for layer in self.encoder.layers:
                layer.self_attn.attention_weights = None
            return logits

    heads = types.SimpleNamespace(ViT=Forgetful, patchify=reference.heads.patchify)
    broken = types.SimpleNamespace(heads=heads)
    picture = show.make_picture(course, tiny_topic(), tmp_path, lambda ids: None, lambda _: broken)
    assert not picture.yours and "attention_weights" in picture.reason, picture.reason
    assert_sensible_png(picture.path)
