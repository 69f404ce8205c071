"""What a launch asks of the cluster, validated before anything is submitted."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import LaunchError, one_line


def minutes(limit: str | int) -> int:
    """Slurm's time formats (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) in whole minutes, rounded up."""
    text = str(limit).strip()
    days, _, clock = text.rpartition("-")
    parts = clock.split(":")
    if not (days.isdigit() or days == "") or not all(p.isdigit() for p in parts) or len(parts) > 3:
        raise ValueError(f"{limit!r} is not a Slurm time (M, H:M:S or D-H:M:S)")
    n = [int(p) for p in parts]
    if days:  # D-H, D-H:M, D-H:M:S
        h, m, s = (n + [0, 0])[:3]
    elif len(n) == 3:  # H:M:S
        h, m, s = n
    else:  # M, M:S
        h, (m, s) = 0, (n + [0])[:2]
    seconds = int(days or 0) * 86400 + h * 3600 + m * 60 + s
    return -(-seconds // 60)


class LaunchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: Path  # the training config
    overrides: list[str] = []  # section.key=value, as the trainer takes them
    run_dir: Path | None = None  # default: <train.out_dir>/<config name>
    nodes: int = Field(1, ge=1)  # Slurm nodes (with local: groups of processes)
    gpus_per_node: int = Field(0, ge=0)  # 0: CPU nodes, gloo
    tasks_per_node: int | None = Field(None, ge=1)  # default: one per GPU, else one
    cpus_per_task: int = Field(1, ge=1)  # CPUs per task
    mem_gb: float | None = Field(None, gt=0)  # memory per node (GB); None: the partition's default
    partition: str | None = None  # Slurm partition
    account: str | None = None  # Slurm account
    time_min: int = Field(24 * 60, ge=1)  # time limit (minutes); --time takes Slurm's formats
    signal_delay_s: int = Field(120, ge=10)  # SIGUSR2 this long before the time limit
    name: str = "hpc-vqvae"  # Slurm job name
    folder: Path = Path("logs/submitit")  # submitit's pickles and logs, one folder per job
    local: bool = False  # N = nodes x tasks_per_node processes here, no Slurm

    @field_validator("config")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not v.is_file():
            raise ValueError(f"{v}: no such file")
        return v

    @property
    def tasks(self) -> int:
        """Tasks per node: one per GPU, one per node on CPU nodes."""
        return self.tasks_per_node or max(self.gpus_per_node, 1)

    @classmethod
    def parse(cls, **values) -> LaunchConfig:
        try:
            return cls(**values)
        except ValidationError as err:
            raise LaunchError(one_line(err, lambda f: f"--{f.replace('_', '-')}")) from None
