"""Values a model holds where the search for parameters does not look: named when a model seems to have none.

Module finds parameters in Values, Modules, lists, tuples and dicts with string keys (nn/module.py). A
Value kept in anything else (a set, a deque, a numpy array of objects, an object of a class of one's
own) is not found, so a model keeping its weights that way has no parameters and would save an empty
checkpoint. `stray_value` finds where such a Value sits, so that `save` can refuse, naming the
attribute. Private attributes (`_name`) are skipped here as the search skips them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType

import numpy as np

from engine import Value

MAX_DEPTH = 8  # containers within containers are followed this deep
ATOMS = (str, bytes, bytearray, int, float, complex, np.generic, range)  # hold no Value
CODE = (type, ModuleType, FunctionType, MethodType, BuiltinFunctionType)  # not data, not searched
Place = tuple[str, str]  # a container's dotted name from the model and its type's name


def stray_value(model: object, module_type: type) -> Place | None:
    """Where the first Value in the model's public attributes sits that the search for parameters (which reads
    lists, tuples, dicts with string keys and objects of `module_type`) does not reach: the outermost container
    it does not read, e.g. ("weights", "set"). None if there is no such Value."""
    seen = {id(model)}
    for name, item in vars(model).items():
        if not name.startswith("_"):
            found = _search(item, name, None, module_type, seen, 0)
            if found is not None:
                return found
    return None


def _search(
    item: object, name: str, unread: Place | None, module_type: type, seen: set[int], depth: int
) -> Place | None:
    """The place of a Value in `item`; `unread` is the outermost container above it that the search does not read."""
    if depth > MAX_DEPTH or isinstance(item, ATOMS) or id(item) in seen:
        return None
    seen.add(id(item))
    read = isinstance(item, (list, tuple, module_type)) or (isinstance(item, dict) and all(map(_is_str, item)))
    unread = unread if unread is not None or read else (name, type(item).__name__)
    entries: Iterator[tuple[str, object]]  # lazily: the search stops at the first Value
    if isinstance(item, Mapping):
        entries = ((f"{name}.{key}", entry) for key, entry in item.items())
    elif isinstance(item, np.ndarray):
        entries = ((name, entry) for entry in (item.flat if item.dtype == object else ()))
    elif isinstance(item, Collection):  # a list, a set, a deque ...
        entries = ((f"{name}.{i}", entry) for i, entry in enumerate(item))
    elif hasattr(item, "__dict__") and not isinstance(item, CODE):  # a Module, an object of one's own class
        entries = ((f"{name}.{key}", entry) for key, entry in vars(item).items() if not key.startswith("_"))
    else:
        return None
    for entry_name, entry in entries:
        if isinstance(entry, Value):
            return unread if unread is not None else (name, type(item).__name__)
        found = _search(entry, entry_name, unread, module_type, seen, depth + 1)
        if found is not None:
            return found
    return None


def _is_str(key: object) -> bool:
    return isinstance(key, str)
