"""A tiny GPT that learns to make up names, trained in batches: Karpathy's microgpt, written with engine and nn.

`python -m demos.microgpt` trains it on 32,033 names and shows what it learned.

The model is the one of Andrej Karpathy's microgpt.py (February 2026), written here with valuegrad's
`engine` and `nn`: letters are tokens (26 letters and one BOS token that begins and ends each name);
each position of a name gets a token embedding plus a position embedding, then RMSNorm, one layer of
4-head causal self-attention and a ReLU MLP, each with a residual connection, and a linear map to the
next token's logits. No biases, 16-dim embeddings, names of at most 16 positions, initial weights
Gaussian with standard deviation 0.08, Adam with betas (0.85, 0.99) and a learning rate of 0.01 that
decays linearly to 0. Every weight is a scalar `Value`.

The same model runs two ways on the same parameters:

- the scalar path, one name at a time, as microgpt.py trains: `model.document_loss(...)` on plain
  token ids records one graph of scalar Values, and `.backward()` walks it;
- in batches: `engine.vectorize(model.document_loss)` records that graph once and replays it over a
  batch of names, each padded to the block size of 16 positions. Each position has a weight, 1/n at
  the n real positions of its name and 0 at padding, so a name's loss is the mean over its real
  positions and padding adds nothing to the loss or the gradients; the batch's loss is the mean over
  its names. A batch of one name is microgpt's step (the tests hold the two paths' losses and gradients
  equal within 1e-12). How many more tokens per second the batched path processes is a benchmark:
  `python benchmarks/bench.py --only microgpt-scalar-fused microgpt-scalar-elementary` (benchmarks/README.md).

What keeps the batched graph small (engine.vectorize groups alike scalar nodes into one numpy call):
the token embedding is an `engine.take` by token id, and each position attends to the positions up to
itself, so every name gives the same graph. Every dot product (an attention score q.k, a weighted sum of
values, each neuron of a layer) is one fused `engine.linear` node; written as microgpt.py writes it, a
Python sum of products, vectorize would make it one such node too.

`python -m demos.microgpt --torch` trains the same model in PyTorch instead: the batched program exported
with `to_torch` (a `torch.nn.Module` whose parameters are the model's Values), the same batches, Adam and
schedule in `torch.optim`, and the trained weights loaded back into the Values with `load_torch` before the
model is evaluated, saved and sampled on valuegrad (`train_torch`).

The data is demos/names.txt (makemore's names.txt; where it comes from and its licence are on its first
line). The demo trains on a fixed 90% of the names, compares the held-out loss with a bigram model
(counts of letter pairs) on the same split, plots the training curve, samples 20 new names, and saves
the model with `model.save` and loads it back with `nn.load`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import engine
import nn
from engine import Value
from nn import torch_bridge

NAMES_FILE = Path(__file__).resolve().parent / "names.txt"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
BOS = len(LETTERS)  # token 26 begins and ends every name
VOCABULARY_SIZE = len(LETTERS) + 1

# microgpt's hyperparameters
BLOCK_SIZE = 16  # positions per name: BOS and up to 15 letters in, up to 15 letters and BOS out
EMBEDDING_DIM = 16
HEADS = 4
INIT_STD = 0.08
LEARNING_RATE = 0.01
BETAS = (0.85, 0.99)

# the demo's training run
BATCH_SIZE = 32
STEPS = 1000
DEMO_STEPS = 300  # `make demo`'s shorter schedule
HELD_OUT_FRACTION = 0.1
SPLIT_SEED = 0
MODEL_SEED = 0
SAMPLE_SEED = 0
SAMPLES = 20
TEMPERATURE = 0.5  # sampling: below 1 favours the likelier letters, as microgpt samples


# --- the model --------------------------------------------------------------------------------------------------


@dataclass
class Cache:
    """The keys and values of the positions seen so far: what a later position's attention reads."""

    keys: list[list[Value]] = field(default_factory=list)
    values: list[list[Value]] = field(default_factory=list)


def dot(a: Sequence[Value], b: Sequence[Value]) -> Value:
    """sum_i a_i b_i as one fused `linear` node (one derivative rule instead of 2n elementary ones)."""
    return engine.linear(*a, *b, 0.0)


def attend(query: list[Value], keys: list[list[Value]], values: list[list[Value]]) -> list[Value]:
    """One attention head at one position: the values of the positions so far, weighted by softmax(q.k / sqrt(d))."""
    scale = 1.0 / math.sqrt(len(query))
    weights = nn.softmax([dot(query, key) * scale for key in keys])
    return [dot(weights, column) for column in zip(*values)]


