"""A minimal scalar Value in the style of microgpt.py's: each node keeps its inputs and its local derivatives.

The peer of bench.py's `gpt` case: the simplest engine that runs benchmarks/gpt_workload.py. A node stores
the tuple of its children and the tuple of d(node)/d(child), computed when the node is made, so `backward`
needs no rule and no closure: it orders the graph, then adds local derivative times gradient to each child.
Written for this benchmark; microgpt.py itself is not part of the repository.
"""

from __future__ import annotations

import math
from typing import Any


class TupleValue:
    __slots__ = ("data", "grad", "children", "local_grads")

    def __init__(self, data: float, children: tuple[Any, ...] = (), local_grads: tuple[float, ...] = ()) -> None:
        self.data = data
        self.grad = 0.0
        self.children = children
        self.local_grads = local_grads

    def __add__(self, other: Any) -> TupleValue:
        other = other if isinstance(other, TupleValue) else TupleValue(other)
        return TupleValue(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other: Any) -> TupleValue:
        other = other if isinstance(other, TupleValue) else TupleValue(other)
        return TupleValue(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, exponent: float) -> TupleValue:
        return TupleValue(self.data**exponent, (self,), (exponent * self.data ** (exponent - 1),))

    def exp(self) -> TupleValue:
        e = math.exp(self.data)
        return TupleValue(e, (self,), (e,))

    def log(self) -> TupleValue:
        return TupleValue(math.log(self.data), (self,), (1.0 / self.data,))

    def relu(self) -> TupleValue:
        return TupleValue(self.data if self.data > 0 else 0.0, (self,), (1.0 if self.data > 0 else 0.0,))

    def __neg__(self) -> TupleValue:
        return self * -1.0

    def __radd__(self, other: Any) -> TupleValue:
        return self + other

    def __sub__(self, other: Any) -> TupleValue:
        return self + (-other)

    def __rmul__(self, other: Any) -> TupleValue:
        return self * other

    def __truediv__(self, other: Any) -> TupleValue:
        return self * other**-1

    def backward(self) -> None:
        order: list[TupleValue] = []
        seen: set[int] = set()
        stack: list[tuple[TupleValue, bool]] = [(self, False)]
        while stack:  # depth first, without recursion: a node is emitted after its children
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node.children)
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node.children, node.local_grads):
                child.grad += local * node.grad
