"""The engine's core: the Value node, the operation table and the chain rule. Everything else is built on it.

Modules, bottom-up (each imports only those above it in this list):

- modes: what operations do in the current thread (record the graph or not, check for nan and inf or not);
- numbers: real numbers in, floats out;
- value: the Value node, the Op (one operation: forward function and derivative rule) and recording;
- ops: the table, every operation's mathematics on one row; it gives Value its operators;
- anomaly: `detect_anomaly`, the checks for nan and inf;
- backprop: the graph walk and the chain rule (`topological_order`, `backward_pass`, `backward`, `grad`).

The folders beside it use the core and never change it: pictures/ (diagrams, the backward pass step by step,
the explorer), derivatives/ (hessian, gradcheck), batch/ (vectorize).
"""
