"""Training on several devices: one process per device, DistributedDataParallel, losses over the global batch.

How a run is started: ``torchrun --nproc-per-node N -m cluster_toolkit.cli.main train ...`` (each process
runs ``ctk train`` and finds itself a rank of the job from torchrun's environment), or ``ctk train
--devices N``, which starts the N processes itself with torch's elastic launcher (:func:`launch`, the
API behind ``torchrun``). Each process opens the process group (:func:`process_group`: NCCL on GPUs, gloo
on CPUs) and runs the ordinary ``train(...)`` loop, which asks :func:`current_world` who it is:

- **data**: every process plans the *same* global batch (the batch planner is seeded alike everywhere)
  and decodes only its contiguous share of it (:func:`shard`); the shares, concatenated in rank order,
  are the single-process batch;
- **model**: wrapped in ``DistributedDataParallel`` (:func:`wrap_model`), which averages the gradients;
  on GPUs the BatchNorm layers become ``SyncBatchNorm``, so their batch statistics are those of the global
  batch (PyTorch has no CPU SyncBatchNorm: on CPU processes BatchNorm statistics stay per process);
- **losses**: :class:`CrossDeviceLoss` (below) computes the contrastive loss on the global batch;
- **randomness**: the loss's sampling stream (skip-gram negatives) is seeded alike on every process and
  draws on the same global batch, so it draws the same; the augmentation stream and torch's global one
  get a seed per rank (:func:`rank_seed`; rank 0 keeps the single-process seed): each process augments
  its own share;
- **output**: only rank 0 writes checkpoints, metrics and the exported encoder; rank 0 validates and
  hands its record to the others (:func:`agree`) so that early stopping and the plateau schedule decide
  alike everywhere; the resumable checkpoint holds every rank's random streams (:func:`gather_objects`).

Contrastive losses across devices: each process sees only its share of the batch. A loss computed on it
would only use local negatives: with 8 devices of 64 items each, every anchor would meet 63 candidates
instead of 511, a weaker and different objective from training on one device with the global batch.
:class:`CrossDeviceLoss` wraps a :class:`~embeddings.losses.GroupedLoss`:

1. the projections of every process are gathered with torch's autograd-aware gather
   (``torch.distributed._functional_collectives.all_gather_single``, which the deprecated
   ``torch.distributed.nn.functional.all_gather`` now points to): its backward sums the gradients of each
   piece back onto the process that owns it (the plain ``torch.distributed.all_gather`` would cut the
   gradient to the other processes' items);
2. the group ids and the items' track numbers are gathered too (no gradient); group ids are global (every
   process numbers the groups of the same planned batch), and a loss that weights negatives by a known
   similarity (Soft InfoNCE) gets the ``(N, N)`` similarity of the *global* batch, computed from the
   gathered track numbers (every process holds the whole track list, so it needs no other gather);
3. the wrapped loss is computed on the concatenated global batch, in rank order: InfoNCE's and Soft
   InfoNCE's negatives, Barlow Twins' cross-correlation matrix (standardised over every pair of the global
   batch) and skip-gram's sampled negatives (same generator state, same global batch) are those of one
   process training on the whole batch.

Every process so computes the same value, the single-device loss of the global batch. Each process's gradient
with respect to its own items is then ``world_size`` times that loss's gradient (every process's copy of the
loss reaches them through the gather's backward), and DDP *averages* parameter gradients across processes,
so the update equals single-device training on the global batch (tested on 2 CPU processes with gloo: same
loss, same gradients, for each loss). This is the pattern of SimCLR's and CLIP's multi-device training
(Chen et al. 2020; Radford et al. 2021). Batches of different sizes per process are padded for the gather
and trimmed after.

Outside a distributed run (``torch.distributed`` not initialised, or one process) every helper here is the
identity: ``train`` on one device runs exactly as before.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from embeddings.errors import ConfigError, CtkError


@dataclass(frozen=True)
class World:
    """Who this process is in a training job: ``rank`` of ``size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that writes (checkpoints, metrics, the exported encoder) and validates."""
        return self.rank == 0


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def current_world() -> World:
    """This process's place in the initialised process group (one process of one when there is none)."""
    if not _distributed():
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or :func:`launch`) as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextmanager
def process_group() -> Iterator[World]:
    """Join the job this process was launched into (from torchrun's environment: ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``...): NCCL when CUDA is present (the process takes GPU ``LOCAL_RANK``), gloo otherwise.
    Left on exit. Outside a launched job, or when a group is already open, it yields the current world."""
    if not launched() or dist.is_initialized():
        yield current_world()
        return
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield current_world()
    finally:
        dist.destroy_process_group()


def device_for(world: World, requested: str | None) -> str:
    """The device of this process: ``requested`` on one process; with several, ``cuda:LOCAL_RANK`` when
    CUDA is present (``requested`` may only say ``cuda`` or ``cpu``), else ``cpu``."""
    if world.size == 1:
        return requested or ("cuda" if torch.cuda.is_available() else "cpu")
    if requested not in (None, "cuda", "cpu"):
        raise ConfigError(f"--device {requested}: with several processes each takes its own GPU; say cuda or cpu")
    if requested != "cpu" and torch.cuda.is_available():
        return f"cuda:{world.local_rank}"
    return "cpu"


def wrap_model(model: nn.Module, world: World, device: str) -> nn.Module:
    """``model`` itself on one process; else ``DistributedDataParallel(model)`` (its BatchNorm layers turned
    into ``SyncBatchNorm`` on GPUs). The wrapper broadcasts rank 0's weights, so every process starts alike;
    ``model`` keeps its parameters (the optimiser, the weight average and the checkpoints use it)."""
    if world.size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.startswith("cuda"):
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[torch.device(device).index])
    return DistributedDataParallel(model)