class MicroGPT(nn.Module):
    """microgpt's transformer: embeddings, one block of causal self-attention and a ReLU MLP, next-token logits.

    `next_token_logits(token, position, cache)` runs one position (token ids are ints or Values holding
    them); `document_loss(tokens, targets, weights)` runs a whole name. Parameters live in nn layers
    (`nn.Embedding`, `nn.Linear` without bias), so `state_dict`, `save` and `nn.load(path, MicroGPT)` work.
    """

    def __init__(
        self,
        vocabulary_size: int = VOCABULARY_SIZE,
        block_size: int = BLOCK_SIZE,
        embedding_dim: int = EMBEDDING_DIM,
        heads: int = HEADS,
        *,
        std: float = INIT_STD,
        seed: int | None = MODEL_SEED,
    ) -> None:
        if embedding_dim % heads:
            raise ValueError(f"MicroGPT: embedding_dim {embedding_dim} must be a multiple of heads {heads}")
        rng = np.random.default_rng(seed)
        dim = embedding_dim
        self.token_embedding = nn.Embedding(vocabulary_size, dim, std=std, rng=rng)
        self.position_embedding = nn.Embedding(block_size, dim, std=std, rng=rng)
        self.query = nn.Linear(dim, dim, bias=False, std=std, rng=rng)
        self.key = nn.Linear(dim, dim, bias=False, std=std, rng=rng)
        self.value = nn.Linear(dim, dim, bias=False, std=std, rng=rng)
        self.attention_output = nn.Linear(dim, dim, bias=False, std=std, rng=rng)
        self.mlp_hidden = nn.Linear(dim, 4 * dim, bias=False, std=std, rng=rng)
        self.mlp_output = nn.Linear(4 * dim, dim, bias=False, std=std, rng=rng)
        self.lm_head = nn.Linear(dim, vocabulary_size, bias=False, std=std, rng=rng)
        self.norm = nn.RMSNorm()
        self.heads = heads
        self._name_parameters()

    def config(self) -> dict[str, Any]:
        return {
            "vocabulary_size": self.token_embedding.num_embeddings,
            "block_size": self.block_size,
            "embedding_dim": self.token_embedding.dim,
            "heads": self.heads,
        }

    @property
    def block_size(self) -> int:
        return self.position_embedding.num_embeddings

    def next_token_logits(self, token: int | Value, position: int, cache: Cache) -> list[Value]:
        """The logits of the token that follows `token` at `position`; adds this position's key and value to `cache`."""
        x = self.embed(token, position)
        x = self.attention_block(x, cache)
        x = self.mlp_block(x)
        return self.lm_head(x)

    def embed(self, token: int | Value, position: int) -> list[Value]:
        """The token's embedding plus the position's, normalised."""
        tokens, positions = self.token_embedding(token), self.position_embedding(position)
        return self.norm([t + p for t, p in zip(tokens, positions)])

    def attention_block(self, x: list[Value], cache: Cache) -> list[Value]:
        """x plus multi-head attention over this and earlier positions (a residual connection)."""
        h = self.norm(x)
        cache.keys.append(self.key(h))
        cache.values.append(self.value(h))
        query = self.query(h)
        size = len(query) // self.heads
        mixed: list[Value] = []
        for head in range(self.heads):
            part = slice(head * size, (head + 1) * size)
            mixed += attend(query[part], [k[part] for k in cache.keys], [v[part] for v in cache.values])
        return [a + r for a, r in zip(self.attention_output(mixed), x)]

    def mlp_block(self, x: list[Value]) -> list[Value]:
        """x plus a ReLU MLP of 4 times the width (a residual connection)."""
        hidden = [h.relu() for h in self.mlp_hidden(self.norm(x))]
        return [a + r for a, r in zip(self.mlp_output(hidden), x)]

    def document_loss(
        self, tokens: Sequence[int | Value], targets: Sequence[int | Value], weights: Sequence[float | Value]
    ) -> Value:
        """sum_t weights[t] * cross_entropy(logits at t, targets[t]): a name's loss, with weights 1/n at its n
        real positions and 0 at padding (so the mean over real positions, and padding counts for nothing)."""
        if not len(tokens) == len(targets) == len(weights) <= self.block_size:
            raise ValueError(
                f"document_loss: got {len(tokens)} tokens, {len(targets)} targets and {len(weights)} weights; "
                f"expected one of each per position, at most {self.block_size} positions"
            )
        cache = Cache()
        losses = [
            nn.cross_entropy(self.next_token_logits(token, position, cache), target)
            for position, (token, target) in enumerate(zip(tokens, targets))
        ]
        return engine.linear(*weights, *losses, 0.0)


