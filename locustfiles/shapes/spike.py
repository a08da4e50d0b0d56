"""The spike load shape: add to any scenario, e.g.
`locust -f locustfiles/mixed.py,locustfiles/shapes/spike.py` or `lab run --shape spike`."""

from lab.swarm.shapes import Spike


class SpikeShape(Spike):
    """Concrete, so Locust picks it up (the base classes are abstract)."""
