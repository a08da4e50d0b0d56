"""What runs inside Locust processes: the lab's users, their actions, recording, the live tab.

Only Locust processes import this package (through locustfiles/*.py):
importing locust patches the standard library for gevent, which the lab's
own processes must never see.

- recording.py  every request recorded exactly into the run folder (Parquet chunks)
- live_tab.py   the "Success criteria" tab of Locust's web UI
- user.py       LabUser: one checked request, and the ordinary personas' actions
- storm.py      the storm scenario's actions (everyone on a few hot rows)
- classes.py    one Locust user class per persona of scenarios.toml
- shapes.py     load shapes (ramp, steady, spike) as fractions of users and run time
"""
