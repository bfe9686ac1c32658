"""Attention pooling: a track vector as a learned weighted mean of its fragment vectors.

Mean pooling gives every fragment of a track the same say, so an intro of silence, a sound-effect bridge or a
jingle tail counts as much as the body of the piece. A small attention head (Ilse, Tomczak and Welling,
"Attention-based Deep Multiple Instance Learning", ICML 2018) scores each fragment vector ``x_k``,

    a_k = softmax_k( v . tanh(W x_k + b) ),        track = sum_k a_k x_k

with ``W`` ``(hidden, dim)``. ``v`` starts at zero, so an unfitted head *is* mean pooling, and a track of one
fragment is always that fragment. The head is fitted on the encoder's training sources' tracks by
:func:`fit_attention_pooling`: full batch, Adam, multi-positive InfoNCE over the pooled track vectors with the
source as the label (tracks of one soundtrack are positives of each other, as in training). It is stored next to
the checkpoint (``attention_pooling.safetensors``, :func:`write_attention_pooling`), tied by SHA-256 to the
weights and statistics it was fitted on; ``hybrid+attn`` (:class:`~embeddings.backends.hybrid.HybridBackend` with
``pooling="attention"``) uses it for the mean part of its track vectors. ``bench/attention_pooling.py`` chooses
the step count on folds of whole training sources and writes the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from embeddings.errors import CheckpointError, ConfigError
from embeddings.losses.infonce import InfoNCELoss

ATTENTION_FORMAT = "ctk-attention-pooling/1"
ATTENTION_FILE = "attention_pooling.safetensors"
TIES = ("weights_sha256", "embedding_stats_sha256", "pooling_stats_sha256", "features_model")


class AttentionPooling(torch.nn.Module):
    """``(k, dim)`` fragment vectors -> ``(dim,)`` track vector, ``sum_k softmax_k(v . tanh(W x_k + b)) x_k``.

    Args:
        dim: width of the fragment vectors it pools.
        hidden: rows of ``W`` (32: about 11 k parameters for ``hybrid``'s 343 dimensions).
    """

    def __init__(self, dim: int, hidden: int = 32) -> None:
        super().__init__()
        if dim < 1 or hidden < 1:
            raise ConfigError(f"AttentionPooling dim={dim} and hidden={hidden} must be >= 1")
        self.dim, self.hidden = dim, hidden
        self.score = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(),
                                         torch.nn.Linear(hidden, 1, bias=False))
        torch.nn.init.zeros_(self.score[2].weight)  # v = 0: uniform weights, the plain mean

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """``(k, dim)`` -> ``(k,)`` attention weights (non-negative, summing to 1)."""
        return torch.softmax(self.score(x).squeeze(-1), dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(k, dim)`` -> ``(dim,)``."""
        if x.ndim != 2 or x.shape[1] != self.dim or len(x) == 0:
            raise ConfigError(f"AttentionPooling needs (k >= 1, {self.dim}) fragment vectors, got {tuple(x.shape)}")
        return self.weights(x) @ x


def attention_pooled(head: AttentionPooling, fragment_vectors: np.ndarray) -> np.ndarray:
    """``head``'s pooling of one track's fragment vectors ``(k, head.dim)`` -> ``(head.dim,)`` float32 (numpy in and
    out, no gradient; a single fragment is returned as it is, which is what the head gives it)."""
    x = np.ascontiguousarray(fragment_vectors, dtype=np.float32)
    if len(x) == 1:
        return x[0].copy()
    with torch.no_grad():
        return head(torch.from_numpy(x)).numpy()


def fit_attention_pooling(
    tracks: list[np.ndarray], labels: np.ndarray, *, steps: int, hidden: int = 32, lr: float = 1e-3,
    temperature: float = 0.1, seed: int = 0,
) -> AttentionPooling:
    """A head fitted for ``steps`` full-batch Adam steps on ``tracks`` (each ``(k_i, dim)`` fragment vectors) with
    ``labels`` ``(n_tracks,)`` (their sources): multi-positive InfoNCE over the pooled vectors. ``steps=0`` returns
    the unfitted head (mean pooling)."""
    if len(tracks) != len(labels):
        raise ConfigError(f"{len(tracks)} tracks but {len(labels)} labels")
    if steps < 0:
        raise ConfigError(f"steps={steps} must be >= 0")
    torch.manual_seed(seed)
    head = AttentionPooling(tracks[0].shape[1], hidden)
    if steps == 0:
        return head
    targets = torch.from_numpy(np.unique(np.asarray(labels), return_inverse=True)[1].reshape(-1))
    inputs = [torch.from_numpy(np.asarray(x, dtype=np.float32)) for x in tracks]
    loss_fn = InfoNCELoss(temperature=temperature)
    optimiser = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):
        loss = loss_fn(torch.stack([head(x) for x in inputs]), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return head.eval()


def write_attention_pooling(path: str | Path, head: AttentionPooling, *, ties: dict[str, str],
                            fitted_on: dict[str, Any]) -> Path:
    """Store ``head`` at ``path`` (safetensors) with the hashes it is tied to (``ties``: every key of
    :data:`TIES`) and a description of what it was fitted on; written to a temporary file, then renamed."""
    missing = [k for k in TIES if k not in ties]
    if missing:
        raise ConfigError(f"attention pooling needs its ties {', '.join(missing)}")
    path = Path(path)
    metadata = {"format": ATTENTION_FORMAT, "dim": str(head.dim), "hidden": str(head.hidden),
                "fitted_on": json.dumps(fitted_on, sort_keys=True), **{k: str(ties[k]) for k in TIES}}
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous() for k, v in head.state_dict().items()}, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def read_attention_pooling(path: str | Path, *, ties: dict[str, str], dim: int) -> AttentionPooling:
    """The head stored at ``path``, checked against the model it must belong to (``ties``) and its width;
    :class:`CheckpointError` naming the file and the reason otherwise."""
    path = Path(path)
    fit = f"python bench/attention_pooling.py --model NAME={path.parent} --write ..."
    if not path.is_file():
        raise CheckpointError(f"attention pooling not found at {path}; fit it with `{fit}`")
    try:
        with safe_open(str(path), framework="pt") as f:  # one read: the metadata and the tensors
            metadata = f.metadata() or {}
            state = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for truncated or foreign files
        raise CheckpointError(f"attention pooling {path} is unreadable: {exc}") from exc
    if metadata.get("format") != ATTENTION_FORMAT:
        raise CheckpointError(f"{path} is not a ctk attention pooling file (format {ATTENTION_FORMAT!r})")
    stale = [k for k in TIES if metadata.get(k) != ties.get(k)]
    if stale:
        raise CheckpointError(f"attention pooling {path} was fitted for another {stale[0].replace('_', ' ')}; "
                              f"refit it with `{fit}`")
    if int(metadata.get("dim", -1)) != dim:
        raise CheckpointError(f"attention pooling {path} pools {metadata.get('dim')} dimensions, not {dim}")
    head = AttentionPooling(dim, int(metadata["hidden"]))
    try:
        head.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"attention pooling {path} does not hold a head of width {dim}: {exc}") from exc
    return head.eval()
