"""Read one TensorBoard event file: every scalar point, fast, with every record's CRC checked.

An event file is a sequence of TFRecords::

    uint64 length | uint32 masked_crc32c(length) | byte data[length] | uint32 masked_crc32c(data)

where each ``data`` is a serialized ``tensorboard.Event`` proto. Nearly all records in a real
run are one scalar each, in one of two fixed byte layouts:

- ``simple_value`` (torch / tensorboardX ``SummaryWriter.add_scalar``, i.e. TRL, SB3, CleanRL,
  HF ``TensorBoardCallback``)::

      09 <f64 wall_time> [10 <varint step>] 2a <len> 0a <len> 0a <len> <tag> 15 <f32 value>

- TF2 ``tf.summary.scalar``: the same prefix, then ``42 <len> <TensorProto>`` holding a rank-0
  float/double tensor (``scalars`` plugin metadata only on the first event of each tag).

So the reader works in three vectorised passes over the memory-mapped file instead of parsing
protos one by one (which is what makes ``EventAccumulator`` ~100x slower):

1. **Framing** (:func:`frame_records`): speculate record starts (a length header whose upper four
   bytes are zero, followed 12 bytes later by ``09``, the wall_time field tag), keep the chain of
   candidates that tile the file from offset 0, and check every length CRC (one ``crc32c`` call
   per distinct length). Whatever the speculation cannot vouch for (corruption, a truncated last
   record, unusual records) is walked record by record, resynchronising after damage by scanning
   for the next offset whose length header has a valid CRC, and speculating again from there.
2. **Data CRCs** (:func:`verify_data_crcs`): every record's data CRC, checked with the ``crc32c``
   library (see that function for how one call checks many records).
3. **Decoding** (:func:`_decode_fixed_layout`): numpy reads wall_time/step/tag/value straight
   out of the records that have one of the fixed layouts above; every other record (histograms,
   images, text, graphs, metadata-carrying first events, int/half tensors, ...) goes through
   ``tensorboard.compat.proto.event_pb2.Event`` as TensorBoard itself would read it.

Values are bit-identical to ``EventAccumulator``'s: float32 ``simple_value`` widened to float64.
Nothing here raises on bad bytes: damage becomes a note, and every readable point is kept.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..model import LoadResult, ReadError, Run
from .sniff import masked_crc32c
from .source import Source

HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_BYTES = 4  # uint32 masked CRC of the data
FRAME_BYTES = HEADER_BYTES + FOOTER_BYTES

# A record longer than this is taken as a corrupt length field (TensorBoard's own writers never
# write single events near this size; a graph_def is the largest, usually a few MB).
MAX_RECORD_BYTES = 1 << 31

# Protobuf wire tags (field_number << 3 | wire_type) of the fields the fast path reads.
# Sources: tensorboard/compat/proto/event.proto, summary.proto, tensor.proto.
_EVENT_WALL_TIME = 0x09  # Event.wall_time = 1, fixed64
_EVENT_STEP = 0x10  # Event.step = 2, varint
_EVENT_SUMMARY = 0x2A  # Event.summary = 5, length-delimited
_SUMMARY_VALUE = 0x0A  # Summary.value = 1
_VALUE_TAG = 0x0A  # Summary.Value.tag = 1
_VALUE_SIMPLE = 0x15  # Summary.Value.simple_value = 2, fixed32
_VALUE_TENSOR = 0x42  # Summary.Value.tensor = 8
_TENSOR_DTYPE = 0x08  # TensorProto.dtype = 1
_TENSOR_SHAPE = 0x12  # TensorProto.tensor_shape = 2 (empty message = rank 0)
_TENSOR_CONTENT = 0x22  # TensorProto.tensor_content = 4
_TENSOR_FLOAT_VAL = 0x2A  # TensorProto.float_val = 5, packed
_TENSOR_DOUBLE_VAL = 0x32  # TensorProto.double_val = 6, packed
_DT_FLOAT, _DT_DOUBLE, _DT_BFLOAT16 = 1, 2, 14  # tensorboard/compat/proto/types.proto

SCALARS_PLUGIN = "scalars"  # tensorboard/plugins/scalar/metadata.py PLUGIN_NAME

_SCAN_CHUNK = 1 << 22  # bytes per numpy scan chunk: bounded temporaries, cache friendly
_CRC_CHUNK = 1 << 23  # bytes of records per batched CRC check


# --------------------------------------------------------------------------- byte access
def _bytes_view(buf: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(buf, dtype=np.uint8)


def _rows(u8: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """``(len(offsets), width)`` matrix of the bytes at each offset (callers keep them in range).

    Gathered as ``V<width>`` items (one memcpy each), several times faster than fancy-indexing
    a strided byte matrix or an unaligned uint64 view.
    """
    items = np.ndarray(shape=(len(u8) - width + 1,), dtype=f"V{width}", buffer=u8, strides=(1,))
    return items[offsets].view(np.uint8).reshape(-1, width)


def _read_at(u8: np.ndarray, pos: np.ndarray, dtype: str) -> np.ndarray:
    """The little-endian ``dtype`` value at each byte position (out-of-range positions clamped)."""
    width = np.dtype(dtype).itemsize
    if len(u8) < width:
        return np.zeros(len(pos), dtype=dtype)
    return _rows(u8, np.clip(pos, 0, len(u8) - width), width).view(dtype).ravel()


def _per_length(lengths: np.ndarray, compute) -> np.ndarray:  # noqa: ANN001 - int -> int
    """``compute(length)`` for every record, calling it once per distinct length (few in a file)."""
    if len(lengths) == 0:
        return np.zeros(0, np.uint32)
    top = int(lengths.max())
    if top < 1 << 22:  # small lengths: a lookup table beats a sort
        distinct = np.flatnonzero(np.bincount(lengths))
        table = np.zeros(top + 1, np.uint32)
        table[distinct] = [compute(int(x)) for x in distinct]
        return table[lengths]
    codes, distinct = pd.factorize(lengths)
    return np.array([compute(int(x)) for x in distinct], np.uint32)[codes]


# --------------------------------------------------------------------------- framing
@dataclass
class Framing:
    """Where the records are: data offsets and lengths (CRC-checked headers), plus damage found."""

    starts: np.ndarray  # offset of each record's data
    lengths: np.ndarray
    skipped_regions: list[tuple[int, int]] = field(default_factory=list)  # [start, end) byte ranges
    truncated_tail: tuple[int, int] | None = None  # (offset, bytes) of an incomplete last record


def _length_crc(length: int) -> int:
    return masked_crc32c(struct.pack("<Q", length))


def _speculative_chain(u8: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Records tiling the file from offset 0, found without a per-record Python loop.

    Returns header offsets, lengths, and the offset where the vouched-for prefix ends.
    """
    n = len(u8)
    empty = np.zeros(0, np.int64)
    if n < FRAME_BYTES + 1:
        return empty, empty, 0
    found_at, found_len, found_crc = [], [], []
    for lo in range(HEADER_BYTES, n - FOOTER_BYTES, _SCAN_CHUNK):
        # Chunk by chunk, so the temporaries stay a few MB whatever the file size.
        chunk = u8[lo : min(lo + _SCAN_CHUNK, n - FOOTER_BYTES)]
        at = np.flatnonzero(chunk == _EVENT_WALL_TIME) + (lo - HEADER_BYTES)
        headers = _rows(u8, at, HEADER_BYTES)
        length = headers[:, :8].copy().view("<u8").ravel()
        small = length < MAX_RECORD_BYTES
        found_at.append(at[small])
        found_len.append(length[small].astype(np.int64))
        found_crc.append(headers[small, 8:12].copy().view("<u4").ravel())
        del at, headers, length, small
    cands, lengths, stored_crc = np.concatenate(found_at), np.concatenate(found_len), np.concatenate(found_crc)
    del found_at, found_len, found_crc
    if len(cands) == 0 or cands[0] != 0:
        return empty, empty, 0
    ends = cands + FRAME_BYTES + lengths
    # A candidate is a record start if it is offset 0 or where another candidate ends; this drops
    # the stray 0x09 bytes inside records.
    if not (cands[1:] == ends[:-1]).all():  # some stray candidates (a healthy file usually has none)
        reached = np.zeros(len(cands), bool)
        reached[0] = True
        hit = np.minimum(np.searchsorted(cands, ends), len(cands) - 1)
        reached[hit[cands[hit] == ends]] = True
        cands, lengths, ends, stored_crc = cands[reached], lengths[reached], ends[reached], stored_crc[reached]
    breaks = np.flatnonzero(cands[1:] != ends[:-1])
    count = int(breaks[0]) + 1 if len(breaks) else len(cands)
    cands, lengths, ends, stored_crc = cands[:count], lengths[:count], ends[:count], stored_crc[:count]
    bad = np.flatnonzero((ends > n) | (_per_length(lengths, _length_crc) != stored_crc))
    if len(bad):
        count = int(bad[0])
    if count == 0:
        return empty, empty, 0
    return cands[:count], lengths[:count], int(ends[count - 1])


