"""A vectorized function's batched program as a PyTorch module, and the module's trained parameters back into Values.

    tm = engine.vectorize(fn).to_torch(*example, parameters=model.parameters())
    loss = tm(*batch).mean(); loss.backward()      # PyTorch's autograd, optimizers, devices, DDP
    engine.vectorize(fn).load_torch(tm)            # the Values hold the trained weights again

`export` turns the Program that vectorize replays (engine/batch/grouping.py) into a `torch.fx.GraphModule`,
one line of code per batched node: a layer is a `Layer` (a matrix product), a group of alike scalar nodes one
torch call (engine/batch/torch_forms.py). The shared leaves become tensors: the Values passed as `parameters`
`torch.nn.Parameter`s, every other leaf the program reads a buffer (a constant). Each tensor holds the leaves
one block of the program reads first, named and shaped from their labels where they say (`query.weight[i,j]`
gives `query_weight`, of shape (16, 16)), else after the block's first reader (`layer1_weight` of an MLP).

What the module does differently from vectorize: it is a snapshot (the Values' values at export; `load_torch`
writes the module's back); where vectorize raises a math error (log(0), 1/0, exp(1000)) PyTorch gives nan
or inf. The checks of the arguments, their shapes and the take indices they hold (token ids, class labels),
run before the traced program, on the arguments, with vectorize's errors: on a GPU an index out of range
would otherwise be a device-side assert.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import operator
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.fx

from engine.batch import torch_forms
from engine.batch.arguments import Form, argument_name, batch_of
from engine.batch.batched_ops import (
    Contraction,
    Elementwise,
    Gather,
    Layer,
    Node,
    Rows,
    Selection,
    Stacked,
    TakeRows,
)
from engine.batch.grouping import Program
from engine.batch.recording import Recording
from engine.core.ops import checked_index, linear
from engine.core.value import Value

# The names a parameter, buffer or submodule of the program cannot take: those of the module classes' own.
_TAKEN = set(dir(torch.fx.GraphModule)) | {"graph", "code", "program"}


# -- the shared leaves as tensors -------------------------------------------------------------------------------


@dataclass
class Tensor:
    """Shared leaves held by one tensor of the module: `values` in its flat (row-major) order, its shape and name
    (the name it is given when the program first reads it, which `Builder` makes unique)."""

    name: str
    values: list[Value]
    shape: tuple[int, ...]
    trainable: bool
    node: torch.fx.Node | None = None  # where the program reads it, once it does


_INDEXED = re.compile(r"^(?P<base>.*)\[(?P<index>\d+(?:,\s*\d+)*)\]$")  # `name[2,0]`, as nn names array entries


def _indexed(label: str) -> tuple[str, tuple[int, ...]] | None:
    found = _INDEXED.match(label)
    if found is None:
        return None
    return found["base"], tuple(int(i) for i in found["index"].split(","))


def _grid(values: Sequence[Value]) -> tuple[str, tuple[int, ...], list[Value]] | None:
    """(name, shape, values row-major) when the labels are `name[i,j,...]` covering a whole array, else None."""
    entries = [_indexed(v.label) for v in values]
    if any(e is None for e in entries) or len({e[0] for e in entries if e}) != 1:
        return None
    indices = [e[1] for e in entries if e]
    if len({len(i) for i in indices}) != 1 or len(set(indices)) != len(indices):
        return None
    shape = tuple(max(axis) + 1 for axis in zip(*indices))
    if math.prod(shape) != len(values):
        return None
    order = sorted(range(len(values)), key=lambda k: indices[k])
    return entries[0][0] if entries[0] else "", shape, [values[k] for k in order]


def _common_name(values: Sequence[Value], role: str) -> str:
    """A name for leaves without an array's labels: their labels' common dotted prefix, and the role they are read in
    (`layer1.neuron1.w1` ... `layer1.neuron4.w3`, read as a layer's weights, give `layer1.weight`)."""
    labels = [v.label for v in values]
    if len(labels) == 1 and labels[0]:
        return labels[0]
    prefix = os.path.commonprefix(labels)
    prefix = prefix[: prefix.rfind(".")] if "." in prefix else ""
    return ".".join(part for part in (prefix, role) if part)


class _Tensors:
    """The shared leaves, made into tensors as the program first reads them: which tensor and place hold each."""

    def __init__(self, shared: list[Value], parameters: set[Value]) -> None:
        self.shared = shared
        self.parameters = parameters
        self.tensors: list[Tensor] = []
        self.place: dict[int, tuple[Tensor, int]] = {}  # position in `shared` -> (tensor, flat position)
        self.names: set[str] = set()

    def of_block(self, positions: np.ndarray, role: str, shape: tuple[int, ...] | None) -> None:
        """Make tensors of the leaves of a block (positions in `shared`) not held yet: one of its parameters, one of
        its constants, and one for each array of a name among them (`query.weight[i,j]`)."""
        groups: dict[tuple[bool, str | None], list[int]] = {}
        for p in dict.fromkeys(int(p) for p in positions if int(p) not in self.place):
            leaf = self.shared[p]
            found = _indexed(leaf.label)
            groups.setdefault((leaf in self.parameters, found[0] if found else None), []).append(p)
        for (_, array), group in groups.items():
            whole = shape if len(group) == len(positions) else None
            self._add([self.shared[p] for p in group], group, array, role, whole)

    def _add(
        self, values: list[Value], positions: list[int], array: str | None, role: str, shape: tuple[int, ...] | None
    ) -> None:
        trainable = values[0] in self.parameters
        grid = _grid(values) if trainable else None
        if grid is not None:
            name, tensor_shape, ordered = grid
        else:
            ordered = values
            tensor_shape = shape if shape is not None else (len(values),) if len(values) > 1 or not trainable else ()
            if not trainable:
                name = _constant_name(values)
            else:
                name = array if array is not None else _common_name(values, role)
        tensor = Tensor(name or "parameters", ordered, tensor_shape, trainable)
        flat = {v: k for k, v in enumerate(ordered)}
        for p in positions:
            self.place[p] = (tensor, flat[self.shared[p]])
        self.tensors.append(tensor)

    def unique(self, name: str) -> str:
        name = re.sub(r"\W", "_", name).strip("_") or "tensor"
        if name[0].isdigit():
            name = "_" + name
        unique, k = name, 1
        while unique in self.names or unique in _TAKEN:
            k += 1
            unique = f"{name}_{k}"
        self.names.add(unique)
        return unique


def _constant_name(values: Sequence[Value]) -> str:
    """`zeros`, `constant_0_5`, `constant_minus_1e_05` (all of one value), or `constants`."""
    distinct = {repr(v.data) for v in values}
    if len(distinct) != 1:
        return "constants"
    return _value_name(values[0].data)


def _value_name(value: float) -> str:
    if value == 0:
        return "zeros"
    text = f"{abs(value):g}".replace(".", "_").replace("-", "_").replace("+", "")
    return f"constant_{'minus_' if value < 0 else ''}{text}"


# -- the graph ----------------------------------------------------------------------------------------------------


def _uniform_constant(units: list[Unit]) -> float | None:
    """The value of units that are all constants of one value, else None."""
    first = units[0][0]
    if not isinstance(first, Tensor) or first.trainable:
        return None
    value = first.values[units[0][1]].data
    for source, place in units:
        if not isinstance(source, Tensor) or source.trainable or repr(source.values[place].data) != repr(value):
            return None
    return value


def _positions(selection: Selection, size: int) -> np.ndarray:
    """The rows a selection reads from an array of `size` rows."""
    return np.arange(size)[selection] if selection is not None else np.arange(size)


# Where a column of an operand is read from: (a node's value, its column) or (a module tensor, its flat place).
Unit = tuple["torch.fx.Node | Tensor", int]


@dataclass
class Argument:
    """An argument of fn as the exported module takes it: its name, its form, and the columns that are take
    indices (token ids, class labels), each with the number of entries a take chooses among."""

    name: str
    form: Form
    indices: dict[int, int] = field(default_factory=dict)


class _Builder:
    """The Program as an fx graph, on a module holding the shared leaves' tensors and the nodes' submodules."""

    def __init__(self, program: Program, recording: Recording, names: Sequence[str], parameters: set[Value]) -> None:
        self.program = program
        self.graph = torch.fx.Graph()
        self.root = torch.nn.Module()
        self.tensors = _Tensors(program.shared, parameters)
        self.blocks = {block: np.arange(len(program.shared))[selection] for block, selection in program.blocks}
        self.values: dict[Node, torch.fx.Node] = {}
        self.batched: set[torch.fx.Node] = set()  # the values with a row per sample
        self.sizes: dict[torch.fx.Node, int] = {}  # the values' numbers of columns
        self.numbers: dict[str, torch.fx.Node] = {}  # the 0-d buffers of constants, by value
        self.fills: dict[str, Tensor] = {}  # what padding rows hold, by value
        # Nodes whose value holds only the rows that are scalar nodes (a padded Contraction's): row -> column.
        self.compact: dict[Node, dict[int, int]] = {}
        self.arguments: list[Argument] = []
        for i, (node, received) in enumerate(zip(program.arguments, recording.arguments)):
            name = argument_name(names, i)
            self.arguments.append(Argument(name, len(received) if isinstance(received, list) else None))
            self._set(node, self.graph.placeholder(self.tensors.unique(name)))
        self.batch_size = self.graph.create_node(
            "call_method", "size", (self.values[program.arguments[0]], 0), name="batch"
        )
        for node in program.computed[:-1]:
            self._set(node, self._node(node))
        self.graph.output(self._outputs(program.outputs, recording.single))

    def _set(self, node: Node, value: torch.fx.Node) -> None:
        self.values[node] = value
        self.sizes[value] = len(self.compact[node]) if node in self.compact else node.size
        if node.batched:
            self.batched.add(value)

    # -- the nodes -----------------------------------------------------------------------------------------------

    def _node(self, node: Node) -> torch.fx.Node:
        op = node.op
        if isinstance(op, Elementwise):
            return self._elementwise(node, op)
        if isinstance(op, Layer):
            weights = self._read(node, op.weights, "weight", (op.neurons, op.n), whole=True)
            inputs = self._read(node, op.inputs)
            bias = self._read(node, op.bias, "bias", broadcast=True)
            module = torch_forms.Layer(op.neurons, op.n, op.tuples)
            return self._call(module, (inputs, weights, bias), _stem(weights, "layer"))
        if isinstance(op, Contraction):
            return self._contraction(node, op)
        if isinstance(op, Stacked):
            return self._call(torch_forms.LogSumExp(op.count, op.members), (self._read(node, op.inputs),), "logsumexp")
        if isinstance(op, TakeRows):
            return self._take(node, op)
        if isinstance(op, Gather):
            return self._read(node, op.rows)
        raise TypeError(f"to_torch: the batched node {node!r} ({type(op).__name__}) has no PyTorch form")

    def _elementwise(self, node: Node, op: Elementwise) -> torch.fx.Node:
        units = [self._operand(node, rows) for rows in op.operands]
        # Constants of one value are read as one number, broadcast, beside an operand that is not one.
        broadcast = any(_uniform_constant(u) is None for u in units)
        operands = tuple(self._assemble(u, broadcast=broadcast) for u in units)
        if op.op is linear and len(operands) == 1:  # linear(b) is b
            return operands[0]
        name = _ELEMENTWISE_NAMES.get(op.op.name, op.op.name)
        exponent = torch_forms.power_exponent(op.op)
        if exponent is not None:
            return self.graph.call_function(operator.pow, (*operands, _number(exponent)), name="pow")
        row = torch_forms.TORCH_ROWS.get(op.op)
        if row is None:
            return self._call(torch_forms.NumpyRow(op.op), operands, name)
        if isinstance(row, type):
            return self._call(row(), operands, name)
        return self.graph.call_function(row, operands, name=name)

    def _contraction(self, node: Node, op: Contraction) -> torch.fx.Node:
        """Every pair of a block as a matrix product when every row is a node of all L terms; else the nodes only,
        each from its own terms (a padding 0 never meets an inf or a nan), kept as the node's rows (`compact`)."""
        weights, inputs = self._read(node, op.weights), self._read(node, op.inputs)
        if op.pairs is None:
            bias = self._read(node, op.bias, broadcast=True)
            return self._call(torch_forms.Contraction(*op.shape), (weights, inputs, bias), "dot")
        bias_units = self._operand(node, op.bias)
        bias = self._assemble([bias_units[row] for row in op.pairs.rows.tolist()], broadcast=True)
        self.compact[node] = {row: k for k, row in enumerate(op.pairs.rows.tolist())}
        module = torch_forms.PaddedContraction(op.shape, op.pairs)
        return self._call(module, (weights, inputs, bias), "dot")

    def _take(self, node: Node, op: TakeRows) -> torch.fx.Node:
        index = self._read(node, op.index)
        checked = self._index_from_arguments(node, op.index, op.table.shape[1])
        parent = node.parents[op.source]
        if parent not in self.blocks:
            module = torch_forms.Take(op.table, from_state=False, check=not checked)
            return self._call(module, (self.values[parent], index), "take")
        # Entries read from the module's tensors: the table says where, in the one tensor holding them all, read flat.
        units = self._units(parent, np.arange(parent.size), "weight", None)
        if len({id(source) for source, _ in units}) == 1 and isinstance(units[0][0], Tensor):
            source = self._tensor(units[0][0])
            table = np.array([place for _, place in units], dtype=np.intp)[op.table]
            module = torch_forms.Take(table, from_state=True, check=not checked)
            return self._call(module, (source, index), _stem(source, "take"))
        module = torch_forms.Take(op.table, from_state=False, check=not checked)
        return self._call(module, (self._assemble(units), index), "take")

    def _index_from_arguments(self, node: Node, index: Rows, count: int) -> bool:
        """True when the take's index is read from fn's arguments only: then the module checks those columns
        (whole numbers from 0 to count - 1) before the program runs. False when the program computes it."""
        parents = [(node.parents[part.parent], part.rows) for part in index.parts]
        if not all(parent.kind == "argument" for parent, _ in parents):
            return False
        for parent, selection in parents:
            argument = self.arguments[self.program.arguments.index(parent)]
            for column in _positions(selection, parent.size).tolist():
                argument.indices[column] = min(count, argument.indices.get(column, count))
        return True

    def _outputs(self, node: Node, single: bool) -> torch.fx.Node:
        """fn's outputs (B, m), spread over the batch where they depend on no argument; (B,) for one Value."""
        assert isinstance(node.op, Gather)
        out = self.graph.call_method("reshape", (self._read(node, node.op.rows), -1, node.size))
        out = self.graph.create_node("call_method", "expand", (out, self.batch_size, -1), name="outputs")
        return self.graph.create_node("call_method", "select", (out, 1, 0), name="output") if single else out

    # -- operands: columns of nodes' values and of the module's tensors ------------------------------------------

    def _units(self, parent: Node, rows: np.ndarray, role: str, shape: tuple[int, ...] | None) -> list[Unit]:
        """Where each of `rows` of `parent` is read from. A block's leaves are made into tensors as first read."""
        if parent not in self.blocks:
            value = self.values[parent]
            columns = self.compact.get(parent)
            return [(value, int(r) if columns is None else columns[int(r)]) for r in rows]
        self.tensors.of_block(self.blocks[parent], role, shape)
        return [self.tensors.place[int(p)] for p in self.blocks[parent][rows]]

    def _operand(self, node: Node, rows: Rows, role: str = "", shape: tuple[int, ...] | None = None) -> list[Unit]:
        """Where each of an operand's columns is read from, in order. `role` and `shape` name and shape the
        tensors made of leaves read here first (a layer's weight matrix)."""
        units: list[Unit | None] = [None] * rows.count
        for part in rows.parts:
            parent = node.parents[part.parent]
            in_order = part.rows is None and part.destination is None
            read = self._units(parent, _positions(part.rows, parent.size), role, shape if in_order else None)
            for place, unit in zip(range(rows.count) if part.destination is None else part.destination.tolist(), read):
                units[place] = unit
        if rows.fill is None:
            return units  # type: ignore[return-value]  # every row is read from a part
        fill = self._fill(rows.fill)
        return [unit if unit is not None else (fill, 0) for unit in units]

    def _fill(self, value: float) -> Tensor:
        """What padding rows hold (0 for a dot product's missing terms, -inf for a logsumexp's): a constant."""
        key = repr(value)
        if key not in self.fills:
            self.fills[key] = Tensor(_value_name(value), [Value(value)], (1,), trainable=False)
        return self.fills[key]

    def _read(
        self,
        node: Node,
        rows: Rows,
        role: str = "",
        shape: tuple[int, ...] | None = None,
        whole: bool = False,
        broadcast: bool = False,
    ) -> torch.fx.Node:
        """The operand `rows` of `node` as a tensor (B, count), or (count,) when it depends on no argument.

        `whole`: a tensor read whole and in order is passed in its own shape (a layer's weight matrix).
        `broadcast`: constants all of one value may be passed as one number (the reader broadcasts it).
        """
        return self._assemble(self._operand(node, rows, role, shape), whole, broadcast)

    def _assemble(self, units: list[Unit], whole: bool = False, broadcast: bool = False) -> torch.fx.Node:
        """One tensor of the units' columns, in order: a column run of one source is a view, others are copied."""
        value = _uniform_constant(units)
        if value is not None:
            number = self._number(value)
            return number if broadcast else self.graph.call_method("expand", (number, len(units)))
        sources: dict[int, tuple[torch.fx.Node | Tensor, list[int], list[int]]] = {}
        for place, (source, column) in enumerate(units):
            _, columns, places = sources.setdefault(id(source), (source, [], []))
            columns.append(column)
            places.append(place)
        if len(sources) == 1:
            source, columns, _ = next(iter(sources.values()))
            return self._columns(source, columns, whole)
        batched = [not isinstance(source, Tensor) and source in self.batched for source, _, _ in sources.values()]
        rows = self.batch_size if any(batched) else 1  # parts are joined as (B, k), or (1, k) when none is batched
        parts = []
        for (source, columns, _), its_own in zip(sources.values(), batched):
            constant = _uniform_constant([(source, column) for column in columns])
            if constant is not None:  # padding, or constants of one value: one number spread
                parts.append(self.graph.call_method("expand", (self._number(constant), rows, len(columns))))
                continue
            part = self._columns(source, columns, whole)
            if not its_own:
                part = self.graph.call_method("reshape", (part, 1, -1))
                if rows != 1:
                    part = self.graph.call_method("expand", (part, rows, -1))
            parts.append(part)
        joined = self.graph.call_function(torch.cat, (parts, -1))
        order = np.argsort(np.concatenate([places for _, _, places in sources.values()]), kind="stable")
        if np.array_equal(order, np.arange(len(order))):
            return joined
        return self._select(joined, order)

    def _columns(self, source: torch.fx.Node | Tensor, columns: list[int], whole: bool) -> torch.fx.Node:
        """`columns` of a node's value (its last axis) or of a tensor (flat): all, a run (a view), or a copy."""
        if isinstance(source, Tensor) and not source.trainable and len(set(columns)) == 1:
            number = self._number(source.values[columns[0]].data)  # one constant, read k times: a view of it
            return self.graph.call_method("expand", (number, len(columns)))
        if isinstance(source, Tensor):
            value = self._tensor(source)
            size = len(source.values)
            if columns == list(range(size)) and (whole or len(source.shape) == 1):
                return value
            if len(source.shape) != 1:
                value = self.graph.call_method("reshape", (value, -1))
        else:
            value, size = source, self.sizes[source]
        start = columns[0]
        if columns == list(range(start, start + len(columns))):
            return value if len(columns) == size else self.graph.call_method("narrow", (value, -1, start, len(columns)))
        return self._select(value, np.array(columns))

    # -- the module's state and submodules ------------------------------------------------------------------------

    def _tensor(self, tensor: Tensor) -> torch.fx.Node:
        if tensor.node is None:
            tensor.name = self.tensors.unique(tensor.name)
            data = torch.tensor([v.data for v in tensor.values], dtype=torch.float64).reshape(tensor.shape)
            if tensor.trainable:
                self.root.register_parameter(tensor.name, torch.nn.Parameter(data))
            else:
                self.root.register_buffer(tensor.name, data)
            tensor.node = self.graph.get_attr(tensor.name)
        return tensor.node

    def _number(self, value: float) -> torch.fx.Node:
        """A 0-d buffer holding `value`: what constants all of one value are read as (one buffer per value)."""
        key = repr(value)
        if key not in self.numbers:
            name = self.tensors.unique(_value_name(value))
            self.root.register_buffer(name, torch.tensor(value, dtype=torch.float64))
            self.numbers[key] = self.graph.get_attr(name)
        return self.numbers[key]

    def _select(self, value: torch.fx.Node, columns: np.ndarray) -> torch.fx.Node:
        """`columns` of `value`'s last axis, copied: a `Columns` submodule holds them."""
        return self._call(torch_forms.Columns(columns), (value,), "columns")

    def _call(self, module: torch.nn.Module, arguments: tuple[Any, ...], name: str) -> torch.fx.Node:
        attribute = self.tensors.unique(name)
        self.root.add_module(attribute, module)
        return self.graph.call_module(attribute, arguments)


_ELEMENTWISE_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}


