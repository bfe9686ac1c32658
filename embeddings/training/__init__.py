"""Contrastive training of the encoder: config, streamed data, and the ``train`` loop."""

from embeddings.config import TrainConfig
from embeddings.training.train import TrainResult, load_resume_configs, train

__all__ = ["TrainConfig", "TrainResult", "load_resume_configs", "train"]
