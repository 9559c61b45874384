import contextlib

import numpy as np
import pytest
import torch

import twostream.evaluation.scoring
from twostream.evaluation.scores import accuracy
from twostream.evaluation.scoring import score_inputs
from twostream.models import build_model


def test_weighted_distinct_inputs_score_as_the_full_protocol():
    torch.manual_seed(0)
    model, _ = build_model("cnn_m_2048", in_channels=3, num_classes=5, width=0.1, norm2=True,
                           dropout=0.5, input_size=48)
    model.eval()
    distinct = torch.randn(4, 3, 48, 48)
    counts = torch.tensor([1.0, 3.0, 2.0, 4.0])
    full = torch.cat([x.expand(int(c), -1, -1, -1) for x, c in zip(distinct, counts)])
    cpu = torch.device("cpu")
    weighted = score_inputs(model, distinct, counts, batch_size=3, device=cpu, channels_last=True,
                            amp=False)
    plain = score_inputs(model, full, torch.ones(len(full)), batch_size=7, device=cpu, amp=False)
    assert np.allclose(weighted, plain, atol=1e-6) and np.isclose(weighted.sum(), 1.0)


def test_unscorable_videos_count_as_wrong():
    scores = np.array([[0.9, 0.1], [np.nan, np.nan], [0.2, 0.8]])
    assert accuracy(scores, np.array([0, 0, 1])) == 2 / 3


@pytest.mark.parametrize("amp", [False, True])
def test_scoring_autocasts_only_as_the_net_was_trained(monkeypatch, amp):
    """evaluate.amp = the model's own amp param: bf16 scoring of a net trained in float32 (or the
    reverse) is not what the params say."""
    asked = []

    def recording_autocast(device, enabled=True):
        asked.append(enabled)
        return contextlib.nullcontext()

    monkeypatch.setattr(twostream.evaluation.scoring, "autocast", recording_autocast)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    score_inputs(model, torch.randn(5, 3, 2, 2), torch.ones(5), batch_size=2,
                 device=torch.device("cpu"), amp=amp)
    assert asked == [amp] * 3


class _Logits(torch.nn.Module):
    """A 'network' whose logits are its input: (N, C, 1, 1) -> (N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def test_the_protocol_averages_softmax_scores_not_logits():
    """Two crops, logits [4, 0] and [0, 3]: mean softmax 0.515 / 0.485; a softmax of the mean
    logits would give 0.62 / 0.38, and a plain mean of the logits does not sum to 1."""
    logits = torch.tensor([[4.0, 0.0], [0.0, 3.0]])
    scores = score_inputs(_Logits(), logits[:, :, None, None], torch.ones(2), batch_size=1,
                          device=torch.device("cpu"), amp=False)
    want = torch.softmax(logits, dim=1).mean(0).numpy()
    assert np.allclose(scores, want, atol=1e-6)
