"""Auxiliary descriptor head: the embedding also predicts the fragment's handcrafted descriptors.

Multi-task training (``TrainConfig.aux_descriptors = W > 0``): a linear head maps the pooled embedding
of each training item to the `features` backend's vector of the item's 10 s fragment (MFCC, chroma,
contrast, loudness, onset and tempo statistics, standardised by the backend's fixed reference
statistics, clipped to +-:data:`CLIP`), and ``W * MSE`` joins the contrastive loss. The head is linear
so that what it needs stays *linearly* readable in the embedding, the way cosine neighbours, k-means
and a linear probe read it: timbre, level and dynamics statistics the contrastive loss alone may drop.

The targets are the descriptors of the whole un-augmented fragment (the model sees an augmented
crop of it), computed once per training fragment on first use (:class:`DescriptorTargets`) and never
again. The head lives beside the model in the training state (its weights and optimiser moments are
in ``last/`` for a resume) and is never exported: the exported encoder, its embedding and its size
are those of a run without it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from embeddings.backends.features import FeaturesBackend
from embeddings.config import AudioConfig

#: targets are clipped to +- this many reference standard deviations (a silent fragment's z-scores
#: would otherwise dominate the squared error)
CLIP = 5.0


class DescriptorHead(nn.Module):
    """``(B, embedding_dim)`` -> ``(B, n_descriptors)``: one linear map."""

    def __init__(self, embedding_dim: int, n_descriptors: int) -> None:
        super().__init__()
        self.linear = nn.Linear(embedding_dim, n_descriptors)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear(embeddings)


class DescriptorTargets:
    """The standardised `features` vector of each (track, fragment) item, computed once on first use.

    ``targets(mels, keys)``: ``mels`` ``(B, n_mels, n_frames)`` dB log-mels of the items (un-augmented),
    ``keys`` one hashable per item (the same fragment, the same key) -> ``(B, dim)`` float32.
    """

    def __init__(self, audio: AudioConfig | None = None) -> None:
        self.backend = FeaturesBackend(audio)
        self.dim = self.backend.dim
        self._cache: dict[object, np.ndarray] = {}
        self.computed = 0  # fragments whose descriptors were computed (each once)

    def __len__(self) -> int:
        return len(self._cache)

    def targets(self, mels: torch.Tensor, keys: list) -> torch.Tensor:
        missing = {key: i for i, key in enumerate(keys) if key not in self._cache}
        if missing:
            # one fragment per call (features-v1's descriptors depended on the other items of a batch; v2's do
            # not, the loop is kept so a target never can)
            for key, i in missing.items():
                x = self.backend.embed(mels[i : i + 1].float().cpu().numpy())[0]
                self._cache[key] = np.clip(x, -CLIP, CLIP).astype(np.float32)
            self.computed += len(missing)
        return torch.from_numpy(np.stack([self._cache[key] for key in keys]))


def descriptor_loss(head: DescriptorHead, embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the head's prediction from ``embeddings`` against ``targets`` (both ``(B, .)``)."""
    return F.mse_loss(head(embeddings).float(), targets.to(embeddings.device).float())
