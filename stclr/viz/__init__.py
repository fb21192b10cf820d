"""Figures for the course notebooks: each function takes data (tensors, plans, metrics) and returns a matplotlib Figure."""
