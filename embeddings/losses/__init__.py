"""Training losses, one class per file; ``build_loss`` picks one by its command-line name."""

from __future__ import annotations

from embeddings.errors import ConfigError
from embeddings.losses.barlow_twins import BarlowTwinsLoss
from embeddings.losses.dec import DECLoss, soft_assignments, target_distribution
from embeddings.losses.groups import GroupedLoss
from embeddings.losses.infonce import InfoNCELoss
from embeddings.losses.kmeans_loss import KMeansLoss, assign_clusters
from embeddings.losses.queue_infonce import QueueInfoNCELoss
from embeddings.losses.skipgram import SkipGramLoss
from embeddings.losses.soft_infonce import SoftInfoNCELoss
from embeddings.losses.tag_head import TagHeadLoss, exact_match, hamming_accuracy, tag_metrics

__all__ = [
    "LOSSES",
    "BarlowTwinsLoss",
    "DECLoss",
    "GroupedLoss",
    "InfoNCELoss",
    "KMeansLoss",
    "QueueInfoNCELoss",
    "SkipGramLoss",
    "SoftInfoNCELoss",
    "TagHeadLoss",
    "assign_clusters",
    "build_loss",
    "exact_match",
    "hamming_accuracy",
    "soft_assignments",
    "tag_metrics",
    "target_distribution",
]

#: ``--loss`` name -> class, in :data:`embeddings.config.LOSS_NAMES` order (the torch-free list of names)
LOSSES = {
    "infonce": InfoNCELoss,
    "soft-infonce": SoftInfoNCELoss,
    "barlow": BarlowTwinsLoss,
    "skipgram": SkipGramLoss,
}


def build_loss(name: str, **params: float) -> GroupedLoss:
    """The grouped loss named ``name`` (``infonce``, ``soft-infonce``, ``barlow``, ``skipgram``)."""
    if name not in LOSSES:
        raise ConfigError(f"loss={name!r} must be one of {', '.join(LOSSES)}")
    return LOSSES[name](**params)
