"""Segmental consensus: the class scores of a video's K snippets averaged before the loss."""

import torch
from torch import nn
from torch.nn import functional as F

from twostream.config import Schedule
from twostream.training.consensus import consensus, forward_videos, snippets_flat
from twostream.training.train import Checkpoint, Recipe, train_stream

from conftest import repo_block


def test_consensus_is_the_mean_of_the_snippets_class_scores_not_of_their_softmax():
    logits = torch.tensor([[10.0, 0.0], [0.0, 3.0], [0.0, 3.0]])  # one video, K = 3
    video = consensus(logits, 3)
    assert torch.allclose(video, logits.mean(0, keepdim=True))
    after_softmax = torch.log(torch.softmax(logits, 1).mean(0, keepdim=True))
    assert video.argmax(1) != after_softmax.argmax(1)  # the two orders disagree on this video
    assert torch.equal(consensus(logits, 1), logits)


def test_snippets_of_a_video_stay_together():
    x = torch.arange(2 * 3 * 1 * 1 * 1, dtype=torch.float32).view(2, 3, 1, 1, 1)  # B=2, K=3
    flat, k = snippets_flat(x)
    assert k == 3 and flat.shape == (6, 1, 1, 1)
    net = nn.Flatten()
    assert forward_videos(net, x).flatten().tolist() == [1.0, 4.0]  # means of 0,1,2 and 3,4,5


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def test_training_takes_the_loss_on_each_videos_consensus(tmp_path):
    """One step at lr 0: the logged loss is the cross-entropy of the mean snippet scores."""
    torch.manual_seed(0)
    model = _Tiny()
    inputs = torch.randn(2, 3, 1, 2, 2)  # 2 videos x 3 snippets of (1, 2, 2)
    labels = torch.tensor([0, 2])
    with torch.no_grad():
        expected = F.cross_entropy(model(inputs.flatten(0, 1)).view(2, 3, 3).mean(1), labels)
        per_snippet = F.cross_entropy(model(inputs.flatten(0, 1)), labels.repeat_interleave(3))
    assert not torch.isclose(expected, per_snippet)
    logged = []

    class Live:
        def restart_at(self, step: int) -> None:
            pass

        def log(self, step: int, values: dict) -> None:
            logged.append(values["loss"])

    block = repo_block("temporal", lr=1e-12, channels_last=False, bn_recompute_batches=0,
                       segments=3)
    train_stream(model, lambda start: [(inputs, labels)], Recipe(block, Schedule(1, ())),
                 device=torch.device("cpu"), checkpoint=Checkpoint(tmp_path / "c.pt", {}, every=1),
                 live=Live(), log_every=1)
    assert logged and abs(logged[0] - float(expected)) < 1e-5