def shard(n: int, world: World) -> slice:
    """This process's contiguous share of ``n`` items (the first ``n % size`` processes take one more)."""
    base, extra = divmod(n, world.size)
    start = world.rank * base + min(world.rank, extra)
    return slice(start, start + base + (world.rank < extra))


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s own random streams: ``seed`` on rank 0 (the single-process run's)."""
    return seed + 1_000_003 * rank


def agree(obj: Any) -> Any:
    """Rank 0's ``obj`` on every process (a picklable object; the others pass anything)."""
    if not _distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order (``[obj]`` on one process)."""
    if not _distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def mean_over_processes(numbers: dict[str, float], device: str) -> dict[str, float]:
    """Each number averaged over the processes (a step's logged loss: its local terms differ per process)."""
    if not _distributed() or not numbers:
        return numbers
    values = torch.tensor(list(numbers.values()), dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return dict(zip(numbers, (values / dist.get_world_size()).tolist(), strict=True))


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` ``(n_rank, ...)`` from every process, concatenated in rank order, with the gradient
    flowing back to each process's own rows. Row counts may differ between processes."""
    if not _distributed():
        return x
    from torch.distributed._functional_collectives import all_gather_single

    counts = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, torch.tensor([x.shape[0]], dtype=torch.long, device=x.device))
    sizes = [int(c.item()) for c in counts]
    longest = max(sizes)
    padded = x
    if x.shape[0] < longest:
        padded = torch.cat([x, x.new_zeros((longest - x.shape[0], *x.shape[1:]))])
    if x.requires_grad:  # torch's autograd-aware gather (what torch.distributed.nn.functional's now points to)
        pieces = list(all_gather_single(padded.contiguous(), 0, dist.group.WORLD).split(longest))
    else:
        pieces = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(pieces, padded.contiguous())
    return torch.cat([piece[:size] for piece, size in zip(pieces, sizes, strict=True)])


class CrossDeviceLoss(nn.Module):
    """A grouped loss computed on the batch of all processes (module docstring).

    Args:
        loss: a :class:`~embeddings.losses.GroupedLoss` (``loss(z, group_ids, similarity, generator=...)``).
        similarity: ``similarity(items) -> (N, N)`` known similarity of the items numbered ``items``
            ``(N,)`` (e.g. track numbers); needed when ``loss.uses_similarity``.
    """

    def __init__(self, loss: nn.Module, similarity: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__()
        if getattr(loss, "uses_similarity", False) and similarity is None:
            raise ConfigError(f"{type(loss).__name__} weights negatives by similarity: give CrossDeviceLoss one")
        self.loss = loss
        self.similarity = similarity

    def forward(
        self,
        z: torch.Tensor,
        group_ids: torch.Tensor,
        items: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``z`` ``(n_rank, D)`` local projections, ``group_ids`` ``(n_rank,)`` global ids, ``items``
        ``(n_rank,)`` global item numbers (for the similarity) -> the scalar loss of the global batch (the
        same on every process)."""
        similarity = None
        if getattr(self.loss, "uses_similarity", False):
            if items is None:
                raise ConfigError(f"{type(self.loss).__name__} needs the items' numbers to weigh its negatives")
            similarity = self.similarity(gather_rows(items.to(group_ids.device)).cpu())
        return self.loss(gather_rows(z), gather_rows(group_ids), similarity, generator=generator)


# ---------------------------------------------------------------------------------------------- launching


def _on_every_process(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], threads: int
) -> Any:
    """What each launched process runs: ``function(*args, **kwargs)`` inside the process group, on
    ``threads`` CPU threads. A ctk error comes back as the return value (so the launcher raises it as it is:
    one line, not N tracebacks)."""
    torch.set_num_threads(threads)
    with process_group():
        try:
            return function(*args, **kwargs)
        except CtkError as exc:
            return exc


#: how :func:`launch` starts its processes unless told (torchrun's default)
START_METHOD = "spawn"


def launch(
    n_processes: int, function: Callable[..., Any], *args: Any, start_method: str | None = None, **kwargs: Any
) -> Any:
    """Run ``function(*args, **kwargs)`` in ``n_processes`` new processes on this machine, as ``torchrun
    --standalone --nproc-per-node n_processes`` would (torch's elastic launcher: c10d rendezvous on a free
    local port, no restarts), and return rank 0's result. ``function`` must be importable by name.
    ``start_method``: ``spawn`` (torchrun's default: fresh interpreters, safe with CUDA) or ``fork``
    (children inherit the imported modules: faster to start, CPU only). Each process gets its share of the
    CPU cores as torch threads, as torchrun's ``OMP_NUM_THREADS`` does; a forked one gets one thread
    (GNU OpenMP is not fork-safe: a child entering a thread pool its parent used can hang). Raises rank 0's
    :class:`CtkError` (or the first other process's, when rank 0 has none), or a :class:`CtkError` naming the process
    that failed otherwise."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    start_method = start_method or START_METHOD
    if n_processes < 1:
        raise ConfigError(f"--devices {n_processes} must be >= 1")
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=n_processes,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=0.1,
        start_method=start_method,
    )
    threads = 1 if start_method == "fork" else max(1, (os.cpu_count() or 1) // n_processes)
    try:
        results = elastic_launch(config, _on_every_process)(function, args, kwargs, threads)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        raise CtkError(f"training process {rank} of {n_processes} failed: {failure.message}") from None
    # a ctk error of any process, rank 0's first: a rank that refused its input must not pass for a finished run
    errors = [results[rank] for rank in sorted(results) if isinstance(results[rank], CtkError)]
    if errors:
        raise errors[0]
    return results[0]
