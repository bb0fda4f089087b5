"""`course show relative`: T5's buckets, a T5 bias per head and ALiBi's penalties."""

import dataclasses
import types

import numpy as np
import pytest

from grader.content import topics
from grader.learner import show
from tests.test_show import assert_sensible_png


@pytest.fixture(scope="module")
def found(reference):
    return topics.relative_biases(reference)


def test_the_topic_is_listed_and_needs_the_three_exercises(course):
    topic = topics.TOPICS["relative"]
    assert topics.needed_exercises(course, topic) == ["positional.relative_position_bucket",
                                                    "positional.RelativePositionBias", "positional.alibi_bias"]
    assert topic in topics.topics_for_module("positional") and not topic.reports


def test_the_tables_tell_the_story_the_caption_tells(found):
    T, h = topics.RELATIVE_LENGTH, topics.RELATIVE_HEADS
    buckets, learned, alibi = found["buckets"], found["learned"], found["alibi"]
    assert buckets.shape == (T, T) and learned.shape == (h, T, T) and alibi.shape == (h, T, T)
    for offset in range(-T + 1, T):          # constant along each diagonal: a function of key - query
        assert len(set(np.diagonal(buckets, offset))) == 1
        assert np.allclose(np.diagonal(learned, offset, axis1=1, axis2=2),
                           np.diagonal(learned, offset, axis1=1, axis2=2)[:, :1])
    assert buckets[0, 0] == 0 and buckets.max() == topics.RELATIVE_BUCKETS - 1, "far keys reach the last bucket"
    assert set(buckets[np.tril_indices(T, -1)]) < set(range(topics.RELATIVE_BUCKETS // 2)), "the past: first half"
    assert np.diagonal(alibi, 0, axis1=1, axis2=2).max() == 0 and (alibi[:, -1, :-1] < 0).all()
    slopes = -alibi[:, 1, 0]
    assert np.all(np.diff(slopes) < 0), "every head has its own slope, steep to gentle"


def test_the_seeded_initialisation_is_the_same_every_time_and_leaves_torch_alone(course, found):
    import torch

    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    again = topics.relative_biases(show.reference_modules(course))
    assert np.array_equal(again["learned"], found["learned"])
    assert torch.rand(1).item() == before.item(), "drawing the picture does not move torch's global generator"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_picture_is_a_sensible_png(found, tmp_path, lang):
    path = topics.TOPICS["relative"].render(found, tmp_path / f"relative_{lang}.png", lang, False)
    assert_sensible_png(path)


def test_learner_code_with_the_wrong_shape_falls_back_to_the_reference(course, tmp_path):
    reference = show.reference_modules(course)
    broken = types.SimpleNamespace(**vars(reference.positional))
    broken.alibi_bias = lambda h, T_q, T_k: np.zeros((T_q, T_k))
    topic = dataclasses.replace(topics.TOPICS["relative"], time_limit=10.0)
    picture = show.make_picture(course, topic, tmp_path, lambda ids: None,
                                lambda _: types.SimpleNamespace(positional=broken))
    assert not picture.yours and "PictureError" in picture.reason and "alibi" in picture.reason, picture.reason
    assert_sensible_png(picture.path)
