import os
import time
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from embeddings.errors import ConfigError
from embeddings.losses import BarlowTwinsLoss, InfoNCELoss, SkipGramLoss, SoftInfoNCELoss
from embeddings.training.distributed import CrossDeviceLoss, World, device_for, gather_rows, rank_seed, shard

# 8 items in 4 groups; rank 0 holds rows 0-4, rank 1 rows 5-7: unequal batches, and group 2 (rows 4, 5)
# has its positives on two different processes
GROUPS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
ITEMS = torch.tensor([7, 3, 5, 0, 9, 2, 4, 8])  # global item numbers (track numbers) of the 8 rows
SPLIT = (slice(0, 5), slice(5, 8))
# a known similarity of 10 items, in [0, 1] and symmetric: Soft InfoNCE weighs its negatives by it
_S = torch.rand(10, 10, generator=torch.Generator().manual_seed(4))
TABLE = (_S + _S.T) / 2


def similarity(items: torch.Tensor) -> torch.Tensor:
    return TABLE[items][:, items]


LOSSES = {
    "infonce": lambda: InfoNCELoss(temperature=0.5),
    "soft-infonce": lambda: SoftInfoNCELoss(temperature=0.5, beta=0.9),
    "barlow": lambda: BarlowTwinsLoss(lambda_offdiag=0.05),
    "skipgram": lambda: SkipGramLoss(k=3, temperature=0.5),
}


def _batch():
    torch.manual_seed(0)
    model = nn.Linear(6, 4)
    x = torch.randn(8, 6)
    return model, x


def _single_process(loss, z, groups, items):
    """The loss of one process holding ``z``: what the gathered loss must equal on the whole batch."""
    sim = similarity(items) if loss.uses_similarity else None
    return loss(z, groups, sim, generator=torch.Generator().manual_seed(3))


def _worker(rank: int, world: int, init: str, out: str) -> None:
    torch.set_num_threads(1)  # two ranks share the machine
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        results = {}
        for name, make in LOSSES.items():
            model, x = _batch()
            ddp = DistributedDataParallel(model)
            part = SPLIT[rank]
            loss = CrossDeviceLoss(make(), similarity)(
                ddp(x[part]), GROUPS[part], ITEMS[part], generator=torch.Generator().manual_seed(3)
            )
            loss.backward()
            with torch.no_grad():
                local_only = _single_process(make(), model(x[part]), GROUPS[part], ITEMS[part])
            results[name] = {"loss": loss.detach(), "grad_w": model.weight.grad.clone(),
                             "grad_b": model.bias.grad.clone(), "local_only": local_only}
        results["gathered_ids"] = gather_rows(GROUPS[SPLIT[rank]])
        torch.save(results, f"{out}/rank{rank}.tmp")
        os.replace(f"{out}/rank{rank}.tmp", f"{out}/rank{rank}.pt")  # whole, or not there
        dist.barrier()  # neither rank tears its connections down while the other still uses them
    finally:
        dist.destroy_process_group()


def _run_two(tmp_path, timeout_s: float = 300.0) -> None:
    """Both ranks of :func:`_worker`, in fresh interpreters (``spawn``): a ``fork`` of the test process, which by
    then holds the threads of every library the suite imported, hung now and then on a lock held at the fork.
    A rank that still hangs fails the test after ``timeout_s`` instead of stalling the suite.

    A rank that aborts after both ranks wrote their results (once in the whole suite, 2026-12-03: gloo's
    ``terminate called without an active exception`` while the process group was torn down) is reported as a
    warning: what the test checks was computed and saved. Any other death fails it."""
    context = mp.start_processes(_worker, args=(2, f"file://{tmp_path}/rendezvous", str(tmp_path)), nprocs=2,
                                 join=False, start_method="spawn")
    deadline = time.monotonic() + timeout_s
    try:
        while not context.join(timeout=1.0):
            if time.monotonic() > deadline:
                for process in context.processes:
                    process.kill()
                pytest.fail(f"the two gloo processes did not finish in {timeout_s:g} s")
    except mp.ProcessExitedException as exc:
        if not all((tmp_path / f"rank{r}.pt").exists() for r in (0, 1)):
            raise
        warnings.warn(f"a gloo rank died after both ranks saved their results: {exc}", stacklevel=2)


def test_two_gloo_processes_give_the_single_process_loss_and_gradients_of_every_loss(tmp_path):
    _run_two(tmp_path)  # one start for all losses
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for got in ranks:
        assert got["gathered_ids"].tolist() == GROUPS.tolist()  # rank order, unequal sizes trimmed
    for name, make in LOSSES.items():
        model, x = _batch()
        reference = _single_process(make(), model(x), GROUPS, ITEMS)  # one process, the whole batch
        reference.backward()
        for got in (ranks[0][name], ranks[1][name]):
            torch.testing.assert_close(got["loss"], reference.detach(), rtol=1e-5, atol=1e-5, msg=name)
            # DDP averaged the two processes' gradients: the single-process gradient of the global batch
            torch.testing.assert_close(got["grad_w"], model.weight.grad, rtol=1e-5, atol=1e-5, msg=name)
            torch.testing.assert_close(got["grad_b"], model.bias.grad, rtol=1e-5, atol=1e-5, msg=name)
        # the test has teeth: local negatives (pairs, similarities) only would give another loss
        for r in (0, 1):
            assert abs(float(ranks[r][name]["local_only"]) - float(reference.detach())) > 1e-3, (name, r)


def test_outside_a_distributed_run_it_is_the_loss_itself():
    model, x = _batch()
    z = model(x)
    torch.testing.assert_close(CrossDeviceLoss(InfoNCELoss(0.5))(z, GROUPS), InfoNCELoss(0.5)(z, GROUPS))
    soft = CrossDeviceLoss(SoftInfoNCELoss(0.5, beta=0.9), similarity)(z, GROUPS, ITEMS)
    torch.testing.assert_close(soft, SoftInfoNCELoss(0.5, beta=0.9)(z, GROUPS, similarity(ITEMS)))
    assert gather_rows(z) is z


def test_a_similarity_loss_needs_the_similarity_and_the_items():
    with pytest.raises(ConfigError, match="SoftInfoNCELoss weights negatives by similarity"):
        CrossDeviceLoss(SoftInfoNCELoss())
    model, x = _batch()
    with pytest.raises(ConfigError, match="needs the items' numbers"):
        CrossDeviceLoss(SoftInfoNCELoss(), similarity)(model(x), GROUPS)


def test_shards_are_contiguous_cover_the_batch_once_and_differ_by_at_most_one():
    for n, size in ((8, 2), (10, 3), (2, 4), (0, 2)):
        parts = [shard(n, World(rank, size)) for rank in range(size)]
        rows = [i for part in parts for i in range(n)[part]]
        assert rows == list(range(n))  # rank order is batch order: the gathered batch is the planned one
        lengths = [len(range(n)[part]) for part in parts]
        assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)
    assert [range(10)[shard(10, World(r, 3))] for r in range(3)] == [range(0, 4), range(4, 7), range(7, 10)]


def test_devices_and_seeds_per_process():
    assert device_for(World(), "cpu") == "cpu"
    assert device_for(World(1, 2, local_rank=1), "cpu") == "cpu"
    assert device_for(World(1, 2, local_rank=1), None) == ("cuda:1" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="--device cuda:3"):
        device_for(World(1, 2), "cuda:3")
    assert rank_seed(7, 0) == 7 and len({rank_seed(7, r) for r in range(8)}) == 8