# --- data -------------------------------------------------------------------------------------------------------


def load_names(path: Path = NAMES_FILE) -> list[str]:
    """The names of `path`, one per line, in file order; lines starting with # (the source line) are skipped."""
    names = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if not set(name) <= set(LETTERS):
            raise ValueError(f"{path}, line {number}: {name!r} is not a name of the letters a-z only")
        names.append(name)
    return names


def split_names(
    names: Sequence[str], held_out_fraction: float = HELD_OUT_FRACTION, seed: int = SPLIT_SEED
) -> tuple[list[str], list[str]]:
    """A fixed split into training and held-out names, by name: a name listed twice goes to one side only.

    The distinct names are shuffled with `seed` and the last `held_out_fraction` of them held out, so the
    held-out loss is measured on names the model never saw. Both lists keep the file's order.
    """
    distinct = sorted(set(names))
    order = np.random.default_rng(seed).permutation(len(distinct))
    held_out = {distinct[i] for i in order[len(distinct) - round(held_out_fraction * len(distinct)) :]}
    return [n for n in names if n not in held_out], [n for n in names if n in held_out]


def encode(name: str) -> list[int]:
    """BOS, the name's letters as token ids 0-25, BOS."""
    return [BOS, *(LETTERS.index(letter) for letter in name), BOS]


@dataclass(frozen=True)
class Batch:
    """Names padded to the block size, one row each: what `engine.vectorize(model.document_loss)` takes.

    tokens[i, t] is the token at position t of name i and targets[i, t] the token that follows it;
    weights[i, t] is 1/n at the name's n real positions and 0 at padding (whose tokens and targets
    are BOS, never read into a real position's loss: attention only looks back).
    """

    tokens: np.ndarray
    targets: np.ndarray
    weights: np.ndarray

    @property
    def real_tokens(self) -> int:
        """The number of real (not padding) positions: the tokens the model predicts."""
        return int(np.count_nonzero(self.weights))


def padded_batch(names: Sequence[str], block_size: int = BLOCK_SIZE) -> Batch:
    """The names as a Batch; a name longer than the block (none in names.txt) keeps its first positions."""
    tokens = np.full((len(names), block_size), BOS)
    targets = np.full((len(names), block_size), BOS)
    weights = np.zeros((len(names), block_size))
    for i, name in enumerate(names):
        ids = encode(name)
        n = min(block_size, len(ids) - 1)
        tokens[i, :n], targets[i, :n], weights[i, :n] = ids[:n], ids[1 : n + 1], 1.0 / n
    return Batch(tokens, targets, weights)


# --- the two paths ----------------------------------------------------------------------------------------------


def scalar_loss(model: MicroGPT, name: str) -> Value:
    """The scalar path: one name's loss, the mean over its positions, as a graph of scalar Values (no padding)."""
    ids = encode(name)[: model.block_size + 1]
    n = len(ids) - 1
    return model.document_loss(ids[:-1], ids[1:], [1.0 / n] * n)


def batched_loss(model: MicroGPT) -> engine.Vectorized:
    """The batched path: `model.document_loss` recorded once and replayed over Batch arrays.

    `loss(batch.tokens, batch.targets, batch.weights)` gives every name's loss; `loss.backward(...)` adds the
    gradient of their mean to every parameter's `.grad` and returns the mean.
    """
    return engine.vectorize(model.document_loss)


def learning_rate(step: int, steps: int) -> float:
    """microgpt's schedule: LEARNING_RATE at step 0, decaying linearly towards 0 at step `steps`."""
    return LEARNING_RATE * (1.0 - step / steps)


