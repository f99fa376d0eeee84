"""Evaluation metrics, one module per metric, so each protocol stays readable on its own."""
