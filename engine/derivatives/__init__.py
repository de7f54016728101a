"""Built on `engine.grad`: hessian (`hessian`, second derivatives) and gradcheck (`gradcheck`, `gradgradcheck`:
the engine's derivatives against central finite differences)."""
