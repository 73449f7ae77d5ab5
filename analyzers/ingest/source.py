"""A file to read, wherever it lives: a local path, bytes from an upload, or a zip member."""

from __future__ import annotations

import io
import mmap
import os
from dataclasses import dataclass
from typing import BinaryIO


@dataclass
class Source:
    """One input file. ``display`` is how messages name it (the user's path, the upload's name,
    or ``archive.zip:member``); exactly one of ``path`` and ``data`` is set."""

    display: str
    path: str | None = None
    data: bytes | None = None

    @property
    def name(self) -> str:
        """The base file name (used for format hints only, never trusted)."""
        base = self.display.replace("\\", "/").rsplit(":", 1)[-1]
        return base.rsplit("/", 1)[-1]

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return os.path.getsize(self.path)

    def open(self) -> BinaryIO:
        """A binary file object; the caller closes it."""
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return open(self.path, "rb")

    def head(self, n: int = 4096) -> bytes:
        if self.data is not None:
            return self.data[:n]
        with self.open() as f:
            return f.read(n)

    def buffer(self) -> "Buffer":
        """The whole content as a read-only buffer without copying a file into memory (mmap).

        Use as a context manager: ``with source.buffer() as buf: np.frombuffer(buf, ...)``.
        """
        return Buffer(self)


class Buffer:
    def __init__(self, source: Source) -> None:
        self._source = source
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None

    def __enter__(self) -> memoryview | bytes:
        if self._source.data is not None:
            return self._source.data
        assert self._source.path is not None
        self._file = open(self._source.path, "rb")
        if os.fstat(self._file.fileno()).st_size == 0:
            return b""
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self._map  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                # numpy views still point into the map; it is released when they are collected.
                pass
        if self._file is not None:
            self._file.close()
