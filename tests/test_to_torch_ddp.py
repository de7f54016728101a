"""An exported MicroGPT trained under DistributedDataParallel: two CPU processes (gloo), half a batch each.

Each process exports the same model, computes the mean loss of its half of a batch, and DDP averages the
gradients: they must be the gradients one process computes on the whole batch (PyTorch's, and valuegrad's
own `backward`), and one SGD step taken under DDP, loaded back with `load_torch`, lands where valuegrad's
step on the whole batch does. The processes meet through a `file://` store in the test's folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from demos import microgpt
from demos.microgpt import MicroGPT

try:
    import torch
    import torch.distributed
    import torch.multiprocessing
except ImportError:  # the test needs the `torch` fixture, which then skips it (fails it under CI)
    torch = None

pytestmark = pytest.mark.usefixtures("torch")

SEED = 2
LEARNING_RATE = 0.5


def the_batch() -> microgpt.Batch:
    train, _ = microgpt.split_names(microgpt.load_names())
    return microgpt.padded_batch(train[200:232])


def half(batch: microgpt.Batch, rank: int) -> tuple[np.ndarray, ...]:
    rows = slice(16 * rank, 16 * (rank + 1))
    return batch.tokens[rows], batch.targets[rows], batch.weights[rows]


def gradient_in_order(tm: object, model: MicroGPT) -> np.ndarray:
    named = dict(tm.program.named_parameters())  # type: ignore[attr-defined]
    by_value = {}
    for tensor in tm.source.parameters:  # type: ignore[attr-defined]
        by_value.update(zip(tensor.values, named[tensor.name].grad.numpy().ravel().tolist()))
    return np.array([by_value[p] for p in model.parameters()])


def train_half(rank: int, store: str, folder: str) -> None:
    """One process: its half of the batch under DDP, one SGD step, the model loaded back; results saved."""
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        model = MicroGPT(seed=SEED)
        loss = microgpt.batched_loss(model)
        arguments = half(the_batch(), rank)
        ddp = torch.nn.parallel.DistributedDataParallel(loss.to_torch(*arguments, parameters=model.parameters()))
        optimizer = torch.optim.SGD(ddp.parameters(), lr=LEARNING_RATE)
        ddp(*arguments).mean().backward()
        gradient = gradient_in_order(ddp.module, model)
        optimizer.step()
        loss.load_torch(ddp)
        np.savez(Path(folder) / f"rank{rank}.npz", gradient=gradient, values=[p.data for p in model.parameters()])
    finally:
        torch.distributed.destroy_process_group()


def test_ddp_on_two_processes_gives_the_whole_batchs_gradients(tmp_path: Path) -> None:
    torch.multiprocessing.spawn(train_half, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)

    model = MicroGPT(seed=SEED)
    loss = microgpt.batched_loss(model)
    batch = the_batch()
    tm = loss.to_torch(batch.tokens, batch.targets, batch.weights, parameters=model.parameters())
    tm(batch.tokens, batch.targets, batch.weights).mean().backward()
    one_process = gradient_in_order(tm, model)
    model.zero_grad()
    loss.backward(batch.tokens, batch.targets, batch.weights)
    valuegrad = np.array([p.grad for p in model.parameters()])
    np.testing.assert_allclose(one_process, valuegrad, rtol=0, atol=1e-12)
    stepped = np.array([p.data - LEARNING_RATE * p.grad for p in model.parameters()])

    for rank in range(2):
        result = np.load(tmp_path / f"rank{rank}.npz")
        np.testing.assert_allclose(result["gradient"], one_process, rtol=0, atol=1e-12)
        np.testing.assert_allclose(result["values"], stepped, rtol=0, atol=1e-12)
    assert np.abs(stepped - np.array([p.data for p in model.parameters()])).max() > 1e-3
