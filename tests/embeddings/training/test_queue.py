"""MoCo queue: the FIFO of past keys and the momentum key encoder."""


import pytest
import torch

from embeddings.errors import ConfigError
from embeddings.models import ContrastiveModel
from embeddings.training.queue import KeyQueue, MomentumKeys
from tests.embeddings.tiny import TINY


def test_key_queue_is_a_fifo_of_fixed_capacity():
    queue = KeyQueue(5, 2)
    assert len(queue) == 0 and queue.keys.shape == (0, 2) and queue.ids.dtype == torch.long
    keys, ids = queue.push(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), torch.tensor([0, 1, 2]))
    assert ids.tolist() == [0, 1, 2] and keys[:, 0].tolist() == [0.0, 1.0, 2.0]
    keys, ids = queue.push(torch.tensor([[3.0, 3.0], [4.0, 4.0], [5.0, 5.0]]), torch.tensor([3, 4, 5]))
    assert len(queue) == 5 and ids.tolist() == [1, 2, 3, 4, 5]  # the oldest went
    assert keys[:, 1].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    keys, ids = queue.push(torch.arange(14.0).reshape(7, 2), torch.arange(10, 17))  # more than fits
    assert ids.tolist() == [12, 13, 14, 15, 16] and keys[0].tolist() == [4.0, 5.0]
    other = KeyQueue(5, 2)
    other.load_state_dict(queue.state_dict())
    assert torch.equal(other.keys, queue.keys) and torch.equal(other.ids, queue.ids)


def test_key_queue_stores_detached_float_keys_and_refuses_bad_shapes():
    queue = KeyQueue(4, 3)
    z = torch.randn(2, 3, requires_grad=True)
    keys, _ = queue.push(z.double() * 2, torch.tensor([1, 2], dtype=torch.int32))
    assert not keys.requires_grad and keys.dtype == torch.float32 and queue.ids.dtype == torch.long
    with pytest.raises(ConfigError, match=r"keys must be \(B, 3\) and ids \(B,\)"):
        queue.push(torch.randn(2, 4), torch.tensor([1, 2]))
    with pytest.raises(ConfigError, match=r"keys must be \(B, 3\) and ids \(B,\)"):
        queue.push(torch.randn(2, 3), torch.tensor([1, 2, 3]))
    with pytest.raises(ConfigError, match="size=0"):
        KeyQueue(0, 3)


def test_the_key_encoder_moves_by_its_momentum():
    torch.manual_seed(0)
    model = ContrastiveModel(TINY, n_tags=3)
    keys = MomentumKeys(model, size=8, momentum=0.75)
    assert keys.encoder.tag_head is None and not any(p.requires_grad for p in keys.encoder.parameters())
    before = {k: v.clone() for k, v in keys.encoder.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    keys.update(model)
    weights = dict(model.named_parameters())
    for name, key in keys.encoder.named_parameters():
        torch.testing.assert_close(key, 0.75 * before[name] + 0.25 * weights[name].detach())
    projections = keys.encode(torch.randn(4, TINY.n_mels, TINY.n_frames))
    assert projections.shape == (4, TINY.projection_dims[-1]) and not projections.requires_grad
    with pytest.raises(ConfigError, match=r"momentum=1.0 must be in \(0, 1\)"):
        MomentumKeys(model, size=8, momentum=1.0)
