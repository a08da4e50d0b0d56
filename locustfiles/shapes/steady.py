"""The steady load shape: add to any scenario, e.g.
`locust -f locustfiles/mixed.py,locustfiles/shapes/steady.py` or `lab run --shape steady`."""

from lab.swarm.shapes import Steady


class SteadyShape(Steady):
    """Concrete, so Locust picks it up (the base classes are abstract)."""
