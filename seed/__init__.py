"""The seed's hand derivation of backprop, checked numerically: one module per section of the seed.

- `seed.network_1_1`: section 1.1, network 1.1 in numpy, its gradients in corrected closed form next
  to the seed's formulas as written, test data, and `nn.SeedNetwork` models holding given weights.
- `seed.deep_chain_1_2`: section 1.2, the deep chain as a product of Jacobians, its bound, the
  seed's depth formula as written, and `nn.MLP` models holding given weights.
- `seed.activations`: g, g' and max |g'| on numpy arrays, from the engine's own operations.
- `seed.compare`: the relative error by which every check calls two numbers equal or different.

docs/seed-errata.md has one row per formula of the seed and names the test that checks it. The
package is not installed with the library (`pip install .` installs `engine` and `nn` only): the
tests and demos use it from a checkout of the repository.
"""