def _header_at(buf: bytes | memoryview, off: int) -> int | None:
    """The record length at ``off`` if a full header with a valid length CRC is there."""
    if off + HEADER_BYTES > len(buf):
        return None
    length, crc = struct.unpack_from("<QI", buf, off)
    if length >= MAX_RECORD_BYTES or _length_crc(length) != crc:
        return None
    return length


def _resync(buf: bytes | memoryview, off: int) -> int:
    """The first offset after ``off`` whose length header has a valid CRC (len(buf) if none).

    Only offsets whose four high length bytes are zero are tried (records are < 2 GiB), so the
    CRC is computed for a small fraction of positions.
    """
    n = len(buf)
    if n < 8:
        return n
    high_words = np.ndarray(shape=(n - 7,), dtype="<u4", buffer=buf, offset=4, strides=(1,))
    lo = off + 1
    while lo + HEADER_BYTES <= n:
        hi = min(n - HEADER_BYTES + 1, lo + _SCAN_CHUNK)
        for rel in np.flatnonzero(high_words[lo:hi] == 0).tolist():
            if _header_at(buf, lo + rel) is not None:
                return lo + rel
        lo = hi
    return n


def frame_records(buf: bytes | memoryview) -> Framing:
    """Locate every record with a valid length header; note damaged and truncated parts."""
    u8 = _bytes_view(buf)
    n = len(u8)
    offsets, lengths, pos = _speculative_chain(u8)
    found_off: list[np.ndarray] = [offsets]
    found_len: list[np.ndarray] = [lengths]
    walked_off: list[int] = []
    walked_len: list[int] = []
    skipped: list[tuple[int, int]] = []
    truncated: tuple[int, int] | None = None
    # Walk whatever the speculation could not vouch for, one record at a time.
    while pos < n:
        if n - pos < HEADER_BYTES:
            truncated = (pos, n - pos)
            break
        length = _header_at(buf, pos)
        if length is None:
            nxt = _resync(buf, pos)
            skipped.append((pos, nxt))
            pos = nxt
            # Back on a valid record after damage: speculate again from here, so one bad
            # record in the middle of a big file does not cost a record-by-record walk.
            more_off, more_len, more_end = _speculative_chain(u8[pos:])
            if len(more_off):
                found_off.append(np.asarray(walked_off, np.int64))
                found_len.append(np.asarray(walked_len, np.int64))
                walked_off, walked_len = [], []
                found_off.append(more_off + pos)
                found_len.append(more_len)
                pos += more_end
            continue
        end = pos + FRAME_BYTES + length
        if end > n:
            # A valid header whose record runs past the end: the writer had not finished it.
            truncated = (pos, n - pos)
            break
        walked_off.append(pos)
        walked_len.append(length)
        pos = end
    found_off.append(np.asarray(walked_off, np.int64))
    found_len.append(np.asarray(walked_len, np.int64))
    offsets, lengths = np.concatenate(found_off), np.concatenate(found_len)
    offsets += HEADER_BYTES  # in place: the data starts
    return Framing(offsets, lengths, skipped, truncated)


