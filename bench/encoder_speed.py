"""Speed of the encoder variants on this machine: inference over 20 fragments and training steps.

    .venv/bin/python bench/encoder_speed.py --threads 1 --train-threads 2

Prints, per variant: parameters, float32 weight size, seconds to embed 20 fragments of 10 s (the
fragments of a ~3.5 min track) with ``--threads`` threads, and fragments/s of a full training step
(forward, InfoNCE, backward, AdamW) on random log-mels with ``--train-threads`` threads. The training
number is the model's ceiling: it leaves out decoding, which `ctk train` overlaps in a thread.
"""

from __future__ import annotations

import argparse
import time

import torch

from embeddings.losses import InfoNCELoss
from embeddings.models import ContrastiveModel, EncoderConfig

VARIANTS = {
    "transformer/alibi2d (default)": {},
    "transformer/alibi1d": {"positional": "alibi1d"},
    "transformer/rope1d": {"positional": "rope1d"},
    "transformer/rope2d": {"positional": "rope2d"},
    "transformer/learned": {"positional": "learned"},
    "transformer/none": {"positional": "none"},
    "cnn-lstm": {"arch": "cnn-lstm"},
}


def embed_seconds(model: torch.nn.Module, n_frames: int, repeats: int) -> float:
    x = torch.randn(20, 128, n_frames)
    with torch.inference_mode():
        model(x)
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
    return (time.perf_counter() - start) / repeats


def train_rate(config: EncoderConfig, batch: int, n_frames: int, steps: int) -> float:
    model = ContrastiveModel(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = InfoNCELoss()
    x = torch.randn(batch, 128, n_frames)
    groups = torch.arange(batch) // 2

    def step() -> None:
        _, z = model(x)
        loss = loss_fn(z, groups)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="threads for inference")
    parser.add_argument("--train-threads", type=int, default=2, help="threads for training steps")
    parser.add_argument("--frames", type=int, default=431, help="frames per fragment (431 = 10 s)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--only", default=None, help="run only variants whose name contains this")
    args = parser.parse_args()
    print(f"torch {torch.__version__}; inference threads {args.threads}, training threads {args.train_threads}")
    print(f"{'variant':32s} {'params':>8s} {'MB':>6s} {'embed 20 frag (s)':>18s} {'train frag/s':>13s}")
    for name, overrides in VARIANTS.items():
        if args.only and args.only not in name:
            continue
        config = EncoderConfig(n_frames=args.frames, **overrides)
        torch.manual_seed(0)
        encoder = ContrastiveModel(config).encoder.eval()
        n_params = sum(p.numel() for p in encoder.parameters())
        torch.set_num_threads(args.threads)
        seconds = embed_seconds(encoder, args.frames, args.repeats)
        torch.set_num_threads(args.train_threads)
        rate = train_rate(config, args.batch, args.frames, args.steps)
        print(f"{name:32s} {n_params / 1e6:7.2f}M {n_params * 4 / 1e6:6.1f} {seconds:18.3f} {rate:13.1f}")


if __name__ == "__main__":
    main()
