"""``train(...)``: the one training entry point, one loop, read top to bottom.

A run folder ``out_dir`` ends up holding::

    model.json, model.safetensors   the exported encoder (best validation loss; latest without validation)
    last/                           full model + heads + optimiser/scheduler/sampler/RNG state, to resume
    metrics.jsonl                   one JSON record per log step and per validation
    loss_curve.png                  train/validation loss and validation Recall@k against step

Library code: it never prints; progress goes to the ``on_progress`` callback (the CLI draws a bar).
Fine-tuning: ``init_from`` starts from a trained checkpoint; ``TrainConfig.kmeans_weight > 0`` adds the
k-means term of :mod:`embeddings.training.kmeans_term` (centroids refitted each epoch) to the loss.
Ctrl-C saves ``last/`` and returns with ``status="interrupted"``.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from embeddings.augment import SpectrogramAugment
from embeddings.checkpoint import load_checkpoint, save_checkpoint
from embeddings.config import AudioConfig, FragmentConfig, config_from_dict
from embeddings.errors import CheckpointError, ConfigError
from embeddings.fragments import TRAIN, VALIDATION
from embeddings.losses import SkipGramLoss, SoftInfoNCELoss, TagHeadLoss, build_loss, tag_metrics
from embeddings.models import ContrastiveModel
from embeddings.models.config import EncoderConfig
from embeddings.positives import (
    PositiveGroups,
    folder_positives,
    playlist_positives,
    split_tags,
    tag_positives,
    tag_similarity,
    track_positives,
)
from embeddings.retrieval import retrieval_scores
from embeddings.training.config import TrainConfig
from embeddings.training.data import (
    BatchPlanner,
    BatchStream,
    LogMelCache,
    TrainTrack,
    build_validation_set,
    index_tracks,
)
from embeddings.training.kmeans_term import KMeansTerm, embed_items, fragment_sample
from embeddings.training.metrics_log import MetricsLog, plot_loss_curve, read_metrics

LAST = "last"
STATE = "train_state.pt"
#: TrainConfig fields a resumed run may change; anything else must match the saved run.
RESUMABLE_CHANGES = ("epochs", "max_steps", "patience", "val_every", "checkpoint_every", "log_every", "logger")


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    status: str  # "finished" | "early-stopped" | "interrupted"
    step: int
    epoch: int
    best: dict[str, Any] | None
    fragments_per_s: float
    data: dict[str, Any]
    collapse: dict[str, Any] | None = None  # k-means fine-tuning: {"before": ..., "after": ...} reports


def lr_factor(step: int, *, warmup: int, total: int, min_ratio: float, cosine: bool) -> float:
    """Multiplier of the base learning rate at ``step``: linear warm-up, then cosine to ``min_ratio`` (or 1)."""
    if step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def tracks_digest(tracks: Sequence[TrainTrack]) -> str:
    """Identity of a training set (its track ids, in order): a resume must see the same one."""
    return hashlib.blake2b("\n".join(t.track_id for t in tracks).encode(), digest_size=8).hexdigest()


def resolve_positives(
    kind: str, tracks: Sequence[TrainTrack], *, playlists_dir: str | Path | None = None
) -> PositiveGroups:
    """The positive groups of ``kind`` (``track``, ``playlist``, ``tag``, ``folder``) over ``tracks``."""
    if kind == "track":
        return track_positives(len(tracks))
    if kind == "folder":
        return folder_positives([t.path for t in tracks])
    if kind == "tag":
        return tag_positives([t.genre for t in tracks])
    if playlists_dir is None:
        raise ConfigError("--positives playlist needs --playlists DIR (a folder of .m3u/.m3u8/.json playlists)")
    return playlist_positives(
        [t.path for t in tracks],
        playlists_dir,
        artists=[t.artist for t in tracks],
        titles=[t.title for t in tracks],
    )


def tag_vocabulary(tracks: Sequence[TrainTrack], max_tags: int) -> list[str]:
    """The ``max_tags`` most frequent tags carried by at least two tracks (ties by name)."""
    counts: dict[str, int] = {}
    for t in tracks:
        for tag in split_tags(t.genre):
            counts[tag] = counts.get(tag, 0) + 1
    common = sorted((tag for tag, c in counts.items() if c >= 2), key=lambda tag: (-counts[tag], tag))
    return common[:max_tags]


def _decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weight matrices and conv kernels only, not on biases, norms or position tables."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (decay if param.dim() >= 2 and not name.endswith("table") else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def initial_weights(path: str | Path, encoder: EncoderConfig) -> tuple[dict[str, torch.Tensor], bool]:
    """:class:`ContrastiveModel` weights to fine-tune from: the encoder of the checkpoint in ``path``, plus the
    projection head of ``path/last`` when that is a full checkpoint of the same encoder (a ``ctk train``
    folder); without one the head starts fresh. Returns the weights and whether the head was found."""
    checkpoint = load_checkpoint(path)
    if checkpoint.encoder != encoder:
        raise ConfigError(f"{path}: the checkpoint's encoder config differs from the one to train")
    state = {f"encoder.{k}": v for k, v in checkpoint.encoder_state_dict().items()}
    full = checkpoint
    if checkpoint.contents != "full" and (Path(path) / LAST / "model.json").is_file():
        full = load_checkpoint(Path(path) / LAST)
    if full.contents == "full" and full.encoder == encoder:
        state.update({k: v for k, v in full.state_dict.items() if k.startswith("head.")})
    return state, any(k.startswith("head.") for k in state)


def load_resume_configs(out_dir: str | Path) -> tuple[EncoderConfig, TrainConfig, AudioConfig, FragmentConfig, dict]:
    """The configs and data summary saved by an earlier run in ``out_dir`` (for ``--resume``)."""
    last = Path(out_dir) / LAST
    if not (last / STATE).is_file():
        raise CheckpointError(f"{out_dir}: nothing to resume (no {LAST}/{STATE}; was it a ctk train folder?)")
    checkpoint = load_checkpoint(last)
    try:
        config = config_from_dict(TrainConfig, checkpoint.training)
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{last}: invalid training config ({exc})") from exc
    return checkpoint.encoder, config, checkpoint.audio, checkpoint.fragments, checkpoint.data


def train(
    files: Sequence[tuple[str | Path, str]],
    *,
    out_dir: str | Path,
    encoder: EncoderConfig | None = None,
    config: TrainConfig | None = None,
    audio: AudioConfig | None = None,
    fragments: FragmentConfig | None = None,
    playlists_dir: str | Path | None = None,
    source_dir: str | Path | None = None,
    name: str | None = None,
    init_from: str | Path | None = None,
    resume: bool = False,
    device: str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train an encoder contrastively on ``files`` (``(path, track_id)`` pairs) into ``out_dir``.

    With ``resume=True`` the run continues from ``out_dir/last``: model, optimiser, scheduler, sampler
    position and random states are restored, so the remaining steps are the ones an uninterrupted run
    would have taken. The encoder, audio and fragment configs must then match the saved ones.
    ``source_dir`` (the music folder) and ``playlists_dir`` are recorded in the checkpoint's data summary.
    ``init_from`` (a checkpoint folder, see :func:`initial_weights`) replaces the random initialisation;
    a resumed run ignores it (its weights come from ``out_dir/last``).
    """
    out_dir = Path(out_dir)
    encoder = encoder or EncoderConfig()
    config = config or TrainConfig()
    audio = audio or AudioConfig()
    fragments = fragments or FragmentConfig()
    name = name or out_dir.name or "encoder"
    if encoder.n_mels != audio.n_mels:
        raise ConfigError(f"encoder n_mels={encoder.n_mels} but the audio front end gives n_mels={audio.n_mels}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    emit = on_progress or (lambda event: None)

    saved_state = None
    if resume:
        saved_encoder, saved_config, saved_audio, saved_fragments, _ = load_resume_configs(out_dir)
        for label, ours, theirs in (
            ("encoder", encoder, saved_encoder),
            ("audio", audio, saved_audio),
            ("fragments", fragments, saved_fragments),
        ):
            if ours != theirs:
                raise ConfigError(f"--resume: the {label} config differs from the saved run in {out_dir}")
        changed = [k for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES and asdict(saved_config)[k] != v]
        if changed:
            raise ConfigError(f"--resume: cannot change {', '.join(changed)} of the saved run in {out_dir}")
        saved_state = torch.load(out_dir / LAST / STATE, weights_only=False)

    # ------------------------------------------------------------------ data
    emit({"event": "indexing", "n_files": len(files)})
    tracks, skipped = index_tracks(
        files,
        fragments=fragments,
        with_tags=config.positives != "track" or config.tag_weight > 0 or config.loss == "soft-infonce",
    )
    if len(tracks) < 2:
        raise ConfigError(f"need at least 2 usable tracks to train, found {len(tracks)} ({len(skipped)} skipped)")
    positives = resolve_positives(config.positives, tracks, playlists_dir=playlists_dir)
    n_train = [len(t.fragments(TRAIN)) for t in tracks]
    planner = BatchPlanner(
        positives.groups,
        n_train,
        groups_per_batch=config.groups_per_batch,
        views=config.views,
        pool_groups=config.pool_groups,
        max_tracks_per_group=config.max_tracks_per_group,
        seed=config.seed,
    )
    cache = LogMelCache(tracks, audio=audio, fragments=fragments, capacity=config.cache_tracks)
    vocab = tag_vocabulary(tracks, config.max_tags) if config.tag_weight > 0 else []
    tag_targets = torch.zeros(len(tracks), len(vocab))
    for i, t in enumerate(tracks):
        for tag in split_tags(t.genre):
            if tag in vocab:
                tag_targets[i, vocab.index(tag)] = 1.0
    data = {
        "n_tracks": len(tracks),
        "n_skipped": len(skipped),
        "n_train_fragments": int(sum(n_train)),
        "n_validation_fragments": int(sum(len(t.fragments(VALIDATION)) for t in tracks)),
        "hours": round(sum(t.duration_s for t in tracks) / 3600, 3),
        "positives": positives.summary(),
        "tracks_digest": tracks_digest(tracks),
        "tags": vocab,
        "music_dir": str(source_dir) if source_dir is not None else None,
        "playlists_dir": str(playlists_dir) if playlists_dir is not None else None,
    }
    if init_from is not None:
        data["init_from"] = str(init_from)
    if saved_state is not None and saved_state["tracks_digest"] != data["tracks_digest"]:
        raise ConfigError(
            f"--resume: the training tracks changed since the run started ({saved_state['n_tracks']} then, "
            f"{len(tracks)} now); start a new run with another --out"
        )
    emit({"event": "validation-set"})
    val_set = build_validation_set(
        tracks, audio=audio, fragments=fragments, max_tracks=config.val_tracks, seed=config.seed
    )
    data["n_validation_tracks"] = 0 if val_set is None else int(val_set.tracks.unique().numel())

    # ------------------------------------------------------------------ model and optimiser
    torch.manual_seed(config.seed)
    model = ContrastiveModel(encoder, n_tags=len(vocab)).to(device)
    if init_from is not None and saved_state is None:
        weights, data["init_head"] = initial_weights(init_from, encoder)
        model.load_state_dict(weights, strict=False)
    kmeans = (
        KMeansTerm(
            k=config.kmeans_k, weight=config.kmeans_weight, max_fragments=config.kmeans_fragments, seed=config.seed
        )
        if config.kmeans_weight > 0
        else None
    )
    loss_fn = build_loss(config.loss, **config.loss_params)
    tag_loss = TagHeadLoss()
    optimizer = torch.optim.AdamW(_decay_groups(model, config.weight_decay), lr=config.lr)
    total_steps = config.max_steps or config.epochs * planner.steps_per_epoch()
    warmup = min(config.warmup_steps, max(0, total_steps // 4)) if config.warmup_steps else 0

    def factor(step: int) -> float:
        return lr_factor(
            step, warmup=warmup, total=total_steps, min_ratio=config.min_lr_ratio, cosine=config.schedule == "cosine"
        )

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    augment = SpectrogramAugment(replace(config.augment))
    aug_generator = torch.Generator().manual_seed(config.seed + 1)
    loss_generator = torch.Generator().manual_seed(config.seed + 2)
    step, best, bad_validations = 0, None, 0
    ema = None
    if config.ema_decay > 0:  # built before any resume: its state is loaded below
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    if saved_state is not None:
        checkpoint = load_checkpoint(out_dir / LAST)
        model.load_state_dict(checkpoint.state_dict)
        optimizer.load_state_dict(saved_state["optimizer"])
        scheduler.load_state_dict(saved_state["scheduler"])
        plateau.load_state_dict(saved_state["plateau"])
        planner.load_state_dict(saved_state["planner"])
        aug_generator.set_state(saved_state["aug_rng"])
        loss_generator.set_state(saved_state["loss_rng"])
        torch.set_rng_state(saved_state["torch_rng"])
        step, best, bad_validations = saved_state["step"], saved_state["best"], saved_state["bad_validations"]
        if kmeans is not None:
            kmeans.load_state_dict(saved_state["kmeans"])
        if ema is not None:
            ema.load_state_dict(saved_state["ema"])
        total_steps = saved_state["total_steps"] if config.max_steps is None else config.max_steps
        if config.epochs != saved_config.epochs and config.max_steps is None:
            total_steps = config.epochs * planner.steps_per_epoch()

    out_dir.mkdir(parents=True, exist_ok=True)
    log = MetricsLog(out_dir / "metrics.jsonl", logger=config.logger, run_dir=out_dir, config=config.to_dict())
    if resume:
        log.truncate_after(step)
    else:
        (out_dir / "metrics.jsonl").write_text("")
    common = {
        "name": name,
        "encoder": encoder,
        "audio": audio,
        "fragments": fragments,
        "training": config.to_dict(),
        "data": data,
        "n_tags": len(vocab),
    }

    def save_last(planner_state: dict[str, Any]) -> None:
        directory = save_checkpoint(
            out_dir / LAST, module=model, contents="full", step=step, epoch=planner_state["epoch"], **common
        )
        state = {
            "step": step,
            "total_steps": total_steps,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "plateau": plateau.state_dict(),
            "planner": planner_state,
            "aug_rng": aug_generator.get_state(),
            "loss_rng": loss_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "best": best,
            "bad_validations": bad_validations,
            "tracks_digest": data["tracks_digest"],
            "n_tracks": len(tracks),
            "kmeans": None if kmeans is None else kmeans.state_dict(),
            "ema": None if ema is None else ema.state_dict(),
        }
        tmp = directory / f".{STATE}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, directory / STATE)

    def scored() -> ContrastiveModel:
        """The weights that are validated and exported: the moving average when there is one."""
        return model if ema is None else ema.module

    def export(metrics: dict[str, Any] | None, epoch: int) -> None:
        save_checkpoint(
            out_dir, module=scored().encoder, contents="encoder", step=step, epoch=epoch, metrics=metrics, **common
        )

    def grouped_loss(z: torch.Tensor, group_ids: torch.Tensor, item_tracks: torch.Tensor, generator) -> torch.Tensor:
        if isinstance(loss_fn, SoftInfoNCELoss):
            similarity = torch.from_numpy(tag_similarity([tracks[int(t)].genre for t in item_tracks]))
            return loss_fn(z, group_ids, similarity)
        if isinstance(loss_fn, SkipGramLoss):
            return loss_fn(z, group_ids, generator=generator)
        return loss_fn(z, group_ids)

    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.startswith("cuda")
        else torch.autocast("cpu", enabled=False)
    )

    def validate(epoch: int) -> dict[str, Any] | None:
        if val_set is None:
            return None
        net = scored()
        net.eval()
        embeddings, projections = [], []
        with torch.no_grad(), autocast:
            for i in range(0, len(val_set), config.batch_size):
                e, p = net(val_set.mels[i : i + config.batch_size].float().to(device))
                embeddings.append(e.float().cpu())
                projections.append(p.float().cpu())
        emb, proj = torch.cat(embeddings), torch.cat(projections)
        losses, generator = [], torch.Generator().manual_seed(config.seed)
        labels = val_set.tracks
        ends = torch.nonzero(torch.diff(labels)).flatten().add(1).tolist() + [len(labels)]  # track boundaries
        start = 0
        for end in ends:  # chunks of whole tracks, about one batch each
            if end - start >= config.batch_size or end == len(labels):
                chunk = slice(start, end)
                if labels[chunk].unique().numel() >= 2:
                    losses.append(float(grouped_loss(proj[chunk], labels[chunk], labels[chunk], generator)))
                start = end
        record: dict[str, Any] = {"kind": "val", "step": step, "epoch": epoch}
        record["val_loss"] = config.contrastive_weight * float(np.mean(losses)) if losses else float("nan")
        if kmeans is not None and kmeans.centroids is not None:
            record["val_contrastive_loss"] = float(np.mean(losses)) if losses else float("nan")
            record["val_kmeans_loss"] = float(kmeans.loss(emb))
            record["val_loss"] += config.kmeans_weight * record["val_kmeans_loss"]
        scores = retrieval_scores(emb.numpy(), labels.numpy(), ks=(1, 5, 10), queries=val_set.is_query.numpy())
        record.update({k: v for k, v in scores.items() if k.startswith("recall@")})
        if net.tag_head is not None:
            with torch.no_grad():
                logits = net.tag_head(emb.to(device)).float().cpu()
            tagged = tag_targets[labels].sum(dim=1) > 0
            if bool(tagged.any()):
                record.update(
                    {f"tag_{k}": v for k, v in tag_metrics(logits[tagged], tag_targets[labels][tagged]).items()}
                )
        model.train()
        return record

    # ------------------------------------------------------------------ the loop
    model.train()
    stream = BatchStream(planner, cache, on_skip=lambda message: emit({"event": "skip", "message": message}))
    status, snapshot = "finished", planner.state_dict()
    total_items, train_time = 0, 0.0
    tick = time.perf_counter()  # end of the previous step: step time includes waiting for data
    last_val_step = -1
    started = time.perf_counter()
    emit({"event": "start", "step": step, "total_steps": total_steps, "data": data})
    fit_items = fragment_sample(n_train, config.kmeans_fragments, seed=config.seed)

    def refit_kmeans(epoch: int, *, final: bool = False) -> dict[str, Any]:
        """Embed the sampled train fragments, refit the centroids (the collapse check comes with it)."""
        emit({"event": "kmeans-fit", "epoch": epoch, "n_fragments": len(fit_items)})
        embedded = embed_items(model, cache, fit_items, batch_size=config.batch_size, device=device)
        report = kmeans.fit(embedded, epoch=epoch)
        record = {"kind": "kmeans", "step": step, "epoch": epoch, "final": final, **report}
        log.write(record)
        emit({"event": "kmeans", **record})
        return record

    latest: dict[str, Any] | None = None  # the last validation record

    def after_validation(record: dict[str, Any] | None, epoch: int) -> bool:
        """Log, export the best model, step the plateau schedule; True when early stopping says stop."""
        nonlocal best, bad_validations, last_val_step, latest
        last_val_step, latest = step, record
        if record is None:
            export(None, epoch)
            return False
        log.write(record)
        emit({"event": "validation", **record})
        if config.schedule == "plateau" and step >= warmup and math.isfinite(record["val_loss"]):
            plateau.step(record["val_loss"])
        improved = best is None or (math.isfinite(record["val_loss"]) and record["val_loss"] < best["val_loss"])
        if improved:
            best, bad_validations = record, 0
            export(record, epoch)
        else:
            bad_validations += 1
        return config.patience > 0 and bad_validations >= config.patience

    try:
        while planner.epoch < config.epochs and status == "finished":
            if kmeans is not None and kmeans.needs_refit(planner.epoch):
                refit_kmeans(planner.epoch)
            for batch in stream.epoch():
                mels = augment.batch(batch.mels, generator=aug_generator, group_ids=batch.group_ids).to(device)
                group_ids = batch.group_ids.to(device)
                with autocast:
                    embeddings, projections = model(mels)
                    contrastive = grouped_loss(projections.float(), group_ids, batch.tracks, loss_generator)
                    loss = config.contrastive_weight * contrastive
                    if kmeans is not None:
                        kmeans_loss = kmeans.loss(embeddings.float())
                        loss = loss + config.kmeans_weight * kmeans_loss
                    if model.tag_head is not None:
                        targets = tag_targets[batch.tracks].to(device)
                        tagged = targets.sum(dim=1) > 0
                        if bool(tagged.any()):
                            logits = model.tag_head(embeddings[tagged]).float()
                            loss = loss + config.tag_weight * tag_loss(logits, targets[tagged])
                if not torch.isfinite(loss):
                    raise ConfigError(f"the loss became {float(loss)} at step {step}; lower --lr (now {config.lr})")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
                optimizer.step()
                if ema is not None:
                    ema.update_parameters(model)
                if config.schedule == "cosine" or step < warmup:
                    scheduler.step()
                step += 1
                snapshot = batch.planner_state
                total_items += len(batch.mels)
                train_time += time.perf_counter() - tick
                lr = optimizer.param_groups[0]["lr"]
                rate = total_items / max(train_time, 1e-9)
                if step % config.log_every == 0:
                    now = time.perf_counter()
                    record = {
                        "kind": "train",
                        "step": step,
                        "epoch": batch.epoch,
                        "loss": float(loss.detach()),
                        "lr": lr,
                        "grad_norm": float(grad_norm),
                        "fragments_per_s": rate,
                        "elapsed_s": now - started,
                        "decoded_tracks": cache.decoded,
                    }
                    if kmeans is not None:
                        record["contrastive_loss"] = float(contrastive.detach())
                        record["kmeans_loss"] = float(kmeans_loss.detach())
                    log.write(record)
                    emit({"event": "log", **record})
                emit(
                    {
                        "event": "step",  # after logging: a Ctrl-C here loses nothing
                        "step": step,
                        "total_steps": total_steps,
                        "epoch": batch.epoch,
                        "loss": float(loss.detach()),
                        "lr": lr,
                        "fragments_per_s": rate,
                    }
                )
                if step % config.val_every == 0 and after_validation(validate(batch.epoch), batch.epoch):
                    status = "early-stopped"
                if step % config.checkpoint_every == 0:
                    save_last(snapshot)
                if status != "finished" or (config.max_steps is not None and step >= config.max_steps):
                    break
                tick = time.perf_counter()
            else:
                snapshot = planner.state_dict()  # the stream finished the epoch: the planner moved on
                if step - last_val_step >= max(1, config.val_every // 2) and after_validation(
                    validate(planner.epoch - 1), planner.epoch - 1
                ):
                    status = "early-stopped"
                tick = time.perf_counter()
                continue
            break
    except KeyboardInterrupt:
        status = "interrupted"
    epoch = int(snapshot["epoch"])
    if status != "interrupted" and last_val_step != step:
        after_validation(validate(epoch), epoch)
    collapse = None
    if kmeans is not None and status != "interrupted":
        after = refit_kmeans(epoch, final=True)
        collapse = {
            "before": kmeans.before,
            "after": {k: v for k, v in after.items() if k not in ("kind", "final", "step", "epoch")},
        }
        kmeans.epoch = -1  # the final fit is no epoch's centroids: a longer resumed run refits
        # validation losses of different epochs use different centroids: the fine-tuned model is the final one
        export(latest, epoch)
    save_last(snapshot)
    if val_set is None and status == "interrupted":
        export(None, epoch)
    log.close()
    records = read_metrics(log.path)
    if records:
        plot_loss_curve(records, out_dir / "loss_curve.png")
    rate = total_items / train_time if train_time > 0 else 0.0
    emit({"event": "end", "status": status, "step": step})
    return TrainResult(
        out_dir=out_dir,
        status=status,
        step=step,
        epoch=epoch,
        best=best,
        fragments_per_s=rate,
        data=data,
        collapse=collapse,
    )