# --------------------------------------------------------------------------- data CRCs
def _unmask(masked: np.ndarray) -> np.ndarray:
    """Inverse of TFRecord's CRC mask (rotate right 15, add 0xa282ead8)."""
    rot = (masked.astype(np.uint64) - 0xA282EAD8) & 0xFFFFFFFF
    return (((rot >> 17) | (rot << 15)) & 0xFFFFFFFF).astype(np.uint32)


# crc32c(data + LE32(crc32c(data, v)), v) is this constant for any data and start value v: the
# CRC "residue" (Koopman; any CRC with a final XOR has one). The batched check below rests on it.
_CRC32C_RESIDUE = 0x48674BC7


def _crc_one_by_one(buf: bytes | memoryview, starts: np.ndarray, lengths: np.ndarray, stored: np.ndarray) -> np.ndarray:
    import crc32c

    mv = memoryview(buf)
    crc = crc32c.crc32c
    computed = np.fromiter(
        (crc(mv[s : s + n]) for s, n in zip(starts.tolist(), lengths.tolist())), dtype=np.uint32, count=len(starts)
    )
    return computed == stored


def _continuation_offset(length: int) -> int:
    """What starting a record's data CRC mid-stream adds to it (see :func:`verify_data_crcs`).

    The running CRC is at the residue after the previous record's patched footer; this
    record's header moves it to ``after_header``, and CRC-32C is affine in its start value:
    ``crc(D, v) = crc(D, 0) ^ crc(0^n, v) ^ crc(0^n, 0)``.
    """
    import crc32c

    header = struct.pack("<QI", length, _length_crc(length))
    after_header = crc32c.crc32c(header, _CRC32C_RESIDUE)
    zeros = bytes(length)
    return crc32c.crc32c(zeros, after_header) ^ crc32c.crc32c(zeros, 0)


