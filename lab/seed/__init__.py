"""Deterministic synthetic social graph: generate with numpy, load with binary COPY."""
