"""rlhf-triage analyzers: read PPO/RLHF training logs, find pathologies, explain them.

Nothing in this package imports Streamlit; the dashboard is a thin front end over it.
"""

from .api import Report, analyze_runs, load, load_uploads, triage
from .findings import Finding
from .model import LoadResult, MetricBinding, ReadError, Run
from .rules import Analysis, analyze

__all__ = [
    "Analysis",
    "Finding",
    "LoadResult",
    "MetricBinding",
    "ReadError",
    "Report",
    "Run",
    "analyze",
    "analyze_runs",
    "load",
    "load_uploads",
    "triage",
]