def verify_data_crcs(buf: bytes | memoryview, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Boolean mask: which records' data match their stored masked CRC-32C.

    Calling ``crc32c`` once per record costs ~0.3 s per million records in Python overhead
    alone, so runs of adjacent records are checked with one ``crc32c`` call per ~8 MB: copy
    the run, replace each record's stored CRC (after unmasking) by the value that makes the
    running CRC fall back to the CRC residue if and only if that record's data is intact, and
    compare the CRC of the whole run with the residue. A run that does not match (some record
    is corrupt) is re-checked record by record, so the result is exactly per-record.
    """
    import crc32c

    u8 = _bytes_view(buf)
    n_records = len(starts)
    ok = np.zeros(n_records, bool)
    offsets_by_length: dict[int, int] = {}

    def continuation(length: int) -> int:
        if length not in offsets_by_length:
            offsets_by_length[length] = _continuation_offset(length)
        return offsets_by_length[length]

    first = 0
    while first < n_records:
        # A run: adjacent records (no skipped bytes between them) spanning about _CRC_CHUNK bytes.
        last = max(first + 1, min(int(np.searchsorted(starts, starts[first] + _CRC_CHUNK)), n_records))
        run_starts, run_lengths = starts[first:last], lengths[first:last]
        footers = run_starts + run_lengths
        gaps = np.flatnonzero(run_starts[1:] != footers[:-1] + FRAME_BYTES)
        if len(gaps):
            last = first + int(gaps[0]) + 1
            run_starts, run_lengths, footers = run_starts[: last - first], run_lengths[: last - first], footers[: last - first]
        stored = _unmask(_read_at(u8, footers, "<u4"))
        expected = stored ^ _per_length(run_lengths, continuation)
        expected[0] = stored[0]  # the run's first record starts from a fresh CRC
        base = int(run_starts[0])
        block = u8[base : int(footers[-1]) + FOOTER_BYTES].copy()
        patchable = np.ndarray(shape=(len(block) - 3,), dtype="<u4", buffer=block, strides=(1,))
        patchable[footers - base] = expected
        if crc32c.crc32c(block) == _CRC32C_RESIDUE:
            ok[first:last] = True
        else:
            ok[first:last] = _crc_one_by_one(buf, run_starts, run_lengths, stored)
        first = last
    return ok


# --------------------------------------------------------------------------- fast decoding
@dataclass(frozen=True)
class _Tail:
    """How a one-scalar ``Summary.Value`` ends after its tag: fixed bytes, then the value."""

    size: int
    checks: tuple[tuple[int, tuple[int, ...]], ...]  # (offset in the tail, allowed byte values)
    value_offset: int
    dtype: str
    is_tensor: bool


def _tensor_tail(shape: bool, dtype_code: int, value_fields: tuple[int, int], width: int) -> _Tail:
    body = [(0, (_TENSOR_DTYPE,)), (1, (dtype_code,))]
    if shape:
        body += [(2, (_TENSOR_SHAPE,)), (3, (0,))]
    body += [(len(body), value_fields), (len(body) + 1, (width,))]
    size = len(body) + width
    checks = ((0, (_VALUE_TENSOR,)), (1, (size,))) + tuple((off + 2, allowed) for off, allowed in body)
    return _Tail(size + 2, checks, size + 2 - width, "<f4" if width == 4 else "<f8", True)


_TAILS = (
    _Tail(5, ((0, (_VALUE_SIMPLE,)),), 1, "<f4", False),  # simple_value
    # TF2 rank-0 float/double tensors, shape written (12 00) or not, value in tensor_content or *_val.
    _tensor_tail(True, _DT_FLOAT, (_TENSOR_CONTENT, _TENSOR_FLOAT_VAL), 4),
    _tensor_tail(False, _DT_FLOAT, (_TENSOR_CONTENT, _TENSOR_FLOAT_VAL), 4),
    _tensor_tail(True, _DT_DOUBLE, (_TENSOR_CONTENT, _TENSOR_DOUBLE_VAL), 8),
    _tensor_tail(False, _DT_DOUBLE, (_TENSOR_CONTENT, _TENSOR_DOUBLE_VAL), 8),
)

_HEAD_BYTES = 20  # 09 <f64 wall_time> 10 <step varint, up to 10 bytes>
_DECODE_CHUNK_RECORDS = 1 << 17  # bounded temporaries (~8 MB), still few layout groups
_MANY_GROUPS = 2048  # beyond this many layouts in a chunk, groups smaller than
_MIN_GROUP_RECORDS = 4  # this are cheaper through the protos


def _column_value(rows: np.ndarray, offset: int, dtype: str) -> np.ndarray:
    """The ``dtype`` value at byte ``offset`` of every row, as a strided view when possible."""
    width = np.dtype(dtype).itemsize
    if rows.flags.c_contiguous and rows.ndim == 2:
        return np.ndarray(shape=(rows.shape[0],), dtype=dtype, buffer=rows, offset=offset, strides=(rows.shape[1],))
    return np.ascontiguousarray(rows[:, offset : offset + width]).view(dtype).ravel()


def _factorize_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact codes for equal rows: (codes, first row of each code, verified mask).

    Rows are compared as 8-byte words: one word is the key itself; longer rows are hashed,
    then every row is checked against its group's first row, so a collision never merges two
    different tags (the unverified rows are left to the protos).
    """
    m, width = matrix.shape
    n_words = (width + 7) // 8
    padded = np.zeros((m, n_words * 8), np.uint8)
    padded[:, :width] = matrix
    words = padded.view("<u8")
    keys = words[:, 0].copy()
    for k in range(1, n_words):
        keys = (keys * np.uint64(0x9E3779B97F4A7C15)) ^ words[:, k]
        keys ^= keys >> np.uint64(31)
    codes, uniques = pd.factorize(keys)
    first = np.zeros(len(uniques), np.int64)
    first[codes[::-1]] = np.arange(m - 1, -1, -1)  # the last write (smallest index) wins
    verified = np.ones(m, bool)
    if n_words > 1:
        reference = words[first[codes]]
        for k in range(n_words):
            verified &= words[:, k] == reference[:, k]
    return codes.astype(np.int64), first, verified


@dataclass
class _Decoded:
    """Per-record outputs of the fast path (full length; ``handled`` says which are filled)."""

    wall_time: np.ndarray
    step: np.ndarray
    value: np.ndarray
    tag_code: np.ndarray  # into tag_bytes
    is_tensor: np.ndarray
    handled: np.ndarray
    tag_bytes: list[bytes]

    @classmethod
    def empty(cls, n: int) -> "_Decoded":
        return cls(np.empty(n), np.empty(n, np.int64), np.empty(n), np.zeros(n, np.int32), np.zeros(n, bool), np.zeros(n, bool), [])


def _decode_fixed_layout(buf: bytes | memoryview, starts: np.ndarray, lengths: np.ndarray) -> _Decoded:
    """Decode the records that have one of the fixed one-scalar layouts, without a per-record loop.

    Records are grouped by (length, step varint size): inside a group every field sits at the
    same offset, so decoding is column slicing of a (records x length) byte matrix. Each group
    is checked byte for byte against the layout (field tags, nested lengths, tail); records
    that do not match are left to the protos.
    """
    u8 = _bytes_view(buf)
    cols = _Decoded.empty(len(starts))
    tag_index: dict[bytes, int] = {}
    for lo in range(0, len(starts), _DECODE_CHUNK_RECORDS):
        chunk = np.arange(lo, min(lo + _DECODE_CHUNK_RECORDS, len(starts)))
        chunk = chunk[lengths[chunk] >= _HEAD_BYTES]
        if len(chunk) == 0:
            continue
        head = _rows(u8, starts[chunk], _HEAD_BYTES)
        # The step varint's size: its first byte without the continuation bit, found with bit
        # tricks on the 8 bytes after the step tag (steps >= 2**56 are left to the protos).
        step_word = _column_value(head, 10, "<u8")
        stops = ~step_word & np.uint64(0x8080808080808080)
        lowest = stops & (~stops + np.uint64(1))
        step_bytes = np.log2(np.maximum(lowest, np.uint64(1)).astype(np.float64)).astype(np.int64) // 8 + 1
        has_step = head[:, 9] == _EVENT_STEP
        ok = (head[:, 0] == _EVENT_WALL_TIME) & ((stops != 0) | ~has_step)
        summary_at = np.where(has_step, 10 + step_bytes, 9)
        chunk, summary_at = chunk[ok], summary_at[ok]
        keys = lengths[chunk] * 32 + summary_at
        group_codes, group_keys = pd.factorize(keys)
        # Few groups: a stable sort of small ints is a radix sort.
        order = np.argsort(group_codes.astype(np.int16) if len(group_keys) < 2**15 else group_codes, kind="stable")
        bounds = np.cumsum(np.bincount(group_codes, minlength=len(group_keys)))
        # Per-group overhead is ~0.1 ms: with very many layouts, tiny groups go to the protos.
        min_group = 1 if len(group_keys) <= _MANY_GROUPS else _MIN_GROUP_RECORDS
        for g, key in enumerate(group_keys.tolist()):
            members = chunk[order[(bounds[g - 1] if g else 0) : bounds[g]]]
            if len(members) >= min_group:
                _decode_group(u8, starts[members], members, int(key) // 32, int(key) % 32, cols, tag_index)
    cols.tag_bytes = list(tag_index)
    return cols


def _decode_group(
    u8: np.ndarray,
    group_starts: np.ndarray,
    members: np.ndarray,
    length: int,
    summary_at: int,
    cols: _Decoded,
    tag_index: dict[bytes, int],
) -> None:
    """Decode one (length, step size) group into ``cols`` at the members' record indexes."""
    rows = _rows(u8, group_starts, length)
    summary_len, value_len = length - summary_at - 2, length - summary_at - 4
    if summary_len >= 0x80:  # multi-byte length varints: rare, the protos handle them
        return
    prefix = int.from_bytes(bytes([_EVENT_SUMMARY, summary_len, _SUMMARY_VALUE, value_len, _VALUE_TAG]), "little")
    prefix_ok = _column_value(rows, summary_at, "<u4") == np.uint32(prefix & 0xFFFFFFFF)
    prefix_ok &= rows[:, summary_at + 4] == _VALUE_TAG
    tag_at = summary_at + 6
    for tail in _TAILS:
        tag_len = length - tag_at - tail.size
        if tag_len < 1:
            continue
        ok = prefix_ok & (rows[:, summary_at + 5] == tag_len)
        for offset, allowed in tail.checks:
            column = rows[:, tag_at + tag_len + offset]
            ok &= (column == allowed[0]) if len(allowed) == 1 else ((column == allowed[0]) | (column == allowed[1]))
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        sub = rows[idx] if len(idx) < len(rows) else rows
        codes, first, verified = _factorize_rows(sub[:, tag_at : tag_at + tag_len])
        local = np.array(
            [tag_index.setdefault(sub[i, tag_at : tag_at + tag_len].tobytes(), len(tag_index)) for i in first.tolist()], np.int32
        )
        if not verified.all():  # a hash collision: leave those records to the protos
            idx, sub, codes = idx[verified], sub[verified], codes[verified]
        target = members[idx]
        cols.wall_time[target] = _column_value(sub, 1, "<f8")
        step = np.zeros(len(sub), np.uint64)
        for k in range(summary_at - 10):  # base-128 varint; negative steps are two's complement
            step |= (sub[:, 10 + k] & np.uint64(0x7F)) << np.uint64(7 * k)
        cols.step[target] = step.view(np.int64)
        cols.value[target] = _column_value(sub, tag_at + tag_len + tail.value_offset, tail.dtype)
        cols.tag_code[target] = local[codes]
        cols.is_tensor[target] = tail.is_tensor
        cols.handled[target] = True
        prefix_ok &= ~ok  # a record matches one tail at most
        if not prefix_ok.any():
            break


# --------------------------------------------------------------------------- proto fallback
@dataclass
class _ProtoPoints:
    record: list[int] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    is_tensor: list[bool] = field(default_factory=list)
    plugin_of_tag: dict[str, str] = field(default_factory=dict)  # first metadata seen per tag
    skipped: Counter = field(default_factory=Counter)
    unparsable: int = 0


# Summary.Value oneof field -> how the skip note names it.
_SKIPPED_KIND = {
    "histo": "histogram",
    "image": "image",
    "audio": "audio",
    "obsolete_old_style_histogram": "histogram",
}
_SKIPPED_PLUGIN = {
    "histograms": "histogram",
    "images": "image",
    "audio": "audio",
    "text": "text",
    "pr_curves": "PR curve",
    "": "tensor without plugin metadata",
}


def _tensor_scalar(tensor) -> float | None:  # noqa: ANN001 - a TensorProto
    """The single value of a one-element numeric tensor, as TensorBoard's tensor_util reads it."""
    from tensorboard.util import tensor_util

    if tensor.dtype == _DT_BFLOAT16:
        return _bfloat16_scalar(tensor)
    try:
        array = tensor_util.make_ndarray(tensor)
    except Exception:  # unknown dtype or malformed content: not a scalar we can read
        return None
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None
    return float(array.reshape(-1)[0])


def _bfloat16_scalar(tensor) -> float | None:  # noqa: ANN001 - a TensorProto
    """bfloat16 is the top half of a float32 (tensorboard's make_ndarray cannot read it)."""
    if not all(d.size == 1 for d in tensor.tensor_shape.dim):
        return None
    if tensor.tensor_content:
        if len(tensor.tensor_content) != 2:
            return None
        bits = int.from_bytes(tensor.tensor_content, "little")
    elif len(tensor.half_val) == 1:
        bits = tensor.half_val[0] & 0xFFFF
    else:
        return None
    return float(np.array([bits << 16], np.uint32).view(np.float32)[0])


def _decode_with_protos(buf: bytes | memoryview, starts: np.ndarray, lengths: np.ndarray, records: np.ndarray) -> _ProtoPoints:
    """Parse the given records with tensorboard's Event proto, exactly as EventAccumulator does."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    out = _ProtoPoints()
    mv = memoryview(buf)
    for rec in records.tolist():
        s, n = int(starts[rec]), int(lengths[rec])
        try:
            event = event_pb2.Event.FromString(bytes(mv[s : s + n]))
        except DecodeError:
            out.unparsable += 1
            continue
        which = event.WhichOneof("what")
        if which in ("graph_def", "meta_graph_def"):
            out.skipped["graph"] += 1
            continue
        if which == "tagged_run_metadata":
            out.skipped["run metadata"] += 1
            continue
        if which != "summary":
            continue  # file_version, session_log, log_message: bookkeeping, not data
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            tag = value.tag
            if kind == "tensor" and not tag:
                tag = value.node_name  # EventAccumulator's fallback for old-style tensor summaries
            if value.HasField("metadata") and tag not in out.plugin_of_tag:
                out.plugin_of_tag[tag] = value.metadata.plugin_data.plugin_name
            if kind == "simple_value":
                scalar: float | None = value.simple_value
            elif kind == "tensor":
                scalar = _tensor_scalar(value.tensor)
                if scalar is None:
                    plugin = out.plugin_of_tag.get(tag, "")
                    out.skipped[_SKIPPED_PLUGIN.get(plugin, "non-scalar tensor")] += 1
                    continue
            else:
                out.skipped[_SKIPPED_KIND.get(kind or "", "empty summary value")] += 1
                continue
            out.record.append(rec)
            out.wall_time.append(event.wall_time)
            out.step.append(event.step)
            out.value.append(scalar)
            out.tag.append(tag)
            out.is_tensor.append(kind == "tensor")
    return out


# --------------------------------------------------------------------------- the reader
_PLURALS = {
    "tensor without plugin metadata": "tensors without plugin metadata",
    "run metadata": "run metadata",
    "audio": "audio clips",
    "empty summary value": "empty summary values",
}


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun if count == 1 else _PLURALS.get(noun, noun + 's')}"


def _decode_tag(raw: bytes, bad_utf8: list[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        name = raw.decode("utf-8", errors="replace")
        bad_utf8.append(name)
        return name


def read(source: Source, run_name: str) -> LoadResult:
    """Read every scalar point of one event file into one :class:`Run` (see module docstring).

    Returns a run even when the file holds no scalars (its notes say what it held instead);
    returns a :class:`ReadError` only when nothing at all could be read.
    """
    try:
        return _read(source, run_name)
    except MemoryError:
        return LoadResult(errors=[ReadError(source.display, "out of memory while reading this event file")])
    except OSError as exc:
        return LoadResult(errors=[ReadError(source.display, f"cannot read file: {exc.strerror or exc}")])
    except Exception as exc:  # a bug here must not cost the user the other files: report it as this file's error
        return LoadResult(errors=[ReadError(source.display, f"could not read event file ({type(exc).__name__}: {exc})")])


def _read(source: Source, run_name: str) -> LoadResult:
    with source.buffer() as buf:
        size = len(buf)
        if size == 0:
            return LoadResult(errors=[ReadError(source.display, "empty event file")])
        framing = frame_records(buf)
        starts, lengths = framing.starts, framing.lengths
        framing.starts = framing.lengths = np.zeros(0, np.int64)  # only the damage report is kept
        if len(starts) == 0:
            return LoadResult(errors=[ReadError(source.display, _nothing_readable(framing, size))])
        crc_ok = verify_data_crcs(buf, starts, lengths)
        bad_crc_offsets = (starts[~crc_ok] - HEADER_BYTES).tolist()
        if bad_crc_offsets:
            starts, lengths = starts[crc_ok], lengths[crc_ok]
        del crc_ok
        fast = _decode_fixed_layout(buf, starts, lengths)
        slow = _decode_with_protos(buf, starts, lengths, np.flatnonzero(~fast.handled))
        del starts, lengths
    notes = _damage_notes(source, framing, bad_crc_offsets, slow.unparsable)
    return LoadResult(runs=[_assemble(source, run_name, fast, slow, notes)])


def _nothing_readable(framing: Framing, size: int) -> str:
    if framing.truncated_tail is not None and framing.truncated_tail[0] == 0:
        return f"event file holds only an incomplete first record ({size:,} bytes)"
    return f"not a TensorBoard event file: no valid TFRecord found in {size:,} bytes"


def _assemble(source: Source, run_name: str, fast: _Decoded, slow: _ProtoPoints, damage_notes: list[str]) -> Run:
    notes: list[str] = []
    bad_utf8: list[str] = []
    names: list[str] = []
    index_of: dict[str, int] = {}

    def code_for(name: str) -> int:
        if name not in index_of:
            index_of[name] = len(names)
            names.append(name)
        return index_of[name]

    fast_map = np.array([code_for(_decode_tag(raw, bad_utf8)) for raw in fast.tag_bytes] or [0], dtype=np.int32)
    fast_codes = fast_map[fast.tag_code]  # unhandled records hold code 0: masked out below
    fast.tag_code = np.zeros(0, np.int32)
    slow_codes = np.array([code_for(t) for t in slow.tag], dtype=np.int32)

    # A tensor is a scalar point only if its tag's (first) metadata names the scalars plugin.
    tensor_plugin = [slow.plugin_of_tag.get(name, "") for name in names]
    scalar_tag = np.array([p == SCALARS_PLUGIN for p in tensor_plugin] or [False], dtype=bool)
    keep_fast = fast.handled & (~fast.is_tensor | scalar_tag[fast_codes])
    slow_tensor = np.asarray(slow.is_tensor, bool)
    keep_slow = ~slow_tensor | scalar_tag[slow_codes] if len(slow_codes) else np.zeros(0, bool)
    skipped = Counter(slow.skipped)
    for codes, dropped_mask in ((fast_codes, fast.handled & ~keep_fast), (slow_codes, ~keep_slow)):
        dropped = np.bincount(codes[dropped_mask], minlength=len(names))
        for code in np.flatnonzero(dropped).tolist():
            skipped[_SKIPPED_PLUGIN.get(tensor_plugin[code], "non-scalar tensor")] += int(dropped[code])

    # Write order: the two paths read disjoint records, each in record order, and the protos'
    # points of one record are in value order; so the protos' points are inserted by record.
    at = None
    if keep_slow.any():
        kept_before = np.concatenate([[0], np.cumsum(keep_fast)])
        at = kept_before[np.asarray(slow.record, np.int64)[keep_slow]]
    slow_cols = {
        "tag": slow_codes,
        "step": np.asarray(slow.step, np.int64),
        "value": np.asarray(slow.value, np.float64),
        "wall_time": np.asarray(slow.wall_time, np.float64),
    }
    columns = {}
    for name in ("tag", "step", "value", "wall_time"):
        # One column at a time, releasing the per-record array as we go: bounded peak memory.
        if name == "tag":
            full, fast_codes = fast_codes, None
        else:
            attr = "wall_time" if name == "wall_time" else name
            full = getattr(fast, attr)
            setattr(fast, attr, None)
        column = full[keep_fast]
        del full
        if at is not None:
            column = np.insert(column, at, slow_cols[name][keep_slow])
        columns[name] = column
    tag_codes, steps, values, walls = columns["tag"], columns["step"], columns["value"], columns["wall_time"]
    del columns

    # Tags with no point left (e.g. only histograms) are dropped from the categories.
    used = np.flatnonzero(np.bincount(tag_codes, minlength=len(names)))
    tag_names = [names[i] for i in used.tolist()]
    if len(used) < len(names):
        remap = np.full(len(names), -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        tag_codes = remap[tag_codes]

    if skipped:
        parts = ", ".join(_plural(c, kind) for kind, c in sorted(skipped.items()))
        prefix = "No scalar values in this file; it holds " if len(values) == 0 else "Skipped non-scalar data: "
        notes.append(f"{prefix}{parts}.")
    elif len(values) == 0:
        notes.append("No scalar values in this file (only file bookkeeping events).")
    if bad_utf8:
        shown = ", ".join(map(repr, bad_utf8[:5]))
        notes.append(f"{_plural(len(bad_utf8), 'tag')} not valid UTF-8, decoded with replacement characters: {shown}")
    notes.extend(damage_notes)
    # What Run.from_arrays builds, without copying the columns (they are ours alone): at 1M+
    # points the copy would be the read's memory peak.
    frame = pd.DataFrame(
        {
            "tag": pd.Categorical.from_codes(tag_codes, categories=pd.Index(tag_names, dtype=object)),
            "step": steps,
            "value": values,
            "wall_time": walls,
        },
        copy=False,
    )
    return Run(name=run_name, scalars=frame, sources=[source.display], notes=notes)


def _damage_notes(source: Source, framing: Framing, bad_crc_offsets: list[int], unparsable: int) -> list[str]:
    notes = []
    if framing.skipped_regions:
        total = sum(end - start for start, end in framing.skipped_regions)
        where = ", ".join(f"{start:,}-{end:,}" for start, end in framing.skipped_regions[:5])
        more = "" if len(framing.skipped_regions) <= 5 else f" and {len(framing.skipped_regions) - 5} more"
        notes.append(
            f"{source.display}: skipped {total:,} unreadable bytes (bad record headers) at byte offsets {where}{more}; "
            "reading resumed at the next valid record."
        )
    if bad_crc_offsets:
        offs = ", ".join(f"{o:,}" for o in bad_crc_offsets[:5])
        more = "" if len(bad_crc_offsets) <= 5 else f" and {len(bad_crc_offsets) - 5} more"
        notes.append(
            f"{source.display}: skipped {_plural(len(bad_crc_offsets), 'record')} whose data CRC does not match "
            f"(at byte offsets {offs}{more})."
        )
    if unparsable:
        notes.append(f"{source.display}: skipped {_plural(unparsable, 'record')} with a valid CRC that is not an Event proto.")
    if framing.truncated_tail is not None:
        offset, count = framing.truncated_tail
        notes.append(
            f"{source.display}: last record incomplete ({count:,} bytes at offset {offset:,}); the file may still be "
            "being written. Everything before it was read."
        )
    return notes
