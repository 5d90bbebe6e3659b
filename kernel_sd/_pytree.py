"""Frozen dataclasses registered as pytrees whose tree structure includes their class.

``jax.tree_util.register_dataclass`` registers a "dataclass" node whose
``PyTreeDef.__eq__`` compares the number of children and the static (meta) field
values but not the class, while its ``hash`` does include the class (measured
with jaxlib 0.10.2): ``tree_structure(RBF(0.7)) == tree_structure(Laplace(0.7))``
is True. jit keeps its traced and compiled programs in hash tables that compare
a few bits of the hash before calling ``==``, so a call with one class can be
served the program traced for another class of the same structure (observed: 10
to 14 of 64 one-leaf classes sent through one jitted function got another
class's result; ``Linear(2.0)`` returned ``RBF(2.0)``'s Gram matrix). Nodes
registered with :func:`jax.tree_util.register_pytree_with_keys` compare their
class, so every pytree class of the library is registered through
:func:`dataclass_pytree`, and :func:`structure_names_class` detects a class
(e.g. a user's kernel) whose tree structure would not tell it apart.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax

__all__ = ["dataclass_pytree", "structure_names_class"]


def dataclass_pytree(*, data_fields: Sequence[str], meta_fields: Sequence[str] = ()):
    """Class decorator: register a dataclass as a pytree node (``data_fields`` are children).

    Same contract as ``jax.tree_util.register_dataclass(cls, data_fields,
    meta_fields)`` (unflattening calls ``cls(**fields)``, key paths name the
    fields), but the tree structure includes the class, so two classes never
    share one and jit never serves one class's program for another.

    Args:
        data_fields: names of the fields that are pytree children (arrays, nested pytrees).
        meta_fields: names of the static, hashable fields; they are part of the structure.

    Raises:
        TypeError: ``cls`` is not a dataclass, or the fields are not its init fields.

    Examples:
        >>> import dataclasses, jax
        >>> @dataclass_pytree(data_fields=["x"])
        ... @dataclasses.dataclass(frozen=True)
        ... class A:
        ...     x: float
        >>> @dataclass_pytree(data_fields=["x"])
        ... @dataclasses.dataclass(frozen=True)
        ... class B:
        ...     x: float
        >>> jax.tree.structure(A(1.0)) == jax.tree.structure(B(1.0))
        False
    """
    data = tuple(data_fields)
    meta = tuple(meta_fields)

    def wrap(cls):
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass.")
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        if names != set(data) | set(meta) or set(data) & set(meta):
            raise TypeError(
                f"{cls.__name__}: data_fields and meta_fields must split its init "
                f"fields {sorted(names)}."
            )

        def flatten(obj):
            return (
                tuple(getattr(obj, f) for f in data),
                tuple(getattr(obj, f) for f in meta),
            )

        def flatten_with_keys(obj):
            return (
                tuple((jax.tree_util.GetAttrKey(f), getattr(obj, f)) for f in data),
                tuple(getattr(obj, f) for f in meta),
            )

        def unflatten(aux, children):
            return cls(
                **dict(zip(data, children, strict=True)),
                **dict(zip(meta, aux, strict=True)),
            )

        jax.tree_util.register_pytree_with_keys(
            cls, flatten_with_keys, unflatten, flatten
        )
        return cls

    return wrap


def structure_names_class(obj) -> bool:
    """Whether ``jax.tree.structure(obj)`` tells ``type(obj)`` apart from other classes.

    False for a class registered with ``jax.tree_util.register_dataclass`` (see
    the module docstring): an instance of a look-alike class with the same
    children and static values, registered the same way, has a structure that
    compares equal. True for leaves and for every other registration.
    """
    treedef = jax.tree.structure(obj)
    node = treedef.node_data()
    if node is None:  # a leaf
        return True
    cls, aux = node
    if not dataclasses.is_dataclass(cls) or not isinstance(aux, tuple):
        return True
    return _dataclass_node_names_class(treedef, len(treedef.children()), aux)


@functools.lru_cache(maxsize=256)
def _look_alike(n_data: int, n_meta: int):
    """A dataclass registered with ``register_dataclass``, ``n_data`` children, ``n_meta`` static."""
    fields = [f"d{i}" for i in range(n_data)] + [f"m{i}" for i in range(n_meta)]
    cls = dataclasses.make_dataclass(
        f"_LookAlike{n_data}_{n_meta}", fields, frozen=True
    )
    return jax.tree_util.register_dataclass(
        cls, data_fields=fields[:n_data], meta_fields=fields[n_data:]
    )


def _dataclass_node_names_class(treedef, n_data: int, aux: tuple) -> bool:
    try:
        probe_cls = _look_alike(n_data, len(aux))
        children = [
            jax.tree.unflatten(child, [0.0] * child.num_leaves)
            for child in treedef.children()
        ]
        probe = probe_cls(*children, *aux)
        return jax.tree.structure(probe) != treedef
    except Exception:  # unhashable static values etc.: nothing to compare against
        return True
