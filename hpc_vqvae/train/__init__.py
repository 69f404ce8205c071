"""The training stage: configuration, engine-agnostic loss steps (DeepSpeed engines next)."""
