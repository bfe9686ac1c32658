"""Self-describing model checkpoints: safetensors weights + a JSON config beside them.

A checkpoint is a folder holding ``model.safetensors`` and ``model.json``::

    {
      "format": "ctk-encoder", "version": 1,
      "name": "ctk-small",            # the backend name recorded in a library store
      "contents": "encoder" | "full", # encoder only (exported) or encoder + heads (to resume)
      "encoder": {...EncoderConfig},   "n_tags": 0,
      "audio": {...AudioConfig},       "fragments": {...FragmentConfig},
      "training": {...TrainConfig},    "data": {...summary of the training data},  # {} when untrained
      "step": 1200, "epoch": 3, "metrics": {...last validation},
      "weights_sha256": "..."          # of model.safetensors, checked on load
    }

Everything needed to rebuild and run the model is in the folder, so ``ctk embed`` needs none of the
training flags. Loading checks every part and raises :class:`CheckpointError` with a one-line message.
A model is named by a *spec* (:func:`resolve_checkpoint_dir`): a bundled model's name (``ctk-small``), a
checkpoint folder, or its ``model.json`` / ``model.safetensors`` file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from embeddings.config import AudioConfig, FragmentConfig, TrainConfig, config_from_dict
from embeddings.errors import CheckpointError, CtkError
from embeddings.models.config import EncoderConfig

FORMAT = "ctk-encoder"
VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "model.json"
CONTENTS = ("encoder", "full")
#: models shipped inside the package, by the name a user gives (``--model ctk-small``)
BUNDLED = {"ctk-small": Path(__file__).resolve().parent / "assets" / "ctk-small"}


@dataclass(frozen=True)
class Checkpoint:
    """A loaded, validated checkpoint. ``state_dict`` holds the weights named as in ``contents``."""

    path: Path
    name: str
    contents: str
    encoder: EncoderConfig
    audio: AudioConfig
    fragments: FragmentConfig
    state_dict: dict[str, torch.Tensor]
    weights_sha256: str
    n_tags: int = 0
    training: TrainConfig | None = None  # None: the checkpoint records no training run
    data: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    epoch: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's weights alone, whatever the contents."""
        if self.contents == "encoder":
            return self.state_dict
        prefix = "encoder."
        return {k[len(prefix) :]: v for k, v in self.state_dict.items() if k.startswith(prefix)}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def resolve_checkpoint_dir(spec: str | Path, *, label: str = "") -> Path:
    """The checkpoint folder a model spec names: a bundled model (``ctk-small``, see :data:`BUNDLED`), a
    folder, or the folder of a ``model.json`` / ``model.safetensors`` file named directly.

    Raises :class:`CheckpointError` (its message starting with ``label``, e.g. ``--model``) when there is
    no such folder; whether it holds a valid checkpoint is :func:`load_checkpoint`'s to say.
    """
    prefix = f"{label} " if label else ""
    if str(spec) in BUNDLED:
        folder = BUNDLED[str(spec)]
        if not (folder / CONFIG).is_file():
            raise CheckpointError(
                f"{prefix}the bundled model {spec} is not installed ({folder} is missing); "
                "use --model features or train one with `ctk train`"
            )
        return folder
    path = Path(spec).expanduser()
    if path.is_file() and path.name in (WEIGHTS, CONFIG):
        return path.parent
    if not path.exists():
        raise CheckpointError(f"{prefix}{spec}: no such checkpoint folder (train one with `ctk train`)")
    return path


