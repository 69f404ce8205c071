"""Scoring a model as the paper does: ``scans`` picks and reads what is scored, ``baselines``
are what the model must beat, ``run`` scores, ``report`` tells; ``python -m
hpc_vqvae.evaluate`` is the CLI."""
