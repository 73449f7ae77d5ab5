"""Read logs from any fsspec URL: ``s3://``, ``gs://``, ``az://``, ``hdfs://``, ``file://``, ``memory://``...

The filesystem package for a protocol (``s3fs``, ``gcsfs``, ``adlfs``...) is optional: without it
the URL gives a clear error naming the package to install, never a traceback. Credentials come
from the usual places each package reads (environment, config files, instance metadata).

A remote logdir is read unit by unit (one folder of event files, or one log file, at a time), so
only one run's files are in memory at once; the grouping and naming rules are those of a local
logdir (:func:`analyzers.ingest.read_tree`).
"""

from __future__ import annotations

from typing import Any

from ..model import LoadResult, ReadError
from .source import Source

_HEAD_BYTES = 4096


class RemoteError(Exception):
    """A URL that cannot be opened at all (unknown protocol, missing package, no such path)."""


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path inside it, or a RemoteError saying why not."""
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec comes with dask
        raise RemoteError("reading URLs needs the 'fsspec' package: pip install fsspec") from exc
    protocol = url.split("://", 1)[0].lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise RemoteError(f"cannot read {protocol}:// URLs: {_missing_package_hint(protocol, exc)}") from exc
    except ValueError as exc:
        raise RemoteError(f"cannot read {protocol}:// URLs: {exc}") from exc


def _missing_package_hint(protocol: str, exc: ImportError) -> str:
    from fsspec.registry import known_implementations

    spec = known_implementations.get(protocol, {})
    package = str(spec.get("class", "")).split(".", 1)[0]
    if package:
        return f"the '{package}' package is not installed (pip install {package})"
    return str(exc)


def join_url(root: str, rel: str) -> str:
    """``root`` URL joined with a relative ``a/b`` path (``root`` itself for an empty one)."""
    if not rel:
        return root
    return root.rstrip("/") + "/" + rel


def _walk_key(rel: str) -> tuple[tuple[int, str], ...]:
    # os.walk order with sorted names: a folder's files before its subfolders, both by name.
    parts = rel.split("/")
    return tuple((1, d) for d in parts[:-1]) + ((0, parts[-1]),)


def list_tree(url: str) -> tuple[str, list[tuple[str, str]]] | None:
    """List a remote logdir: ``(root run name, [(path relative to it, file URL), ...])`` in the
    order a local logdir is walked; ``None`` when ``url`` is a single file."""
    fs, root = _filesystem(url)
    try:
        if not fs.exists(root):
            raise RemoteError("no such file or directory")
        if not fs.isdir(root):
            return None
        found = fs.find(root)
    except RemoteError:
        raise
    except Exception as exc:  # each backend raises its own types (auth, network, permissions)
        raise RemoteError(f"cannot list: {type(exc).__name__}: {exc}") from exc
    prefix = root.rstrip("/") + "/"
    files = []
    for full in found:
        rel = full[len(prefix):] if full.startswith(prefix) else full.rsplit("/", 1)[-1]
        files.append((rel, join_url(url, rel)))
    files.sort(key=lambda item: _walk_key(item[0]))
    root_name = url.rstrip("/").rsplit("/", 1)[-1] or url
    return root_name, files


def read_head(url: str, n: int = _HEAD_BYTES) -> bytes:
    """The first ``n`` bytes of a remote file (OSError when it cannot be read)."""
    fs, path = _filesystem(url)
    try:
        with fs.open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        raise
    except Exception as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc


def fetch(url: str) -> bytes:
    """A remote file's whole content."""
    fs, path = _filesystem(url)
    return fs.cat_file(path)


def read_url(url: str, run_name: str | None = None) -> LoadResult:
    """Read a remote file, zip or logdir (the dispatcher's ``read_path`` calls this for URLs)."""
    from . import _default_run_name, read_source
    from .. import sweep  # the unit-by-unit reading of a logdir lives with the sweep

    try:
        listing = list_tree(url)
    except RemoteError as exc:
        return LoadResult(errors=[ReadError(url, str(exc))])
    if listing is None:
        try:
            data = fetch(url)
        except Exception as exc:
            return LoadResult(errors=[ReadError(url, f"cannot read file: {exc}")])
        return read_source(Source(display=url, data=data), run_name or _default_run_name(url))
    plan = sweep.plan_sweep([url])
    if run_name:
        plan.units = [_renamed(u, run_name) for u in plan.units]
    result = LoadResult(errors=list(plan.errors.get(0, [])))
    for unit in plan.units:
        result.extend(sweep.read_unit(unit))
    if not result.runs and not result.errors and 0 in plan.empty_messages:
        result.errors.append(plan.empty_messages[0])
    return result


def _renamed(unit: Any, root_name: str) -> Any:
    from dataclasses import replace

    return replace(unit, root_name=root_name)
