"""EXPLAIN plans: capture with representative parameters, walk the tree, find problems."""
