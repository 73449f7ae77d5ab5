"""Base class for rules. (Skeleton: the rules issue fills in the statistics helpers.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..findings import Finding
from ..model import Run


@dataclass
class Rule:
    code: str
    name: str
    kind: str
    needs: Sequence[str] = ()
    preview: bool = False

    def missing(self, run: Run) -> str | None:
        """Why this rule cannot run on ``run`` (a sentence), or None when it can."""
        absent = [c for c in self.needs if run.metric(c) is None]
        if absent:
            return "needs " + ", ".join(absent) + "; none found"
        return None

    def check(self, run: Run) -> list[Finding]:
        raise NotImplementedError