def _number(c: float) -> float | int:
    return int(c) if c.is_integer() else c


def _stem(value: torch.fx.Node, default: str) -> str:
    """A layer or a lookup is named after its weights (`query_weight` gives `query`), else `default`."""
    name = str(value.target) if value.op == "get_attr" else ""
    return re.sub(r"_?weights?(_\d+)?$", "", name) or default


# -- the module -------------------------------------------------------------------------------------------------


class Exported(torch.nn.Module):
    """fn's batched program as a PyTorch module: `tm(*batch)` is `vf(*batch)` as a tensor, differentiable by torch.

    `tm.program` is the `torch.fx.GraphModule` that runs it, holding the parameters and buffers; `tm.code`
    its code. The arguments are checked first (`Arguments`), as vectorize checks them. `tm.source` says what
    it was exported from: fn, and for each parameter (`Tensor`, by name) the Values it holds, in its order.
    """

    def __init__(self, program: torch.fx.GraphModule, arguments: Arguments, source: Source) -> None:
        super().__init__()
        self.program = program
        self.arguments = arguments
        self.source = source

    @property
    def code(self) -> str:
        """The program as Python: fx's code without the statements that free memory early (`x = y = None`)."""
        lines = [re.sub(r";\s+(\w+ = )+None$", "", line) for line in self.program.code.strip("\n").splitlines()]
        return "\n".join(line for line in lines if line.strip()) + "\n"

    def forward(self, *arguments: Any) -> torch.Tensor:
        state = itertools.chain(self.program.parameters(), self.program.buffers())
        floating = (t for t in state if t.is_floating_point())
        reference = next(floating, torch.zeros((), dtype=torch.float64))  # the dtype and device of the module
        return self.program(*self.arguments.tensors(arguments, reference.dtype, reference.device))