def batches(names: Sequence[str], steps: int, batch_size: int, seed: int, block_size: int) -> Iterator[Batch]:
    """The training batches of `steps` steps: `batch_size` names at a time, shuffled once per pass over `names`."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    cursor = 0
    for _ in range(steps):
        if cursor + batch_size > len(order):
            order, cursor = rng.permutation(len(names)), 0
        yield padded_batch([names[i] for i in order[cursor : cursor + batch_size]], block_size)
        cursor += batch_size


def train(
    model: MicroGPT,
    names: Sequence[str],
    steps: int = STEPS,
    batch_size: int = BATCH_SIZE,
    seed: int = MODEL_SEED,
    log: Callable[[str], None] = print,
) -> list[float]:
    """Adam on batches of `batch_size` names (shuffled once per pass over `names`); the loss of every step."""
    loss = batched_loss(model)
    optimizer = nn.Adam(model.parameters(), lr=LEARNING_RATE, betas=BETAS)
    losses = []
    for step, batch in enumerate(batches(names, steps, batch_size, seed, model.block_size)):
        optimizer.zero_grad()
        losses.append(loss.backward(batch.tokens, batch.targets, batch.weights))
        optimizer.lr = learning_rate(step, steps)
        optimizer.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"  step {step + 1:4d} / {steps}  loss {losses[-1]:.4f}")
    return losses


def train_torch(
    model: MicroGPT,
    names: Sequence[str],
    steps: int = STEPS,
    batch_size: int = BATCH_SIZE,
    seed: int = MODEL_SEED,
    log: Callable[[str], None] = print,
) -> list[float]:
    """`train` in PyTorch: the batched program exported, trained by torch's Adam on the same batches with the
    same schedule, and its weights loaded back into the model's Values. Needs PyTorch (ImportError otherwise)."""
    torch = torch_bridge.import_torch("python -m demos.microgpt --torch")
    loss = batched_loss(model)
    module: Any = None
    optimizer: Any = None
    losses = []
    for step, batch in enumerate(batches(names, steps, batch_size, seed, model.block_size)):
        arguments = (batch.tokens, batch.targets, batch.weights)
        if module is None:  # exported on the first batch, which records the program
            module = loss.to_torch(*arguments, parameters=model.parameters())
            optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, betas=BETAS)
        optimizer.zero_grad()
        mean = module(*arguments).mean()
        mean.backward()
        losses.append(mean.item())
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps)
        optimizer.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"  step {step + 1:4d} / {steps}  loss {losses[-1]:.4f}")
    if module is not None:
        loss.load_torch(module)
    return losses


# --- how good is it ---------------------------------------------------------------------------------------------


def held_out_loss(model: MicroGPT, names: Sequence[str], chunk: int = 512) -> float:
    """The mean over `names` of each name's loss (the mean over its positions), replayed in chunks of names."""
    loss = batched_loss(model)
    per_name = []
    for start in range(0, len(names), chunk):
        batch = padded_batch(names[start : start + chunk], model.block_size)
        per_name.append(loss(batch.tokens, batch.targets, batch.weights))
    return float(np.mean(np.concatenate(per_name)))


def bigram_probabilities(names: Sequence[str], smoothing: float = 1.0) -> np.ndarray:
    """P(next token | token) from counts of token pairs in `names`, each count plus `smoothing` (add-one)."""
    counts = np.full((VOCABULARY_SIZE, VOCABULARY_SIZE), smoothing)
    for name in names:
        ids = encode(name)
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
    return counts / counts.sum(axis=1, keepdims=True)


def bigram_loss(probabilities: np.ndarray, names: Sequence[str], block_size: int = BLOCK_SIZE) -> float:
    """The bigram model's loss on `names`, measured as the transformer's: each name's mean, then the mean."""
    batch = padded_batch(names, block_size)
    surprise = -np.log(probabilities[batch.tokens, batch.targets])
    return float(np.mean(np.sum(batch.weights * surprise, axis=1)))


def sample_names(model: MicroGPT, count: int = SAMPLES, seed: int = SAMPLE_SEED) -> list[str]:
    """`count` new names, letter by letter: each next token drawn from softmax(logits / TEMPERATURE) until BOS."""
    rng = np.random.default_rng(seed)
    names = []
    with engine.no_grad():
        for _ in range(count):
            cache, token, letters = Cache(), BOS, []
            for position in range(model.block_size):
                logits = model.next_token_logits(token, position, cache)
                p = np.array([q.data for q in nn.softmax([z / TEMPERATURE for z in logits])])
                token = int(rng.choice(len(p), p=p / p.sum()))
                if token == BOS:
                    break
                letters.append(LETTERS[token])
            names.append("".join(letters))
    return names


# --- pictures and files -----------------------------------------------------------------------------------------


