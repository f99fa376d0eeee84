"""Scoring generated samples against real data: `evaluate` holds the `Evaluator`, `metrics` the
catalogue (one registered function per metric), `features` the feature spaces (one module
each), `run` the body of `gancli eval`, and one module per protocol its arithmetic
(`distribution`, `manifold`, `modes`, `memorization`, `conditional`, `translation`), so each
stays readable on its own."""
