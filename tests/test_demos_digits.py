"""The digits demo: its data and split, valuegrad's training loop against a numpy replica written by hand, the
reported numbers against sklearn.metrics on the same predictions, and what the pictures show.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_digits

import nn
from demos import digits

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def split() -> digits.Split:
    return digits.load_split()


# --- a numpy replica of valuegrad's training loop, written out by hand ---------------------------------------


def numpy_training(
    X: np.ndarray, y: np.ndarray, steps: int, lr: float, seed: int, betas: tuple[float, float] = (0.9, 0.999)
) -> tuple[list[np.ndarray], list[float]]:
    """[W1, b1, W2, b2] after `steps` full-batch Adam steps on the mean softmax cross-entropy, and the losses.

    The same network as demos.digits (64-32-10, relu) from nn.MLP's initial weights for `seed`, with
    the gradients derived by hand: dL/dlogits = (softmax - one_hot) / N, then back through the layers.
    """
    model = nn.MLP(X.shape[1], [digits.HIDDEN, digits.N_CLASSES], activation="relu", seed=seed)
    params = []
    for layer in model.layers:  # read the initial weights straight from the neurons
        params.append(np.array([[w.data for w in n.w] for n in layer.neurons]))
        params.append(np.array([n.b.data for n in layer.neurons]))
    targets = np.eye(digits.N_CLASSES)[y]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    losses = []
    for t in range(1, steps + 1):
        W1, b1, W2, b2 = params
        u = X @ W1.T + b1
        h = np.maximum(u, 0.0)
        z = h @ W2.T + b2
        top = z.max(axis=1, keepdims=True)
        log_total = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
        losses.append(float(np.mean(log_total - (targets * z).sum(axis=1))))
        dz = (np.exp(z - log_total[:, None]) - targets) / len(X)
        du = (dz @ W2) * (u > 0)
        grads = [du.T @ X, du.sum(axis=0), dz.T @ h, dz.sum(axis=0)]
        for i, g in enumerate(grads):
            m[i] = betas[0] * m[i] + (1 - betas[0]) * g
            v[i] = betas[1] * v[i] + (1 - betas[1]) * g * g
            params[i] = params[i] - lr * (m[i] / (1 - betas[0] ** t)) / (np.sqrt(v[i] / (1 - betas[1] ** t)) + 1e-8)
    return params, losses


def numpy_predict(params: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    W1, b1, W2, b2 = params
    return (np.maximum(X @ W1.T + b1, 0.0) @ W2.T + b2).argmax(axis=1)


# --- data ------------------------------------------------------------------------------------------------------


def test_the_split_is_stratified_80_20_of_every_image_scaled_to_0_1(split: digits.Split) -> None:
    X, y = load_digits(return_X_y=True)
    assert X.max() == 16.0 and X.min() == 0.0  # so dividing by 16 maps the pixels onto [0, 1]
    n = len(y)
    assert (n, len(split.y_test)) == (1797, math.ceil(0.2 * n))
    assert split.X_train.shape == (n - len(split.y_test), 64) and split.X_test.shape == (len(split.y_test), 64)
    assert split.X_train.min() == 0.0 and max(split.X_train.max(), split.X_test.max()) == 1.0
    # the two parts hold every image exactly once, with its label
    ours = np.hstack(
        [np.vstack([split.X_train, split.X_test]) * 16, np.concatenate([split.y_train, split.y_test])[:, None]]
    )
    theirs = np.hstack([X, y[:, None]])
    np.testing.assert_array_equal(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)])
    # stratified: each class is split 80/20 to within one image
    for label in range(10):
        in_test, total = np.sum(split.y_test == label), np.sum(y == label)
        assert abs(in_test - 0.2 * total) <= 1, (label, in_test, total)


def test_the_split_is_fixed_by_its_seed(split: digits.Split) -> None:
    again, other = digits.load_split(), digits.load_split(seed=1)
    np.testing.assert_array_equal(again.X_test, split.X_test)
    np.testing.assert_array_equal(again.y_train, split.y_train)
    assert not np.array_equal(other.y_test, split.y_test)


# --- metrics, report and results file ---------------------------------------------------------------------------


def labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, size=n)


def test_accuracy_and_confusion_matrix_agree_with_sklearn_metrics() -> None:
    y_true, y_pred = labels(500, 1), labels(500, 2)
    y_pred[:300] = y_true[:300]
    assert digits.accuracy(y_true, y_pred) == metrics.accuracy_score(y_true, y_pred)
    np.testing.assert_array_equal(
        digits.confusion_matrix(y_true, y_pred), metrics.confusion_matrix(y_true, y_pred, labels=range(10))
    )
    with pytest.raises(ValueError, match=r"equal length, got shapes \(3,\) and \(2,\)"):
        digits.accuracy(np.zeros(3, dtype=int), np.zeros(2, dtype=int))


def result(name: str, y_true: np.ndarray, wrong: int, seconds: float) -> digits.Result:
    predictions = y_true.copy()
    predictions[:wrong] = (predictions[:wrong] + 1) % 10
    return digits.Result(name, f"{name} setup", predictions, seconds)


@pytest.mark.parametrize(
    ("wrong", "seconds", "accurate", "fast"),
    [(3, 0.5, True, True), (4, 0.5, True, True), (5, 0.5, False, True), (2, 0.6, True, False), (3, 0.4, True, True)],
)
def test_the_goal_is_one_point_of_accuracy_and_no_more_wall_time(
    wrong: int, seconds: float, accurate: bool, fast: bool
) -> None:
    y_true = labels(100, 3)
    theirs = result("scikit-learn", y_true, wrong=3, seconds=0.5)  # 97%
    mine = result("valuegrad", y_true, wrong=wrong, seconds=seconds)
    timing = digits.Timing([seconds] * 3, [0.5] * 3)
    assert digits.goal(mine, theirs, y_true, timing) == (accurate, fast)
    goal_line = digits.report([mine, theirs], y_true, timing)[-1]
    assert goal_line.count("NOT met") == (not accurate) + (not fast)


@pytest.mark.parametrize(
    ("mine", "theirs", "fast"),
    [
        ([0.2, 0.2, 0.2, 0.2, 2.0], [0.6] * 5, True),  # one run of ours (the last) slowed tenfold by other work
        ([0.2, 0.2, 0.2, 0.2, 0.2], [0.6, 0.6, 0.05, 0.6, 0.6], True),  # one of theirs unusually quick
        ([0.1, 0.7, 0.7, 0.7, 0.7], [0.6] * 5, False),  # one lucky run of ours (the first) does not make us faster
        ([0.3, 0.9, 0.3, 0.9, 0.3], [0.4, 0.8, 0.4, 0.8, 0.4], True),  # the machine slows both in turn: pairs
    ],
)
def test_one_disturbed_run_cannot_flip_the_wall_time_verdict(
    mine: list[float], theirs: list[float], fast: bool
) -> None:
    y_true = labels(100, 3)
    timing = digits.Timing(mine, theirs)
    ratios = [a / b for a, b in zip(mine, theirs)]
    assert timing.ratio == sorted(ratios)[2]  # the median of five pairs
    results = [result("valuegrad", y_true, 3, float(np.median(mine))), result("scikit-learn", y_true, 3, 0.5)]
    assert digits.goal(*results, y_true, timing) == (True, fast)
    assert (
        f"({sorted(ratios)[2]:.2f}x, the median of 5 pairs; {min(ratios):.2f}x-{max(ratios):.2f}x)"
        in (digits.report(results, y_true, timing)[-1])
    )
    with pytest.raises(ValueError, match="as many timed runs of each model, at least one, got 5 and 4"):
        digits.Timing(mine, theirs[:4])


def test_the_models_are_timed_in_turns_with_one_blas_thread() -> None:
    from threadpoolctl import threadpool_info

    calls: list[tuple[str, int]] = []

    def trainer(name: str) -> Callable[[], str]:
        def train() -> str:
            threads = max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)
            calls.append((name, threads))
            return f"{name} model {len(calls)}"

        return train

    mine, theirs, timing = digits.alternate(trainer("valuegrad"), trainer("sklearn"), runs=3)
    assert [name for name, _ in calls] == ["valuegrad", "sklearn"] * 3
    assert {threads for _, threads in calls} == {1}
    assert (mine, theirs) == ("valuegrad model 5", "sklearn model 6")  # the last run of each
    assert len(timing.valuegrad) == len(timing.sklearn) == 3 and min(timing.valuegrad + timing.sklearn) >= 0
    with pytest.raises(ValueError, match="runs must be at least 1, got 0"):
        digits.alternate(trainer("valuegrad"), trainer("sklearn"), runs=0)


def test_the_report_and_the_results_file_give_both_models_numbers(tmp_path: Path) -> None:
    y_true = labels(360, 4)
    results = [result("valuegrad", y_true, 11, 0.3812), result("scikit-learn", y_true, 10, 0.4521)]
    lines = digits.report(results, y_true, digits.Timing([0.3812, 0.5], [0.4521, 0.5]))
    for r, line in zip(results, lines[1:3]):
        share = metrics.accuracy_score(y_true, r.predictions)
        assert line.split()[:3] == [r.name, f"{share:.1%}", f"({round(share * 360)}/360)"]
        assert f"{r.train_seconds:.2f} s" in line
    assert lines[3] == "  (train time: the median of 2 runs of each model, taking turns, one BLAS thread each)"
    assert "(-0.3 points)" in lines[4] and "(0.92x, the median of 2 pairs; 0.84x-1.00x)" in lines[4]
    path = digits.write_results(results, y_true, tmp_path / "results.csv")
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["model"] for row in rows] == ["valuegrad", "scikit-learn"]
    for r, row in zip(results, rows):
        assert float(row["test_accuracy"]) == pytest.approx(metrics.accuracy_score(y_true, r.predictions), abs=1e-6)
        assert int(row["test_correct"]) == np.sum(r.predictions == y_true) and int(row["test_images"]) == 360
        assert float(row["train_seconds"]) == pytest.approx(r.train_seconds, abs=1e-4)
        assert row["setup"] == r.setup


# --- pictures ---------------------------------------------------------------------------------------------------


def test_the_confusion_picture_shows_each_models_matrix_and_accuracy(tmp_path: Path) -> None:
    y_true = labels(200, 5)
    results = [result("valuegrad", y_true, 17, 1.0), result("scikit-learn", y_true, 9, 1.0)]
    for r in results:
        r.predictions[:30] = labels(30, 6)
    fig = digits.plot_confusion(results, y_true, tmp_path / "confusion.png")
    assert (tmp_path / "confusion.png").read_bytes()[:8] == PNG
    assert len(fig.axes) == 2
    for ax, r in zip(fig.axes, results):
        expected = metrics.confusion_matrix(y_true, r.predictions, labels=range(10))
        np.testing.assert_array_equal(ax.images[0].get_array(), expected)
        cells = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
        assert cells == {(i, j): count for (i, j), count in np.ndenumerate(expected) if count}
        correct = int(np.trace(expected))
        share = metrics.accuracy_score(y_true, r.predictions)
        assert ax.get_title() == f"{r.name}: {share:.1%} ({correct}/200)"
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted digit", "true digit")


def test_the_misclassified_picture_shows_each_wrong_digit_with_its_labels(split: digits.Split, tmp_path: Path) -> None:
    y_true = split.y_test
    y_pred = y_true.copy()
    wrong = [3, 50, 51, 200, 359]
    y_pred[wrong] = (y_pred[wrong] + 4) % 10
    fig = digits.plot_misclassified(split.X_test, y_true, y_pred, tmp_path / "wrong.png")
    assert (tmp_path / "wrong.png").read_bytes()[:8] == PNG
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == len(wrong)
    for ax, i in zip(drawn, wrong):
        np.testing.assert_array_equal(ax.images[0].get_array(), split.X_test[i].reshape(8, 8))
        assert ax.get_title() == f"true {y_true[i]}\npredicted {y_pred[i]}"
    assert [t.get_text() for t in fig.texts] == ["valuegrad: 5 of 360 test digits misclassified"]  # the suptitle


def test_the_misclassified_picture_caps_the_digits_shown_and_says_so(split: digits.Split, tmp_path: Path) -> None:
    y_pred = (split.y_test + 1) % 10  # every one wrong
    fig = digits.plot_misclassified(split.X_test, split.y_test, y_pred, tmp_path / "wrong.png", limit=12)
    drawn = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in drawn] == [f"true {t}\npredicted {p}" for t, p in zip(split.y_test, y_pred)][:12]
    assert [t.get_text() for t in fig.texts] == ["valuegrad: 360 of 360 test digits misclassified (the first 12 shown)"]
    fig = digits.plot_misclassified(split.X_test, split.y_test, split.y_test, tmp_path / "none.png")
    assert not [ax for ax in fig.axes if ax.images]
    assert [t.get_text() for t in fig.texts] == [
        "every test digit classified correctly",
        "valuegrad: 0 of 360 test digits misclassified",
    ]


# --- training -------------------------------------------------------------------------------------------------


def test_the_chosen_steps_and_learning_rate_meet_the_accuracy_goal_in_the_numpy_replica(split: digits.Split) -> None:
    # The replica runs in milliseconds and valuegrad follows it step for step (next test): this checks the constants.
    params, losses = numpy_training(split.X_train, split.y_train, digits.STEPS, digits.LEARNING_RATE, digits.MODEL_SEED)
    ours = metrics.accuracy_score(split.y_test, numpy_predict(params, split.X_test))
    baseline = metrics.accuracy_score(
        split.y_test, digits.train_sklearn(split.X_train, split.y_train).predict(split.X_test)
    )
    assert ours >= baseline - digits.ACCURACY_MARGIN, (ours, baseline)
    assert losses[-1] < 0.1 * losses[0]


def test_valuegrad_training_follows_the_numpy_replica_step_for_step(split: digits.Split) -> None:
    X, y = split.X_train[:150], split.y_train[:150]
    lines: list[str] = []
    model, losses = digits.train_valuegrad(X, y, steps=6, lr=0.02, seed=3, log_every=2, log=lines.append)
    params, expected_losses = numpy_training(X, y, steps=6, lr=0.02, seed=3)
    assert losses == pytest.approx(expected_losses, rel=1e-10)
    state = model.state_dict()
    for name, expected in zip(["layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"], params):
        np.testing.assert_allclose(state[name], expected, rtol=1e-9, atol=1e-12)
    assert len(lines) == 4 and lines[0].split()[:2] == ["step", "0"]


def test_vectorized_predictions_are_the_models_on_each_image(split: digits.Split) -> None:
    model = nn.MLP(64, [32, 10], activation="relu", seed=1)
    X = split.X_test[:25]
    logits = digits.valuegrad_logits(model, X)
    expected = np.array([[v.data for v in model(list(row))] for row in X])  # type: ignore[union-attr]
    np.testing.assert_allclose(logits, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(digits.valuegrad_predict(model, X), expected.argmax(axis=1))


def test_main_reports_both_models_and_writes_the_results_and_pictures(
    split: digits.Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(digits, "STEPS", 4)  # the demo's own run is `make demo`'s job
    monkeypatch.setattr(digits, "TIMING_RUNS", 2)
    paths = digits.main(tmp_path / "out")
    assert paths == [
        tmp_path / "out" / name for name in ("digits_results.csv", "digits_confusion.png", "digits_misclassified.png")
    ]
    assert all(p.read_bytes()[:8] == PNG for p in paths[1:])
    with open(paths[0], newline="") as file:
        rows = {row["model"]: row for row in csv.DictReader(file)}
    # the reported accuracies, against independent computations of the same models' predictions
    params, _ = numpy_training(split.X_train, split.y_train, 4, digits.LEARNING_RATE, digits.MODEL_SEED)
    expected = metrics.accuracy_score(split.y_test, numpy_predict(params, split.X_test))
    assert float(rows["valuegrad"]["test_accuracy"]) == pytest.approx(expected, abs=1e-6)
    classifier = digits.train_sklearn(split.X_train, split.y_train)  # seeded: the same predictions again
    expected = metrics.accuracy_score(split.y_test, classifier.predict(split.X_test))
    assert float(rows["scikit-learn"]["test_accuracy"]) == pytest.approx(expected, abs=1e-6)
    printed = capsys.readouterr().out
    assert "1437 to train on and 360 to test" in printed and "goal: accuracy within 1 point" in printed
    assert "the median of 2 pairs" in printed
    for row in rows.values():
        assert float(row["train_seconds"]) > 0 and f"{float(row['test_accuracy']):.1%}" in printed


# --- dependencies ---------------------------------------------------------------------------------------------


def test_scikit_learn_is_a_dependency_of_the_demos_only() -> None:
    import subprocess
    import sys
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("scikit-learn")]
    assert [d for d in project["optional-dependencies"]["demos"] if d.startswith("scikit-learn")]
    # engine and nn work, checkpoints included, with scikit-learn, torch and matplotlib unimportable
    script = (
        "import sys, tempfile, os\n"
        "for name in ('sklearn', 'torch', 'matplotlib'): sys.modules[name] = None\n"
        "import engine, nn\n"
        "model = nn.MLP(3, [4, 2], activation='relu', seed=0)\n"
        "path = os.path.join(tempfile.mkdtemp(), 'm.npz')\n"
        "model.save(path)\n"
        "loss = nn.cross_entropy(nn.load(path)([1.0, 2.0, 3.0]), 1)\n"
        "loss.backward()\n"
        "print([name for name in ('sklearn', 'torch', 'matplotlib', 'scipy') if sys.modules.get(name) is not None])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # importing a blocked module would have raised ImportError
    assert done.stdout.strip() == "[]"
