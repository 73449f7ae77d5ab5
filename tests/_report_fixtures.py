"""Reports built from constructed findings, for the renderer and dashboard tests."""

from __future__ import annotations

import numpy as np

from analyzers.api import Report
from analyzers.findings import Finding
from analyzers.model import ReadError
from analyzers.rules import Analysis
from analyzers.synthetic import make_run

HOSTILE_TAG = "<img src=x onerror=alert(1)>"
HOSTILE_RUN = "**bold**|pipe"
SCRIPT_TAG = "</script><script>alert(2)</script>"


def kl_blowup_finding(tag: str = "objective/kl") -> Finding:
    return Finding(
        code="KL001", kind="kl_blowup", severity="critical", title="KL to the reference model runs away",
        summary=f"KL ({tag}) rose from 0.5 to 40 between steps 300 and 399",
        onset_step=300, peak_step=399, end_step=None, metrics=[tag], confidence=0.85,
        explanation="The policy left the region the reward model was trained on.",
        actions=["Raise the KL coefficient", "Lower the learning rate"],
        references=["Ziegler et al. 2019, arXiv:1909.08593"],
    )


def hostile_report() -> Report:
    n = 400
    kl = np.r_[np.full(300, 0.5), np.linspace(0.5, 40, 100)]
    run = make_run({HOSTILE_TAG: kl, SCRIPT_TAG: np.ones(n), "objective/kl_coef": np.full(n, 0.2)},
                   name=HOSTILE_RUN, framework="trl", metrics={"kl.ref": HOSTILE_TAG, "kl.coef": "objective/kl_coef"},
                   resolve_aliases=False)
    run.notes.append(f"note about {HOSTILE_TAG}")
    healthy = make_run({"objective/kl": np.full(n, 0.5)}, name="healthy", resolve_aliases=False)
    return Report(
        analyses=[Analysis(run=healthy), Analysis(run=run, findings=[kl_blowup_finding(HOSTILE_TAG)],
                                                  skipped=[{"rule": "ADV001", "reason": "needs adv.std; none found"}])],
        errors=[ReadError(f"{HOSTILE_TAG}.csv", "not a CSV file")],
    )
