"""The Streamlit front end of rlhf-triage: `streamlit run dashboard/app.py`.

It only lays out and renders: reading, metric resolution, rules and report rendering all come
from the ``analyzers`` package, the same calls the CLI makes.
"""
