"""Results on disk: the numbers behind every figure, safe under faults and resumable.

Each experiment part writes ``<out>/<name>.json`` (parameters, seed, package
versions, scalar results) and, when it has arrays, ``<out>/<name>.npz``. Every
file (figures included) is written to a temporary name in the same folder and
moved into place with ``os.replace``: a run killed at any moment leaves either
the old file or the new one, never a truncated one. The JSON is written last and
carries the SHA-256 of the npz and of the figures written with it, so a kill
between two replacements (a new npz beside an old JSON) is detected: :func:`load`
then reports the record as absent and :func:`done` as not done. Temporary files
of killed writers are removed by the next write into the folder; files get the
permissions of an ordinary new file under the user's umask.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import math
import os
import pathlib
import platform
import tempfile
from collections.abc import Callable, Mapping, Sequence
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
    "write_atomic",
    "prepare_dir",
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


def source_fingerprint(*paths) -> str:
    """A short SHA-256 of the text of one or more files (in the order given).

    Put it in ``params`` so that an edited experiment reruns.
    """
    h = hashlib.sha256()
    for path in paths:
        h.update(pathlib.Path(path).read_bytes())
    return h.hexdigest()[:16]


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


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_mode() -> int:
    """Permissions of a new ordinary file: ``0o666`` under the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_TMP_SUFFIX = ".tmp"


def _remove_stale_temporaries(path: pathlib.Path) -> None:
    """Delete ``.<name>.<pid>.*.tmp`` files of ``path`` left by writers no longer alive."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{_TMP_SUFFIX}"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def write_atomic(path, write: Callable[[Any], None] | bytes) -> pathlib.Path:
    """Write ``path`` through a temporary file in its folder, then ``os.replace`` it.

    ``write`` is the bytes to store or a function that writes into a binary file
    object. A failure (or a kill) at any point leaves the previous ``path``
    untouched; temporary files of earlier writers that were killed are removed.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=_TMP_SUFFIX
    )
    try:
        os.fchmod(fd, _file_mode())  # mkstemp creates 0600
        with os.fdopen(fd, "wb") as f:
            if isinstance(write, bytes):
                f.write(write)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path


def prepare_dir(path) -> pathlib.Path:
    """Create the output folder ``path`` if needed and check that files can be written there.

    Raises:
        ValueError: the path is empty, names a file (or lies under one), or the
            folder cannot be created or written to; the message says which.
    """
    if str(path) == "":
        raise ValueError("the output folder is an empty path; give a folder name.")
    out = pathlib.Path(path)
    try:
        if out.exists() and not out.is_dir():
            raise ValueError(f"{str(out)!r} exists and is not a folder.")
        for parent in out.parents:
            if parent.exists() and not parent.is_dir():
                raise ValueError(f"{str(out)!r} lies under {str(parent)!r}, a file.")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out, prefix=".kernel-sd-probe."):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise ValueError(f"cannot write into {str(out)!r}: {reason}.") from None
    return out


def write(
    out_dir,
    name: str,
    *,
    params: Mapping[str, Any],
    numbers: Mapping[str, Any],
    arrays: Mapping[str, Any] | None = None,
    seed: int | None = None,
    files: Sequence[str] = (),
) -> pathlib.Path:
    """Store one result as ``<out_dir>/<name>.json`` (+ ``.npz``); return the JSON path.

    ``files`` names files already written in ``out_dir`` (e.g. the part's
    figures) whose checksums the record keeps, so :func:`done` can tell whether
    they are still the ones written with it. The JSON is written last.
    """
    out = pathlib.Path(out_dir)
    meta = {"seed": seed, "versions": versions(), "machine": platform.machine()}
    checksums = {f: _sha256(out / f) for f in files}
    npz = out / f"{name}.npz"
    if arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        data = buf.getvalue()
        checksums[npz.name] = hashlib.sha256(data).hexdigest()
        write_atomic(npz, data)
    doc = {
        "params": _jsonable(params),
        "numbers": _jsonable(numbers),
        "arrays": sorted(arrays) if arrays else [],
        "sha256": dict(sorted(checksums.items())),
        "meta": meta,
    }
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    path = write_atomic(out / f"{name}.json", text.encode())
    if not arrays:
        npz.unlink(missing_ok=True)  # an npz of an earlier run would not match
    return path


def _document(out: pathlib.Path, name: str) -> dict | None:
    try:
        doc = json.loads((out / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not {"params", "numbers", "meta"} <= set(doc):
        return None
    return doc


def load(out_dir, name: str) -> Record | None:
    """The stored record ``name`` in ``out_dir``, or None if absent or incomplete.

    A record whose npz is missing, unreadable or not the one its JSON was written
    with (checksum mismatch, e.g. after a run killed between the two writes) is
    incomplete.
    """
    out = pathlib.Path(out_dir)
    doc = _document(out, name)
    if doc is None:
        return None
    arrays: dict[str, np.ndarray] = {}
    if doc.get("arrays"):
        npz = out / f"{name}.npz"
        expected = doc.get("sha256", {}).get(npz.name)
        try:
            data = npz.read_bytes()
        except OSError:
            return None
        if expected is None or hashlib.sha256(data).hexdigest() != expected:
            return None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError):
            return None
        if sorted(arrays) != doc["arrays"]:
            return None
    return Record(doc["params"], doc["numbers"], arrays, doc["meta"])


def done(out_dir, name: str, params: Mapping[str, Any], *files: str) -> bool:
    """Whether ``name`` was stored with exactly ``params`` and ``files`` are intact.

    Each of ``files`` must exist and, when the record keeps its checksum, be the
    file written with the record.
    """
    rec = load(out_dir, name)
    if rec is None or rec.params != _jsonable(params):
        return False
    sums = (_document(pathlib.Path(out_dir), name) or {}).get("sha256", {})
    for f in files:
        path = pathlib.Path(out_dir) / f
        if not path.is_file() or (f in sums and _sha256(path) != sums[f]):
            return False
    return True


def run_part(out_dir, name: str, params: Mapping[str, Any], make, *, seed=None) -> bool:
    """One resumable figure part: skip it if stored with ``params``, else run and store.

    ``make()`` returns ``(figure, numbers, arrays)``; the figure is saved as
    ``<name>.png`` and ``<name>.pdf`` and the numbers with :func:`write`, last.
    Returns whether the part ran (False when it was skipped).
    """
    from kernel_sd import plotting

    out = pathlib.Path(out_dir)
    figures = (f"{name}.png", f"{name}.pdf")
    if done(out, name, params, *figures):
        print(f"{name}: already done with these parameters, skipped")
        return False
    fig, numbers, arrays = make()
    plotting.save(fig, out / figures[0], pdf=True)
    write(out, name, params=params, numbers=numbers, arrays=arrays, seed=seed,
          files=figures)  # fmt: skip
    print(f"{name}: wrote {out / figures[0]}")
    return True
