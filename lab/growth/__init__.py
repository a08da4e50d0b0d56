"""Growth studies: how far the target goes (capacity) and how its cost grows (scaling).

This package holds what their writers and readers share: the documents'
file names, a capacity step's outcome read off its run folder, the knee and
headline of a search, and the log-log fits of the cost curves.
"""

CAPACITY_FILE = "capacity.json"   # `lab capacity`: the search, every step, the capacities
SCALING_FILE = "scaling.json"     # `lab scaling`: every cost curve and its fit
GRAPH_FILE = "graph.json"         # `lab seed`: the seeded graph beside a published one
