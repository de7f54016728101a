"""The engine's core: the Value node, the operation table and the chain rule. Everything else is built on it.

Reading path (start here; about an hour):

1. value.py: the node. `x * y` is `Value.__mul__`, which calls `record2(ops.mul, x, y)`: the forward
   function of the row `*` runs on the two numbers, and the result is kept with its op and parents.
2. ops.py: the table, each operation's forward function and derivative rule on one row.
3. op.py: what a row is (`Op`), and how calling one runs it on floats, arrays or Values.
4. backprop.py: `loss.backward()` orders the graph (`topological_order`) and runs the chain rule.
5. Then grad.py (`engine.grad`), anomaly.py (`detect_anomaly`), modes.py (`no_grad`) and numbers.py.

From micrograd: its `_prev` is `parents` here (and `_prev` still works), its `_op` is `op.name` (and `_op`
still works), its `_backward` closure is the node's `op.rule`, which the walk calls with the node's
gradient, and its recursive `build_topo` is `topological_order`, with an explicit stack.

Modules, bottom-up (each imports only those above it in this list; `TYPE_CHECKING` imports name types only):

- modes: what operations do in the current thread (record the graph or not, check for nan and inf or not);
- numbers: real numbers in, floats out;
- op: what an operation is (`Op`: forward function and derivative rule), `defop`, and how errors name it;
- ops: the table, every operation's mathematics on one row;
- anomaly: `detect_anomaly`, the checks for nan and inf;
- backprop: the graph walk and the chain rule (`topological_order`, `backward_pass`, `backward`);
- value: the Value node; its operators record rows of the table, `backward()` runs backprop's walk; `Dual`,
  a Value that carries a tangent in forward mode (engine/derivatives/forward.py);
- grad: `grad`, derivatives as results (and as Values, for higher orders).

The folders beside it use the core and never change it: pictures/ (diagrams, the backward pass step by step,
the explorer), derivatives/ (hessian, gradcheck, jvp, jacobian), batch/ (vectorize).
"""
