"""timeline-lab: a load-testing and performance lab for a Twitter-like PostgreSQL backbone."""

__version__ = "0.2.0"
