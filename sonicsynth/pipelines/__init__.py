"""Inference chains shared by infer.py, eval and any UI."""
