"""The seed's section 1.1, checked: its six gradient formulas against the corrected closed form and autograd.

For sigmoid, tanh and relu, with random parameters and N = 8 random samples, each gradient
dL/dw1 .. dL/db3 of network 1.1 is computed four ways:

- the seed's final formula exactly as written, reading its single symbol u as u1 = w1 x + b1
  and as u2 = w2 h1 + b2 (the two readings differ only for w1, b1, w2, b2);
- the corrected closed form of `seed.network_1_1`;
- the engine's autograd through `nn.SeedNetwork` and `nn.mse_loss`.

`python -m demos.seed_gradients` prints the table and writes out/seed_gradients.csv.
docs/seed-errata.md explains every mismatch.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from seed import network_1_1
from seed.compare import relative_error

ACTIVATIONS = ("sigmoid", "tanh", "relu")
SAMPLES = 8
WRONG = 1e-6  # relative error above which a formula is marked wrong (exact ones agree to ~1e-15)


def rows() -> list[dict[str, object]]:
    """One row per activation and parameter."""
    rng = np.random.default_rng(2024)
    table = []
    for activation in ACTIVATIONS:
        x, y, params = network_1_1.random_case(activation, rng, SAMPLES)
        seed_u1 = network_1_1.seed_formulas_as_written(x, y, params, activation, u="u1")
        seed_u2 = network_1_1.seed_formulas_as_written(x, y, params, activation, u="u2")
        corrected = network_1_1.closed_form_gradients(x, y, params, activation)
        autograd = network_1_1.autograd_gradients(x, y, params, activation)
        with_yhat = network_1_1.gradients_with_yhat_factor(x, y, params, activation)
        for name in network_1_1.PARAMETERS:
            errors = [relative_error(v[name], autograd[name]) for v in (seed_u1, seed_u2, corrected)]
            if min(errors[:2]) <= WRONG:
                verdict = "seed ok"
            elif relative_error(seed_u2[name], with_yhat[name]) <= WRONG:
                verdict = "seed WRONG: yhat factor" + ("" if name in ("w3", "b3") else " (else right at u2)")
            else:
                verdict = "seed WRONG: yhat factor, g'(u)^2"
            if errors[2] > WRONG:
                verdict += "; corrected WRONG"
            table.append(
                {
                    "activation": activation,
                    "parameter": name,
                    "seed_u1": seed_u1[name],
                    "seed_u2": seed_u2[name],
                    "corrected": corrected[name],
                    "autograd": autograd[name],
                    "relerr_seed_u1": errors[0],
                    "relerr_seed_u2": errors[1],
                    "relerr_corrected": errors[2],
                    "verdict": verdict,
                }
            )
    return table


def main(out: Path = Path("out")) -> list[Path]:
    table = rows()
    header = (
        f"{'g':8} {'dL/d':4} {'seed (u=u1)':>12} {'seed (u=u2)':>12} {'corrected':>12} {'autograd':>12}"
        f" {'err u1':>8} {'err u2':>8} {'err corr':>8}  verdict"
    )
    print("network 1.1, N = 8 random samples: seed formulas as written vs corrected closed form vs autograd")
    print(header)
    print("-" * len(header))
    for r in table:
        print(
            f"{r['activation']:8} {r['parameter']:4} {r['seed_u1']:12.5g} {r['seed_u2']:12.5g} {r['corrected']:12.5g}"
            f" {r['autograd']:12.5g} {r['relerr_seed_u1']:8.1e} {r['relerr_seed_u2']:8.1e}"
            f" {r['relerr_corrected']:8.1e}  {r['verdict']}"
        )
    wrong = sum(1 for r in table if str(r["verdict"]).startswith("seed WRONG"))
    worst = max(float(r["relerr_corrected"]) for r in table)  # type: ignore[arg-type]
    print(f"seed wrong in {wrong} of {len(table)} cases; corrected vs autograd: worst relative error {worst:.1e}")
    print("why: docs/seed-errata.md")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "seed_gradients.csv"
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    print(f"wrote {path}")
    return [path]


if __name__ == "__main__":
    main()
