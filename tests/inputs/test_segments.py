"""Segment sampling: one snippet in each of K disjoint spans that cover the whole video."""

import numpy as np
import pytest

from twostream.inputs.segments import segment_positions, segment_spans


@pytest.mark.parametrize("count, segments", [(10, 3), (48, 3), (7, 7), (3, 1), (100, 16)])
def test_spans_are_disjoint_in_order_and_cover_every_position(count, segments):
    spans = segment_spans(count, segments)
    assert len(spans) == segments
    covered = [i for lo, hi in spans for i in range(lo, hi)]
    assert covered == list(range(count))  # each position once, the last one included


def test_each_snippet_lies_in_its_own_segment_and_the_video_end_is_reached():
    spans = segment_spans(10, 3)  # [0, 3), [3, 6), [6, 10)
    seen = set()
    for seed in range(400):
        positions = segment_positions(10, 3, np.random.default_rng(seed))
        assert all(lo <= p < hi for p, (lo, hi) in zip(positions, spans))
        seen.update(positions)
    assert seen == set(range(10))  # positions 9 (the end) and 0 both drawn


def test_fewer_positions_than_segments_repeat_snippets_in_order():
    positions = segment_positions(2, 3, np.random.default_rng(0))
    assert positions == sorted(positions) and set(positions) <= {0, 1}


def test_one_segment_draws_as_the_papers_sampling_did():
    """K = 1 takes one integer in [0, count) from the generator, as the paper's sampling did, so
    the default run's samples are unchanged."""
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert segment_positions(37, 1, a) == [int(b.integers(37))]
    assert a.random() == b.random()
