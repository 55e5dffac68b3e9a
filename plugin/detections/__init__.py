"""Sigma detections for hf-audit records: the rule pack, the processing pipelines that map rule fields
to each sink's view of the record, a ClickHouse dialect, and the converter behind `hf-audit-rules`.

Needs the optional extra `rules` (pySigma and its backends); the rest of hf-audit does not import it.
"""