def moving_average(values: Sequence[float], width: int) -> np.ndarray:
    """The mean of each run of `width` consecutive values (fewer at the start)."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    starts = np.maximum(np.arange(1, len(values) + 1) - width, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def plot_training_curve(losses: Sequence[float], held_out: float, bigram: float, path: Path) -> Path:
    """Every step's batch loss, its moving average, and the held-out losses of the transformer and the bigram model."""
    from matplotlib.figure import Figure

    steps = np.arange(1, len(losses) + 1)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.plot(steps, losses, color="#9ecae1", linewidth=0.8, label=f"batch of {BATCH_SIZE} names")
    ax.plot(steps, moving_average(losses, 50), color="#08519c", label="moving average over 50 steps")
    ax.axhline(held_out, color="#d94801", linestyle="--", label=f"transformer, held-out names: {held_out:.3f}")
    ax.axhline(bigram, color="#555555", linestyle=":", label=f"bigram counts, held-out names: {bigram:.3f}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per token (nats)")
    ax.set_title(f"microgpt on names: {len(losses)} steps of Adam, batches through engine.vectorize")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def write_summary(lines: Sequence[str], names: Sequence[str], path: Path) -> Path:
    """The run's numbers, then the sampled names, one per line."""
    text = [*lines, "", f"{len(names)} names sampled at temperature {TEMPERATURE}:", *(f"  {n}" for n in names)]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


# --- the demo ---------------------------------------------------------------------------------------------------


def run(out: Path = Path("out"), steps: int = STEPS, in_torch: bool = False) -> list[Path]:
    """Train for `steps` steps, evaluate, sample, save and load back; write the curve and a summary into `out`.

    `in_torch`: train in PyTorch through the export (`train_torch`); the rest runs on valuegrad alike.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_names, held_out_names = split_names(load_names())
    print(f"names.txt: {len(train_names)} names to train on, {len(held_out_names)} held out (split by name)")
    model = MicroGPT()
    print(f"MicroGPT: {len(model.parameters())} parameters, {HEADS} heads, {EMBEDDING_DIM}-dim, block {BLOCK_SIZE}")

    where = "in PyTorch (to_torch, then load_torch)" if in_torch else "through engine.vectorize"
    print(f"training {where}: {steps} steps of {BATCH_SIZE} names, Adam betas {BETAS}, lr {LEARNING_RATE} to 0")
    start = time.perf_counter()
    losses = (train_torch if in_torch else train)(model, train_names, steps)
    seconds = time.perf_counter() - start

    checkpoint = model.save(out / "microgpt.npz")
    loaded = nn.load(checkpoint, MicroGPT)
    assert isinstance(loaded, MicroGPT)
    held_out = held_out_loss(loaded, held_out_names)
    bigram = bigram_loss(bigram_probabilities(train_names), held_out_names)
    verdict = "beats" if held_out < bigram else "does NOT beat"
    lines = [
        f"trained {steps} steps of {BATCH_SIZE} names in {seconds:.1f} s ({seconds / steps * 1e3:.1f} ms per step)"
        + (" in PyTorch, loaded back with load_torch" if in_torch else ""),
        f"held-out loss ({len(held_out_names)} names): transformer {held_out:.4f}, bigram counts {bigram:.4f}: "
        f"the transformer {verdict} the bigram model",
        f"saved to {checkpoint.name} and loaded back with nn.load(path, MicroGPT) (the samples come from the copy)",
    ]
    for line in lines[:2]:
        print(line)
    names = sample_names(loaded)
    print("sampled names: " + ", ".join(names))
    paths = [
        plot_training_curve(losses, held_out, bigram, out / "microgpt_training_curve.png"),
        write_summary(lines, names, out / "microgpt_names.txt"),
        checkpoint,
    ]
    print(f"wrote {', '.join(map(str, paths))}")
    return paths


def main(out: Path = Path("out")) -> list[Path]:
    """`make demo`'s shorter run: DEMO_STEPS steps."""
    return run(out, DEMO_STEPS)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Train microgpt on names in batches through engine.vectorize.")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"training steps (default {STEPS})")
    parser.add_argument("--out", type=Path, default=Path("out"), help="where to write the results (default out/)")
    parser.add_argument(
        "--torch", action="store_true", help="train in PyTorch through the export (to_torch), then load it back"
    )
    arguments = parser.parse_args()
    if arguments.torch:
        try:
            torch_bridge.import_torch("python -m demos.microgpt --torch")
        except ImportError as error:  # what to install, before anything runs, not a traceback
            raise SystemExit(f"error: {error}") from None
    run(arguments.out, arguments.steps, in_torch=arguments.torch)
