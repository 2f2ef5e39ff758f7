"""Baseline reimplementations; importing this package registers them."""
