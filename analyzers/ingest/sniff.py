"""Detect a log file's format from its first bytes; the file name is only a tie-breaker.

An uploaded event file may be called ``upload.bin``, a CSV ``export (3).txt``: content decides.
"""

from __future__ import annotations

import json
import struct

import crc32c

TFEVENTS = "tfevents"
ZIP = "zip"
TRAINER_STATE = "trainer_state"
JSONL = "jsonl"
JSON = "json"
CSV = "csv"
TSV = "tsv"

_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C (tensorflow/core/lib/hash/crc32c.h)."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def looks_like_tfrecord(head: bytes) -> bool:
    """A TFRecord starts with a uint64 length whose masked CRC follows it."""
    if len(head) < 12:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    (crc,) = struct.unpack("<I", head[8:12])
    return length < (1 << 40) and crc == masked_crc32c(head[:8])


def detect_format(head: bytes, name: str = "") -> str | None:
    """Return one of the format constants above, or None when nothing fits."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return ZIP
    if looks_like_tfrecord(head):
        return TFEVENTS
    lowered = name.lower()
    if not head.strip():
        # Empty: let the name decide so the right reader reports "empty file".
        if "tfevents" in lowered:
            return TFEVENTS
        return None
    if b"\x00" in head[:1024]:
        return None  # binary, and not a format we know
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        first_line = text.split(b"\n", 1)[0].strip()
        try:
            obj = json.loads(first_line)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            if "log_history" in obj:
                return TRAINER_STATE
            return JSONL
        if b'"log_history"' in head or lowered.endswith("trainer_state.json"):
            return TRAINER_STATE
        return JSON
    if text.startswith(b"["):
        return JSON
    first_line = text.split(b"\n", 1)[0]
    if b"\t" in first_line:
        return TSV
    if b"," in first_line or lowered.endswith(".csv"):
        return CSV
    if lowered.endswith((".txt", ".tsv")):
        return TSV
    return None
