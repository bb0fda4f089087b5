"""`course show sampling`: temperature, top-k and top-p on one next-token distribution."""

import types

import numpy as np
import pytest

from grader.content import topics
from grader.course.i18n import message
from grader.learner import show
from tests.test_show import HANGUL, assert_sensible_png


@pytest.fixture(scope="module")
def found(reference):
    return topics.sampling_panels(reference)


def test_the_topic_is_listed_and_needs_the_sampling_exercises(course):
    topic = topics.TOPICS["sampling"]
    assert topic in topics.course_topics(course)
    assert topics.needed_exercises(course, topic) == ["decoding.filter_logits", "decoding.sample_next"]
    assert topic in topics.topics_for_module("decoding")
    fields = {"temperature": "0.5", "kept": 3, "total": 10, "draws": 4000}
    for key in (topic.caption, "picture_sampling_title", "picture_sampling_temperature", "picture_sampling_kept",
                "picture_sampling_bars", "picture_sampling_drawn", "picture_sampling_probability"):
        assert message(key, "en", **fields) != key and HANGUL.search(message(key, "ko", **fields)), key


def test_the_bars_tell_the_story_the_caption_tells(found):
    by = {settings: (probs, freqs) for settings, probs, freqs in found}
    base, _ = by[(1.0, None, None)]
    sharp, _ = by[(0.5, None, None)]
    flat, _ = by[(2.0, None, None)]
    for probs, freqs in by.values():
        assert probs.sum() == pytest.approx(1.0) and freqs.sum() == pytest.approx(1.0)
        assert np.all(freqs[probs == 0] == 0), "a removed word was drawn"
        assert np.abs(freqs - probs).max() < 0.03, "the draws do not follow the bars"
    # temperature: sharper below 1, flatter above 1, nothing removed
    assert sharp[0] > base[0] > flat[0] and sharp[-1] < base[-1] < flat[-1]
    assert (sharp > 0).all() and (flat > 0).all()
    # top-k keeps k words and renormalises them; top-p keeps the words up to the one that crosses p
    top_k, _ = by[(1.0, 3, None)]
    assert (top_k > 0).sum() == 3 and top_k[:3] == pytest.approx(base[:3] / base[:3].sum())
    top_p, _ = by[(1.0, None, 0.8)]
    kept = int((top_p > 0).sum())
    assert base[:kept - 1].sum() < 0.8 <= base[:kept].sum()
    combined, _ = by[(0.7, 5, 0.9)]
    assert 1 <= (combined > 0).sum() <= 5


def test_the_picture_is_drawn_in_english_and_in_korean(found, tmp_path):
    topic = topics.TOPICS["sampling"]
    for lang in ("en", "ko"):
        path = topic.render(found, tmp_path / f"sampling-{lang}.png", lang, False)
        assert_sensible_png(path)


def test_learner_code_that_draws_with_the_wrong_shape_is_refused(course):
    reference = show.reference_modules(course)

    def keeps_axis(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
        return reference.decoding.sample_next(logits, temperature, top_k, top_p, generator)[:, None].repeat(1, 2)

    modules = types.SimpleNamespace(decoding=types.SimpleNamespace(filter_logits=reference.decoding.filter_logits,
                                                                   sample_next=keeps_axis))
    with pytest.raises(topics.PictureError, match="one word per row"):
        topics.sampling_panels(modules)


def test_the_topic_draws_through_the_usual_path_and_says_whose_code(course, tmp_path):
    path = topics.TOPICS["sampling"].draw(show.reference_modules(course), tmp_path / "sampling.png", "en", yours=True)
    assert_sensible_png(path)
