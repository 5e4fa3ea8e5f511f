"""Evaluation metrics, each documenting its sample rate, range and whether it needs a reference."""
