"""Embedding backends behind one narrow interface (see :mod:`embeddings.backends.base`).

``load_backend(spec)`` builds one from a short spec string, so that worker processes can
rebuild the same backend from a picklable value:

- ``features``: handcrafted descriptors, the baseline (no training).
- ``ctk-small``: the bundled contrastive encoder, shipped inside the package.
- ``hybrid``: ``ctk-small``'s vector and the ``features`` vector of each fragment, each standardised by
  fixed reference statistics, side by side (:mod:`embeddings.backends.hybrid`); ``hybrid:PATH`` does
  the same with the checkpoint at PATH (which needs its ``embedding_stats.json``).
- ``hybrid+std[:PATH]`` (the default): ``hybrid`` whose track vectors add the std over the track's fragments of
  the learned vectors as a third block (needs ``pooling_stats.json`` next to the checkpoint).
- ``hybrid+attn[:PATH]``: ``hybrid+std`` whose mean part is a learned attention-weighted mean of the fragment
  vectors (needs ``attention_pooling.safetensors`` too; :mod:`embeddings.backends.attention_pooling`).
- a path to a checkpoint directory made by ``ctk train``: that encoder.
"""

from __future__ import annotations

from pathlib import Path

from embeddings.backends.base import EmbeddingBackend, model_id
from embeddings.errors import CheckpointError

__all__ = ["DEFAULT_BACKEND", "EmbeddingBackend", "load_backend", "model_id"]

DEFAULT_BACKEND = "hybrid+std"
HYBRID_POOLINGS = {"hybrid": "mean", "hybrid+std": "mean+std", "hybrid+attn": "attention"}


def load_backend(spec: str, *, device: str = "cpu") -> EmbeddingBackend:
    """Build the backend named by ``spec`` (``features``, ``ctk-small``, ``hybrid[:PATH]`` or a checkpoint path);
    an encoder runs on ``device`` (``features`` always on the CPU)."""
    if spec == "features":
        from embeddings.backends.features import FeaturesBackend

        return FeaturesBackend()
    from embeddings.checkpoint import BUNDLED, CONFIG, resolve_checkpoint_dir

    kind, _, path = spec.partition(":")
    if kind in HYBRID_POOLINGS:
        from embeddings.backends.encoder import EncoderBackend
        from embeddings.backends.hybrid import HybridBackend

        folder = resolve_checkpoint_dir(path or "ctk-small", label=f"{kind}:")
        if not (folder / CONFIG).is_file():
            raise CheckpointError(f"{kind}: no checkpoint at {folder} ({CONFIG} missing)")
        return HybridBackend(EncoderBackend.from_checkpoint(folder, device=device),
                             pooling=HYBRID_POOLINGS[kind])
    if spec in BUNDLED or Path(spec).expanduser().exists():
        from embeddings.backends.encoder import EncoderBackend

        return EncoderBackend.from_checkpoint(spec, device=device)
    raise CheckpointError(
        f"unknown model {spec!r}: use 'features', 'ctk-small', 'hybrid', 'hybrid+std', 'hybrid+attn' or the path of "
        "a checkpoint made by `ctk train`"
    )
