"""The exported module against engine.vectorize: demos.microgpt's forward and backward over the same batches.

    python benchmarks/to_torch_bench.py                 # 32 and 256 names; float64, float32, torch.compile
    python benchmarks/to_torch_bench.py --no-compile    # without torch.compile (its compilation takes minutes)

The same model (demos.microgpt's MicroGPT, seed 0) and the same names (drawn with a fixed seed from its
training names, padded to the block size) run these ways, one thread each (BLAS and PyTorch's):

- vectorize: `engine.vectorize(model.document_loss).backward(...)`, as the demo trains;
- torch float64: the module `to_torch` exports, `tm(*batch).mean().backward()`, arguments as tensors;
- torch float32: the same module after `.float()`;
- compiled: `torch.compile` of the float64 and float32 modules, where it compiles (the time it takes is
  reported; a failure is reported, not raised);
- by hand: the same model written batched in PyTorch by hand (gpt_torch.py's `TorchGPT`, attention as one
  masked product), float64 and float32: what the export costs against PyTorch code written for the model.

Before timing, each way's losses (and the export's gradients) are checked against vectorize's (float64 within
1e-10, float32 within 1e-4 relative). A step zeroes the gradients (PyTorch's set to None) and runs forward and
backward, no optimizer. The ways are timed in turns, `rounds` times each, and the median is reported with each
way's ratio to vectorize (higher: faster than vectorize), so load from other processes falls on all of them alike.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy and torch load
    os.environ[variable] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gpt_torch  # noqa: E402  (beside this file)
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demos/ lives beside engine/ and nn/

from demos.microgpt import MicroGPT, batched_loss, load_names, padded_batch, split_names  # noqa: E402

NAMES_SEED = 1
SIZES = (32, 256)


def bench_batch(count: int, seed: int = NAMES_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names, _ = split_names(load_names())
    chosen = [names[i] for i in np.random.default_rng(seed).choice(len(names), count, replace=False)]
    batch = padded_batch(chosen)
    return batch.tokens, batch.targets, batch.weights


def gradient_of(tm: Any, parameters: list[Any]) -> np.ndarray:
    """The gradients PyTorch holds, in the order of `parameters` (tm.source says which Values each tensor holds)."""
    named = dict(tm.program.named_parameters())
    by_value = {}
    for tensor in tm.source.parameters:
        grad = named[tensor.name].grad.detach().to(torch.float64).numpy().ravel()
        by_value.update(zip(tensor.values, grad.tolist()))
    return np.array([by_value[p] for p in parameters])


def check(name: str, step: Callable[[], Any], tm: Any, expected: tuple[list[Any], np.ndarray, np.ndarray]) -> None:
    """Raise unless `step`'s losses and gradients are vectorize's: within 1e-10 in float64, 1e-4 in float32."""
    parameters, losses, gradient = expected
    rtol = 1e-10 if next(tm.parameters()).dtype == torch.float64 else 1e-4
    got = step()
    np.testing.assert_allclose(got.detach().to(torch.float64).numpy(), losses, rtol=rtol, err_msg=name)
    scale = np.abs(gradient).max()
    np.testing.assert_allclose(gradient_of(tm, parameters) / scale, gradient / scale, atol=rtol, err_msg=name)


def torch_step(module: Any, tm: Any, arguments: list[Any]) -> Callable[[], Any]:
    def step() -> Any:
        for p in tm.parameters():
            p.grad = None
        losses = module(*arguments)
        losses.mean().backward()
        return losses

    return step


def _by_hand_step(model: Any, tensors: tuple[Any, ...]) -> Callable[[], Any]:
    return lambda: gpt_torch.step(model, *tensors)


def median_times(steps: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def vectorize_step(model: MicroGPT, loss: Any, arguments: tuple[np.ndarray, ...]) -> Callable[[], None]:
    def step() -> None:
        model.zero_grad()
        loss.backward(*arguments)

    return step


def measure(size: int, rounds: int, compiled: bool) -> tuple[dict[str, float], list[str]]:
    """Each way's median time for a step over `size` names, checked first; and notes on torch.compile."""
    model = MicroGPT()
    loss = batched_loss(model)
    arguments = bench_batch(size)
    parameters = model.parameters()
    model.zero_grad()
    loss.backward(*arguments)
    expected = (parameters, loss(*arguments), np.array([p.grad for p in parameters]))

    tensors = [torch.as_tensor(a, dtype=torch.float64) for a in arguments]
    modules: dict[str, Any] = {}
    for dtype in (torch.float64, torch.float32):
        modules[f"torch {str(dtype).removeprefix('torch.')}"] = loss.to_torch(*arguments, parameters=parameters).to(
            dtype
        )
    steps: dict[str, Callable[[], Any]] = {"vectorize": vectorize_step(model, loss, arguments)}
    for name, tm in modules.items():
        step = torch_step(tm, tm, tensors)
        check(name, step, tm, expected)
        steps[name] = step
    for dtype in (torch.float64, torch.float32):
        by_hand = gpt_torch.TorchGPT(model.state_dict(), model.heads, dtype)
        its_tensors = gpt_torch.batch_tensors(*arguments, dtype)
        losses = by_hand(*its_tensors).detach().to(torch.float64).numpy()
        np.testing.assert_allclose(losses, expected[1], rtol=1e-10 if dtype == torch.float64 else 1e-4)
        steps[f"by hand {str(dtype).removeprefix('torch.')}"] = _by_hand_step(by_hand, its_tensors)
    notes = []
    for name, tm in modules.items() if compiled else ():
        start = time.perf_counter()
        try:
            step = torch_step(torch.compile(tm), tm, tensors)
            check(f"compiled {name}", step, tm, expected)
        except Exception as error:  # report what failed, and go on without it
            notes.append(f"torch.compile of {name} failed: {type(error).__name__}: {str(error)[:200]}")
            continue
        steps[f"compiled {name}"] = step
        notes.append(f"torch.compile of {name}: compiled and checked in {time.perf_counter() - start:.0f} s")
    for step in steps.values():  # warm up
        step()
    return median_times(steps, rounds), notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-compile", action="store_true", help="leave out torch.compile")
    parser.add_argument("--rounds", type=int, default=30, help="timed steps of each way (default 30)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="batch sizes in names")
    options = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, numpy {np.__version__}, one thread; {os.cpu_count()} cores on this machine")
    rows = [(size, *measure(size, options.rounds, not options.no_compile)) for size in options.sizes]

    print()
    print("| batch | " + " | ".join(rows[0][1]) + " |")
    print("|---|" + "---|" * len(rows[0][1]))
    for size, times, _ in rows:
        base = times["vectorize"]
        cells = [f"{base * 1e3:.1f} ms"] + [f"{t * 1e3:.1f} ms ({base / t:.2f}x)" for t in list(times.values())[1:]]
        print(f"| {size} names | " + " | ".join(cells) + " |")
    print()
    print("(x: vectorize's time / this way's time; medians of the rounds, taken in turns)")
    for size, _, notes in rows:
        for note in notes:
            print(f"{size} names: {note}")


if __name__ == "__main__":
    main()
