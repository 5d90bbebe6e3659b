"""Results on disk: the numbers behind every figure, written atomically and resumable.

Each experiment part writes ``<out>/<name>.json`` (parameters, seed, package
versions, scalar results) and, when it has arrays, ``<out>/<name>.npz``. Files are
written to a temporary name in the same folder and moved into place with
``os.replace``, so an interrupted run never leaves a half-written file. A later
run with the same parameters finds the record with :func:`load` and can skip the
part (:func:`done`).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import platform
import tempfile
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Record",
    "write",
    "load",
    "done",
    "run_part",
    "versions",
    "source_fingerprint",
]


class Record(NamedTuple):
    """A stored result."""

    params: dict[str, Any]
    """Parameters the part ran with (JSON-compatible)."""
    numbers: dict[str, Any]
    """Scalar and small-list results (JSON-compatible)."""
    arrays: dict[str, np.ndarray]
    """Array results (empty when none were stored)."""
    meta: dict[str, Any]
    """Seed, package versions, machine."""


def versions() -> dict[str, str]:
    """Versions of Python and the packages that determine the numbers."""
    import jax
    import jaxlib
    import scipy

    from kernel_sd import __version__

    return {
        "kernel_sd": __version__,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "x64": str(bool(jax.config.jax_enable_x64)),
    }


def source_fingerprint(path) -> str:
    """A short SHA-256 of a file's text: put it in ``params`` so an edited script reruns."""
    import hashlib

    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()[:16]


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        arr = np.asarray(value)
        return _jsonable(arr.tolist()) if arr.ndim else _jsonable(arr.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf", "nan": JSON has no such numbers
    return value


def _atomic_write(path: pathlib.Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def write(
    out_dir,
    name: str,
    *,
    params: Mapping[str, Any],
    numbers: Mapping[str, Any],
    arrays: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> pathlib.Path:
    """Store one result as ``<out_dir>/<name>.json`` (+ ``.npz``); return the JSON path."""
    out = pathlib.Path(out_dir)
    meta = {"seed": seed, "versions": versions(), "machine": platform.machine()}
    if arrays:
        _atomic_write(
            out / f"{name}.npz",
            lambda f: np.savez_compressed(
                f, **{k: np.asarray(v) for k, v in arrays.items()}
            ),
        )
    doc = {
        "params": _jsonable(params),
        "numbers": _jsonable(numbers),
        "arrays": sorted(arrays) if arrays else [],
        "meta": meta,
    }
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    _atomic_write(out / f"{name}.json", lambda f: f.write(text.encode()))
    return out / f"{name}.json"


def load(out_dir, name: str) -> Record | None:
    """The stored record ``name`` in ``out_dir``, or None if absent or incomplete."""
    out = pathlib.Path(out_dir)
    try:
        doc = json.loads((out / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    arrays: dict[str, np.ndarray] = {}
    if doc.get("arrays"):
        try:
            with np.load(out / f"{name}.npz") as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError):
            return None
        if sorted(arrays) != doc["arrays"]:
            return None
    return Record(doc["params"], doc["numbers"], arrays, doc["meta"])


def done(out_dir, name: str, params: Mapping[str, Any], *files: str) -> bool:
    """Whether ``name`` was stored with exactly ``params`` and ``files`` (e.g. figures) exist."""
    rec = load(out_dir, name)
    if rec is None or rec.params != _jsonable(params):
        return False
    return all((pathlib.Path(out_dir) / f).exists() for f in files)


def run_part(out_dir, name: str, params: Mapping[str, Any], make, *, seed=None) -> bool:
    """One resumable figure part: skip it if stored with ``params``, else run and store.

    ``make()`` returns ``(figure, numbers, arrays)``; the figure is saved as
    ``<name>.png`` and ``<name>.pdf`` and the numbers with :func:`write`. Returns
    whether the part ran (False when it was skipped).
    """
    from kernel_sd import plotting

    out = pathlib.Path(out_dir)
    if done(out, name, params, f"{name}.png", f"{name}.pdf"):
        print(f"{name}: already done with these parameters, skipped")
        return False
    fig, numbers, arrays = make()
    plotting.save(fig, out / f"{name}.png", pdf=True)
    write(out, name, params=params, numbers=numbers, arrays=arrays, seed=seed)
    print(f"{name}: wrote {out / f'{name}.png'}")
    return True
