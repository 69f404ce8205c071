"""The training stage: run config, distributed set-up, DeepSpeed engines, the loop, checkpoints,
MLflow tracking and validation. Entry point: ``python -m hpc_vqvae.train``."""