def save_checkpoint(
    directory: str | Path,
    *,
    module: nn.Module,
    name: str,
    contents: str,
    encoder: EncoderConfig,
    audio: AudioConfig,
    fragments: FragmentConfig,
    n_tags: int = 0,
    training: TrainConfig | None = None,
    data: dict[str, Any] | None = None,
    step: int = 0,
    epoch: int = 0,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write ``module``'s weights and the JSON config into ``directory`` (created); returns the folder.

    Both files are written to temporary names and renamed, so an interrupted save never leaves a
    half-written checkpoint in place of a good one.
    """
    if contents not in CONTENTS:
        raise CheckpointError(f"contents={contents!r} must be one of {', '.join(CONTENTS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    tmp_weights = directory / f".{WEIGHTS}.tmp"
    save_file(state, str(tmp_weights), metadata={"format": FORMAT, "contents": contents})
    description = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "contents": contents,
        "encoder": asdict(encoder),
        "n_tags": n_tags,
        "audio": asdict(audio),
        "fragments": asdict(fragments),
        "training": training.to_dict() if training is not None else {},
        "data": data or {},
        "step": int(step),
        "epoch": int(epoch),
        "metrics": metrics or {},
        "weights_sha256": _sha256(tmp_weights),
    }
    tmp_config = directory / f".{CONFIG}.tmp"
    tmp_config.write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_weights, directory / WEIGHTS)
    os.replace(tmp_config, directory / CONFIG)
    return directory


def _config(cls: type, data: Any, what: str, where: Path) -> Any:
    if not isinstance(data, dict):
        raise CheckpointError(f"{where}: '{what}' is missing or not an object")
    try:
        return config_from_dict(cls, data)
    except (CtkError, TypeError) as exc:
        raise CheckpointError(f"{where}: invalid '{what}' config ({exc})") from exc


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate the checkpoint a model spec names (see :func:`resolve_checkpoint_dir`)."""
    directory = resolve_checkpoint_dir(path)
    config_path, weights_path = directory / CONFIG, directory / WEIGHTS
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise CheckpointError(f"{directory}: not a ctk checkpoint (missing {needed.name})")
    try:
        meta = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{config_path}: corrupt JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{config_path}: not a ctk encoder checkpoint (format={found!r}, expected {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{config_path}: checkpoint version {meta.get('version')!r}, this ctk reads {VERSION}")
    contents = meta.get("contents")
    if contents not in CONTENTS:
        raise CheckpointError(f"{config_path}: contents={contents!r} must be one of {', '.join(CONTENTS)}")
    encoder = _config(EncoderConfig, meta.get("encoder"), "encoder", config_path)
    audio = _config(AudioConfig, meta.get("audio"), "audio", config_path)
    fragments = _config(FragmentConfig, meta.get("fragments"), "fragments", config_path)
    # every checkpoint so far wrote TrainConfig.to_dict() here, or {} when not trained by ctk train
    training = _config(TrainConfig, meta["training"], "training", config_path) if meta.get("training") else None
    digest = _sha256(weights_path)
    if meta.get("weights_sha256") != digest:
        raise CheckpointError(
            f"{weights_path}: weights do not match {CONFIG} (sha256 {digest[:12]}..., "
            f"expected {str(meta.get('weights_sha256'))[:12]}...); the file is corrupt or from another checkpoint"
        )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights_path}: corrupt safetensors file ({exc})") from exc
    n_tags = meta.get("n_tags", 0)
    if not isinstance(n_tags, int) or n_tags < 0:
        raise CheckpointError(f"{config_path}: n_tags={n_tags!r} must be a non-negative integer")
    checkpoint = Checkpoint(
        path=directory,
        name=str(meta.get("name") or "encoder"),
        contents=contents,
        encoder=encoder,
        audio=audio,
        fragments=fragments,
        state_dict=state,
        weights_sha256=digest,
        n_tags=n_tags,
        training=training,
        data=dict(meta.get("data") or {}),
        step=int(meta.get("step", 0)),
        epoch=int(meta.get("epoch", 0)),
        metrics=dict(meta.get("metrics") or {}),
    )
    _check_weights(checkpoint)
    return checkpoint


def _check_weights(checkpoint: Checkpoint) -> None:
    """Refuse weights whose names or shapes do not fit the model the config describes."""
    from embeddings.models import ContrastiveModel, build_encoder

    if checkpoint.contents == "full":
        model: nn.Module = ContrastiveModel(checkpoint.encoder, n_tags=checkpoint.n_tags)
    else:
        model = build_encoder(checkpoint.encoder)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in checkpoint.state_dict.items()}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s) e.g. {missing[0]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} e.g. {unexpected[0]}")
        raise CheckpointError(f"{checkpoint.path}: weights do not fit the encoder config ({'; '.join(parts)})")
    for key, shape in expected.items():
        if found[key] != shape:
            raise CheckpointError(
                f"{checkpoint.path}: tensor {key} has shape {list(found[key])}, the config needs {list(shape)}"
            )


def load_encoder(checkpoint: Checkpoint) -> nn.Module:
    """The encoder of a checkpoint with its weights, in eval mode."""
    from embeddings.models import build_encoder

    encoder = build_encoder(checkpoint.encoder)
    encoder.load_state_dict(checkpoint.encoder_state_dict())
    return encoder.eval()
