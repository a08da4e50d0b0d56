"""One run, a straight line: prepare -> measure -> (SC4) -> collect -> judge -> write -> render.

`lab run` (headless.py) and every test stopped in `lab ui` (ui.py) go through
the same steps (steps.py). This layer sits above the measuring (lab.load,
lab.connections) and the reporting (lab.report): it is the only place that
joins them.
"""
