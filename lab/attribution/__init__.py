"""Where the time goes: a run's latency decomposed, its database load by wait event, its
worst seconds with what coincided, and the causes the evidence points at.

Pure functions over a run's tables (requests, server seconds, session samples,
stalls, events): the pipeline computes the attribution once for summary.json,
and the report draws its charts from the same tables, with no database.
"""
