"""The ramp load shape: add to any scenario, e.g.
`locust -f locustfiles/mixed.py,locustfiles/shapes/ramp.py` or `lab run --shape ramp`."""

from lab.swarm.shapes import Ramp


class RampShape(Ramp):
    """Concrete, so Locust picks it up (the base classes are abstract)."""
