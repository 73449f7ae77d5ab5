"""Findings: what a rule concluded about a run, in the shape of the JSON contract."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}

# The fixed vocabulary of pathology kinds in the JSON contract (issue 3).
KINDS = (
    "kl_blowup",
    "negative_kl",
    "policy_step_too_large",
    "advantage_variance_spike",
    "value_failure",
    "entropy_collapse",
    "entropy_explosion",
    "reward_hacking",
    "length_exploitation",
    "reward_saturation",
    "zero_learning_signal",
    "non_finite",
    "gradient_spike",
    "lr_schedule",
    "train_inference_mismatch",
)


@dataclass
class Finding:
    code: str
    kind: str
    severity: str
    title: str
    summary: str
    onset_step: int | None
    peak_step: int | None = None
    end_step: int | None = None
    metrics: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.5
    explanation: str = ""
    actions: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    rule: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Critical first, then by onset step (unknown onset last)."""
    return sorted(
        findings,
        key=lambda f: (-SEVERITY_RANK[f.severity], f.onset_step if f.onset_step is not None else float("inf"), f.code),
    )


def worst_severity(findings: list[Finding]) -> str | None:
    if not findings:
        return None
    return max((f.severity for f in findings), key=SEVERITY_RANK.__getitem__)
