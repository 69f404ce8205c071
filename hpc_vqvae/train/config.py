"""The run configuration: one YAML file (configs/*.yaml) with sections data, model, loss,
optim and train, validated as a whole, overridable with dotted ``key=value`` pairs and logged
flat. A wrong key or value fails at start, naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..data.config import DataConfig
from ..errors import ConfigError, one_line
from ..model.config import LossConfig, ModelConfig


class OptimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_lr: float = Field(4.5e-6, gt=0.0)  # per sample: lr = base_lr * batch * accum * world
    betas: tuple[float, float] = (0.5, 0.9)  # Adam betas
    weight_decay: float = Field(0.0, ge=0.0)  # AdamW weight decay
    disc_lr_scale: float = Field(1.0, gt=0.0)  # discriminator lr relative to the generator's
    schedule: Literal["constant", "cosine"] = "cosine"  # after the warm-up
    warmup_steps: int = Field(0, ge=0)  # linear warm-up steps
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0)  # cosine floor / peak
    grad_clip: float | None = Field(1.0, gt=0.0)  # gradient clipping norm


# DeepSpeed settings the trainer derives from its own config: where each comes from.
DEEPSPEED_OWNED = {
    "train_batch_size": "train.batch_size x train.grad_accum x ranks",
    "train_micro_batch_size_per_gpu": "train.batch_size",
    "gradient_accumulation_steps": "train.grad_accum",
    "gradient_clipping": "optim.grad_clip",
    "bf16": "train.precision",
    "fp16": "train.precision (bf16 or fp32)",
    "optimizer": "the trainer's AdamW (optim.*)",
    "scheduler": "optim.schedule",
    "zero_optimization.stage": "train.zero_stage",
}


def _dotted(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out += _dotted(value, f"{name}.") if isinstance(value, dict) else [name]
        if isinstance(value, dict):
            out.append(name)
    return out


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(8, ge=1)  # samples per rank per micro-step
    grad_accum: int = Field(1, ge=1)  # micro-steps per optimizer step
    max_steps: int = Field(100_000, ge=1)  # optimizer steps
    seed: int = 0  # model init and RNG seed
    log_every: int = Field(50, ge=1)  # metrics every N steps
    val_every: int = Field(1000, ge=1)  # validation every N steps
    val_batches: int = Field(8, ge=1)  # validation batches per rank
    ckpt_every: int = Field(1000, ge=1)  # checkpoint every N steps (and on SIGUSR2/SIGTERM)
    zero_stage: Literal[0, 1, 2, 3] = 2  # DeepSpeed ZeRO stage
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 on GPUs, fp32 on CPUs
    # activations (not weights: ZeRO refuses those) in NHWC (train/speed.py)
    channels_last: bool = False
    # blocks: torch.compile each ResNet/attention block and the discriminator in place
    # (train/speed.py)
    compile: Literal["none", "blocks"] = "none"
    out_dir: Path = Path("runs")  # a run's folder is out_dir/<run name> unless --run-dir
    experiment: str = "hpc-vqvae"  # MLflow experiment
    tracking_uri: str | None = None  # default: $MLFLOW_TRACKING_URI, else <run dir>/../mlflow.db
    # merged into the DeepSpeed config of both engines (e.g. zero_optimization.overlap_comm,
    # offload_optimizer, communication_data_type); what the trainer sets itself is refused,
    # naming the setting to use
    deepspeed: dict[str, Any] = {}

    @field_validator("deepspeed")
    @classmethod
    def _not_owned(cls, value: dict) -> dict:
        for key in _dotted(value):
            if key in DEEPSPEED_OWNED:
                raise ValueError(f"{key} is set by the trainer from {DEEPSPEED_OWNED[key]}")
        return value


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: DataConfig
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    train: RunConfig = RunConfig()

    @model_validator(mode="after")
    def _consistent(self):
        if self.model.in_channels != len(self.data.input_bands):
            raise ValueError(
                f"model.in_channels={self.model.in_channels} but data.input_bands "
                f"has {len(self.data.input_bands)} bands"
            )
        adversarial = self.loss.disc_weight > 0 and self.loss.disc_factor > 0
        if self.train.zero_stage == 3 and self.loss.adaptive_weight and adversarial:
            raise ValueError(
                "train.zero_stage=3 partitions the decoder's last layer, which the "
                "adaptive GAN weight differentiates; use zero_stage <= 2 or "
                "loss.adaptive_weight=false"
            )
        moves_codes = self.model.kmeans_init or self.model.dead_code_usage > 0
        if not self.model.ema and self.train.zero_stage >= 1 and moves_codes:
            raise ValueError(
                "model.ema=false learns the codebook with the optimizer, whose fp32 master "
                "copy under ZeRO 1-3 would undo k-means init and dead-code revival at the next "
                "step; use model.ema=true, train.zero_stage=0, or model.kmeans_init=false "
                "with model.dead_code_usage=0"
            )
        if self.data.patch_size % self.model.downsampling:
            raise ValueError(
                f"data.patch_size={self.data.patch_size} is not a multiple of the "
                f"model's downsampling {self.model.downsampling}"
            )
        return self

    def learning_rate(self, world_size: int) -> float:
        """taming's rule: the base rate scales with the number of samples per optimizer step."""
        return self.optim.base_lr * self.train.batch_size * self.train.grad_accum * world_size

    def describe_lr(self, world_size: int) -> str:
        """The line every run prints: where its learning rate comes from."""
        t = self.train
        return (
            f"lr {self.learning_rate(world_size):.2e} = base {self.optim.base_lr:.2e} x batch "
            f"{t.batch_size} x accum {t.grad_accum} x world {world_size}"
        )

    def flat(self) -> dict[str, object]:
        """``{"model.ch": 128, ...}``: what the tracker logs as parameters."""
        out: dict[str, object] = {}

        def walk(prefix: str, value) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), v)
            else:
                out[prefix] = value

        walk("", self.model_dump(mode="json"))
        return out


def check_files(cfg: Config) -> None:
    """Files a run reads besides the store, checked before it starts: the LPIPS weights."""
    from ..model.lpips import missing_weights

    path = cfg.loss.lpips_weights
    if cfg.loss.lpips_weight > 0 and path is not None and not path.is_file():
        raise ConfigError(missing_weights(path))


def _set(tree: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        tree = tree.setdefault(k, {})
        if not isinstance(tree, dict):
            raise ConfigError(f"{dotted}: {k} is not a section")
    tree[keys[-1]] = value


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """YAML file, then ``section.key=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        key, value = item.split("=", 1)
        _set(tree, key.strip(), yaml.safe_load(value))
    try:
        return Config(**tree)
    except ValidationError as err:
        raise ConfigError(one_line(err, lambda field: f"{path}: {field or 'config'}")) from None
