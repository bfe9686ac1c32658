"""MoCo's memory for ``ctk train --queue N``: a FIFO queue of past keys and the momentum encoder that makes them.

Each step, :class:`MomentumKeys` encodes the step's augmented batch with the key encoder (a copy of the model,
encoder and projection head, whose weights follow the trained ones as an exponential moving average), the
loss (:class:`~embeddings.losses.QueueInfoNCELoss`) sees the batch plus the keys of earlier batches, and the
batch's keys then join the queue with their groups, pushing out the oldest. After He et al., "Momentum
Contrast for Unsupervised Visual Representation Learning" (MoCo, CVPR 2020).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from embeddings.errors import ConfigError


class KeyQueue:
    """The last ``size`` keys ``(Q, D)`` and their group ids ``(Q,)``, oldest first (``Q <= size``)."""

    def __init__(self, size: int, dim: int, *, device: str | torch.device = "cpu") -> None:
        if size < 1 or dim < 1:
            raise ConfigError(f"KeyQueue size={size} and dim={dim} must be >= 1")
        self.size, self.dim = size, dim
        self.keys = torch.empty(0, dim, device=device)
        self.ids = torch.empty(0, dtype=torch.long, device=device)

    def __len__(self) -> int:
        return len(self.ids)

    def push(self, keys: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``keys`` ``(B, D)`` (detached, stored as float32) with their ``ids`` ``(B,)``, drop the oldest
        beyond ``size``; returns the queue's keys and ids."""
        if keys.dim() != 2 or keys.shape[1] != self.dim or ids.shape != (len(keys),):
            raise ConfigError(
                f"KeyQueue.push: keys must be (B, {self.dim}) and ids (B,), got {tuple(keys.shape)} and "
                f"{tuple(ids.shape)}"
            )
        device = self.keys.device
        self.keys = torch.cat([self.keys, keys.detach().float().to(device)])[-self.size :]
        self.ids = torch.cat([self.ids, ids.detach().long().to(device)])[-self.size :]
        return self.keys, self.ids

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"keys": self.keys.cpu(), "ids": self.ids.cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        device = self.keys.device
        self.keys, self.ids = state["keys"].to(device)[-self.size :], state["ids"].to(device)[-self.size :]


class MomentumKeys:
    """The key encoder (a copy of ``model`` without its tag head, no gradients) and its :class:`KeyQueue`.

    :meth:`encode` gives the keys of a batch, :meth:`update` moves the key weights towards ``model``'s after
    an optimiser step (``k <- momentum * k + (1 - momentum) * w``; buffers, e.g. BatchNorm statistics, are
    copied), :meth:`push` queues a batch's keys. The key encoder runs in the model's mode (training, as in
    MoCo). Both the key weights and the queue are part of a run's resumable state.

    Args:
        model: the :class:`~embeddings.models.ContrastiveModel` being trained; its projections are the keys.
        size: the queue's capacity in keys.
        momentum: in (0, 1); closer to 1, slower keys.
    """

    def __init__(self, model: nn.Module, *, size: int, momentum: float) -> None:
        if not 0 < momentum < 1:
            raise ConfigError(f"momentum={momentum} must be in (0, 1) (try 0.99)")
        self.momentum = momentum
        self.encoder = copy.deepcopy(model)
        self.encoder.tag_head = None  # keys are projections; the tag head is never used
        self.encoder.requires_grad_(False)
        device = next(model.parameters()).device
        self.queue = KeyQueue(size, model.config.projection_dims[-1], device=device)

    @torch.no_grad()
    def encode(self, mels: torch.Tensor) -> torch.Tensor:
        """The key encoder's projections of ``mels`` ``(B, n_mels, n_frames)``, ``(B, D)`` float32."""
        return self.encoder(mels)[1].float()

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One momentum step of the key weights towards ``model``'s."""
        weights = dict(model.named_parameters())
        for name, key in self.encoder.named_parameters():
            key.lerp_(weights[name].detach(), 1.0 - self.momentum)
        buffers = dict(model.named_buffers())
        for name, key in self.encoder.named_buffers():
            key.copy_(buffers[name])

    def push(self, keys: torch.Tensor, ids: torch.Tensor) -> None:
        self.queue.push(keys, ids)

    def state_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder.state_dict(), "queue": self.queue.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.queue.load_state_dict(state["queue"])
