"""Share by link: rendered reports stored in an embedded SQLite database under unguessable ids.

The dashboard saves the HTML report (and the JSON contract beside it) and puts the id in the
URL (``?report=<id>``); opening that URL loads the stored report read-only. Ids come from
:mod:`secrets` (128 random bits), so a link cannot be guessed from another one.

The database lives at ``$RLHF_TRIAGE_DB`` when set, else ``$XDG_DATA_HOME/rlhf-triage/reports.db``
(``~/.local/share/rlhf-triage/reports.db``).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import secrets
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path

DB_ENV = "RLHF_TRIAGE_DB"
# 16 random bytes = 128 bits, the size NIST SP 800-63B and OWASP ask of unguessable tokens.
ID_BYTES = 16
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # token_urlsafe(16) is 22 characters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    title TEXT NOT NULL,
    html BLOB NOT NULL,
    json BLOB NOT NULL
)
"""


def default_db_path() -> Path:
    """Where reports are stored: ``$RLHF_TRIAGE_DB``, else the user's data directory."""
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "rlhf-triage" / "reports.db"


def is_report_id(text: object) -> bool:
    """Whether ``text`` has the shape of an id this store hands out."""
    return isinstance(text, str) and bool(ID_PATTERN.match(text))


@dataclass(frozen=True)
class StoredReport:
    id: str
    created: str
    title: str
    html: str
    json: str


class ReportStore:
    """A SQLite file of rendered reports (compressed; an HTML report with plotly.js is ~5 MB)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute(_SCHEMA)
        return conn

    def save(self, html: str, json_text: str = "", title: str = "rlhf-triage report") -> str:
        """Store a rendered report; returns its new unguessable id."""
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        html_blob = zlib.compress(html.encode("utf-8"), 6)
        json_blob = zlib.compress(json_text.encode("utf-8"), 6)
        with self._connect() as conn:
            while True:  # a collision in 128 random bits will not happen, but never overwrite
                report_id = secrets.token_urlsafe(ID_BYTES)
                try:
                    conn.execute("INSERT INTO reports VALUES (?, ?, ?, ?, ?)", (report_id, created, title, html_blob, json_blob))
                    break
                except sqlite3.IntegrityError:
                    continue
        conn.close()
        return report_id

    def load(self, report_id: str) -> StoredReport | None:
        """The stored report, or None when the id is malformed or unknown."""
        if not is_report_id(report_id):
            return None
        if not self.path.exists():
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT id, created, title, html, json FROM reports WHERE id = ?", (report_id,)).fetchone()
        conn.close()
        if row is None:
            return None
        return StoredReport(row[0], row[1], row[2], zlib.decompress(row[3]).decode("utf-8"), zlib.decompress(row[4]).decode("utf-8"))


def save(html: str, json_text: str = "", title: str = "rlhf-triage report") -> str:
    """Store a report in the default database (see :func:`default_db_path`); returns its id."""
    return ReportStore().save(html, json_text, title)


def load(report_id: str) -> StoredReport | None:
    """Load a report from the default database; None when the id is malformed or unknown."""
    return ReportStore().load(report_id)
