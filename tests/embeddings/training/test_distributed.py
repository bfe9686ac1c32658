import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from embeddings.losses import BarlowTwinsLoss, InfoNCELoss
from embeddings.training.distributed import CrossDeviceLoss, gather_rows

# 8 items in 4 groups; rank 0 holds rows 0-4, rank 1 rows 5-7: unequal batches, and group 2 (rows 4, 5)
# has its positives on two different processes
GROUPS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
SPLIT = (slice(0, 5), slice(5, 8))
LOSSES = {"infonce": lambda: InfoNCELoss(temperature=0.5), "barlow": lambda: BarlowTwinsLoss()}


def _batch():
    torch.manual_seed(0)
    model = nn.Linear(6, 4)
    x = torch.randn(8, 6)
    return model, x


def _worker(rank: int, world: int, init: str, out: str) -> None:
    torch.set_num_threads(1)  # a forked child must not reuse the parent's OpenMP pool
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        results = {}
        for name, make in LOSSES.items():
            model, x = _batch()
            ddp = DistributedDataParallel(model)
            loss = CrossDeviceLoss(make())(ddp(x[SPLIT[rank]]), GROUPS[SPLIT[rank]])
            loss.backward()
            with torch.no_grad():
                local_only = make()(model(x[SPLIT[rank]]), GROUPS[SPLIT[rank]]) if rank == 0 else None
            results[name] = {"loss": loss.detach(), "grad_w": model.weight.grad.clone(),
                             "grad_b": model.bias.grad.clone(), "local_only": local_only}
        results["gathered_ids"] = gather_rows(GROUPS[SPLIT[rank]])
        torch.save(results, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_give_the_single_process_loss_and_gradients(tmp_path):
    # one start for both losses; fork, not spawn: the children need not import torch again
    mp.start_processes(_worker, args=(2, f"file://{tmp_path}/rendezvous", str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for got in ranks:
        assert got["gathered_ids"].tolist() == GROUPS.tolist()  # rank order, unequal sizes trimmed
    for name, make in LOSSES.items():
        model, x = _batch()
        reference = make()(model(x), GROUPS)  # one process, the whole batch
        reference.backward()
        for got in (ranks[0][name], ranks[1][name]):
            torch.testing.assert_close(got["loss"], reference.detach(), rtol=1e-6, atol=1e-6)
            # DDP averaged the two processes' gradients: the single-process gradient of the global batch
            torch.testing.assert_close(got["grad_w"], model.weight.grad, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(got["grad_b"], model.bias.grad, rtol=1e-5, atol=1e-6)
        # the test has teeth: local negatives only would give another loss
        assert abs(float(ranks[0][name]["local_only"]) - float(reference.detach())) > 1e-3


def test_outside_a_distributed_run_it_is_the_loss_itself():
    model, x = _batch()
    z = model(x)
    torch.testing.assert_close(CrossDeviceLoss(InfoNCELoss(0.5))(z, GROUPS), InfoNCELoss(0.5)(z, GROUPS))
    assert gather_rows(z) is z
