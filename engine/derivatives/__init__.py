"""Derivatives of a function of several numbers: `hessian` and `gradcheck`/`gradgradcheck` (built on `engine.grad`),
`jvp` and `jacobian` (forward mode, from the same rules)."""
