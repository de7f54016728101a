"""The engine's core: the Value node, the operation table and the chain rule. Everything else is built on it.

Reading path (start here, about an hour): value.py, the node; `x * y` records a node of the row `*` of
ops.py, the table, whose rows op.py says how to run; `loss.backward()` runs backprop.py's walk and chain
rule. Then grad.py (`engine.grad`), anomaly.py (`detect_anomaly`), modes.py and numbers.py.

Modules, bottom-up (each imports only those above it in this list; `TYPE_CHECKING` imports name types only):

- modes: what operations do in the current thread (record the graph or not, check for nan and inf or not);
- numbers: real numbers in, floats out;
- op: what an operation is (`Op`: forward function and derivative rule), `defop`, and how errors name it;
- ops: the table, every operation's mathematics on one row;
- anomaly: `detect_anomaly`, the checks for nan and inf;
- backprop: the graph walk and the chain rule (`topological_order`, `backward_pass`, `backward`);
- value: the Value node; its operators record rows of the table, `backward()` runs backprop's walk;
- grad: `grad`, derivatives as results (and as Values, for higher orders).

The folders beside it use the core and never change it: pictures/ (diagrams, the backward pass step by step,
the explorer), derivatives/ (hessian, gradcheck), batch/ (vectorize).
"""