class Arguments:
    """A call's arguments checked as vectorize checks them, and made tensors (B, width) of the module's dtype.

    Shapes and forms: `batch_of`'s errors, read from a tensor's shape and dtype without copying it. Take
    indices (`Argument.indices`): whole numbers in range, else `checked_index`'s ValueError naming the
    argument and the first sample that fails, as vectorize names it.
    """

    def __init__(self, arguments: list[Argument], who: str) -> None:
        self.arguments = arguments
        self.who = who

    @torch.compiler.disable  # checks that read values: run as they are, before the compiled program
    def tensors(self, given: Sequence[Any], dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        names = [a.name for a in self.arguments]
        forms = [a.form for a in self.arguments]
        batch = batch_of([_stand_in(x) for x in given], names, forms, self.who)
        tensors = []
        for x, rows in zip(given, batch.rows):
            if isinstance(x, torch.Tensor):
                tensor = x.to(device=device, dtype=dtype).reshape(-1 if x.ndim else 1, x.shape[1] if x.ndim == 2 else 1)
                tensors.append(tensor.expand(batch.n, -1))
            else:
                tensors.append(torch.as_tensor(np.ascontiguousarray(rows.T), dtype=dtype, device=device))
        self._check_indices(tensors, batch.n)
        return tensors

    def _check_indices(self, tensors: list[torch.Tensor], n: int) -> None:
        """The take indices among the arguments: the first sample where one is no whole number in range raises."""
        failures = []
        for argument, tensor in zip(self.arguments, tensors):
            for count in sorted(set(argument.indices.values())):
                columns = [c for c, k in argument.indices.items() if k == count]
                index = tensor[:, columns]
                bad = ~((index >= 0) & (index < count) & (index == torch.floor(index)))
                if bool(bad.any()):
                    sample, k = (int(i) for i in bad.nonzero()[0])
                    failures.append((sample, argument, columns[k], float(index[sample, k]), count))
        if failures:
            sample, argument, column, value, count = min(failures, key=lambda failure: failure[0])
            where = argument.name if argument.form is None else f"{argument.name}[{column}]"
            try:
                checked_index(value, count)
            except ValueError as error:
                raise ValueError(f"{error} (argument {where} of {self.who}, sample {sample} of {n})") from None


def _stand_in(x: Any) -> Any:
    """What `batch_of` reads of an argument: a tensor of real numbers as an array of its shape and kind of number,
    without a copy (an integer tensor holds its value farthest from 0, which `batch_of` checks floats can hold);
    a tensor it refuses (complex, holding a NaN) as its numpy copy, so the error names its values; anything
    else as it is."""
    if not isinstance(x, torch.Tensor):
        return x
    if x.dtype == torch.bool:
        value = np.zeros((), dtype=np.bool_)
    elif x.is_floating_point():
        if x.numel() and bool(torch.isnan(x).any()):
            return x.detach().cpu().numpy()  # refused, with where the first NaN is
        value = np.zeros((), dtype=np.float64)
    elif not x.is_complex():
        low, high = (int(x.min()), int(x.max())) if x.numel() else (0, 0)
        value = np.array(high if abs(high) >= abs(low) else low, dtype=np.int64 if abs(high) < 2**63 else object)
    else:
        return x.detach().cpu().numpy()
    return np.broadcast_to(value, tuple(x.shape))


@dataclass(frozen=True)
class Source:
    """What a module was exported from: fn, and the Values each parameter of the program holds, by name.

    Shared by the module's copies (`copy.deepcopy` of a module keeps it): the Values are the model's own.
    """

    fn: Callable[..., Any]
    who: str
    parameters: list[Tensor]

    def __deepcopy__(self, memo: dict[int, Any]) -> Source:
        return self


def export(
    fn: Callable[..., Any],
    names: Sequence[str],
    recording: Recording,
    program: Program,
    parameters: Iterable[Value],
    who: str,
) -> Exported:
    """The Program as an `Exported` module whose parameters are exactly the Values of `parameters`."""
    chosen = _checked_parameters(parameters, program, recording, who)
    builder = _Builder(program, recording, names, set(chosen))
    name = re.sub(r"\W", "_", getattr(fn, "__name__", "") or "program")
    graph_module = torch.fx.GraphModule(builder.root, builder.graph, class_name=name)
    trainable = [dataclasses.replace(t, node=None) for t in builder.tensors.tensors if t.trainable]
    return Exported(graph_module, Arguments(builder.arguments, who), Source(fn, who, trainable))


def _checked_parameters(parameters: Iterable[Value], program: Program, recording: Recording, who: str) -> list[Value]:
    """The Values given as parameters: each a leaf fn reads, each once; TypeError or ValueError naming one."""
    if isinstance(parameters, Value) or not isinstance(parameters, Iterable):
        raise TypeError(
            f"{who}.to_torch: parameters must be a list of Values (model.parameters()), got {type(parameters).__name__}"
        )
    chosen = list(parameters)
    # The program's shared leaves that fn reads: not the constants vectorize adds when it rewrites sums
    # (engine/batch/sums.py), which no caller holds.
    read = set(program.shared) & set(recording.shared)
    seen: set[Value] = set()
    for k, p in enumerate(chosen):
        if not isinstance(p, Value):
            raise TypeError(f"{who}.to_torch: parameters[{k}] is {type(p).__name__} ({p!r:.40}); expected a Value")
        named = f"parameters[{k}] ({p.describe()})"
        if p in seen:
            raise ValueError(f"{who}.to_torch: {named} is listed twice; list each parameter once")
        seen.add(p)
        if p not in read:
            what = "is computed by an operation, not a leaf" if p.op is not None else "is never read by fn"
            raise ValueError(
                f"{who}.to_torch: {named} {what}; the parameters must be Values fn reads but does not receive "
                f"(its model's parameters), and fn reads {len(read)} such Values"
            )
    return chosen


def load(module: Any, fn: Callable[..., Any], who: str) -> None:
    """Write the parameters of a module exported from fn into the Values they came from, all checked first."""
    exported = module
    for wrapper in ("module", "_orig_mod"):  # DistributedDataParallel's, torch.compile's
        if not isinstance(exported, Exported) and isinstance(getattr(exported, wrapper, None), torch.nn.Module):
            exported = getattr(exported, wrapper)
    if not isinstance(exported, Exported):
        raise TypeError(f"{who}.load_torch expects a module made by to_torch, got {type(module).__name__}")
    source = exported.source
    if source.fn != fn:
        raise ValueError(
            f"{who}.load_torch: the module was exported from {source.who} of another function "
            f"({getattr(source.fn, '__qualname__', source.fn)!r}); load it into the vectorized function it came from"
        )
    given = dict(exported.program.named_parameters())
    expected = {t.name for t in source.parameters}
    extra = sorted(set(given) - expected)
    if extra:
        raise ValueError(f"{who}.load_torch: the module has parameters the export did not make: {', '.join(extra)}")
    arrays = []
    for tensor in source.parameters:
        parameter = given.get(tensor.name)
        if parameter is None:
            raise ValueError(f"{who}.load_torch: the module has no parameter {tensor.name!r} any more")
        if tuple(parameter.shape) != tensor.shape:
            raise ValueError(
                f"{who}.load_torch: parameter {tensor.name!r} has shape {tuple(parameter.shape)}, "
                f"expected {tensor.shape} ({len(tensor.values)} Values)"
            )
        array = parameter.detach().to(device="cpu", dtype=torch.float64).numpy().ravel()
        bad = np.flatnonzero(~np.isfinite(array))
        if len(bad):
            raise ValueError(
                f"{who}.load_torch: parameter {tensor.name!r} holds {array[bad[0]]} at flat position {bad[0]} "
                f"({tensor.values[bad[0]].describe()}); a model's parameters must be finite"
            )
        arrays.append(array.tolist())
    for tensor, values in zip(source.parameters, arrays):
        for v, x in zip(tensor.values, values):
            v.data = x
