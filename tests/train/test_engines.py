"""``train.deepspeed``: a mapping merged into the real DeepSpeed engines' config."""

import json
import subprocess
import sys

import pytest

from hpc_vqvae.train.config import ConfigError, load_config
from hpc_vqvae.train.engines import ds_config
from hpc_vqvae.world import free_port
from tests.helpers.real import REPO
from tests.helpers.training import train_env

TINY = REPO / "configs" / "tiny.yaml"
EXTRA = [
    "train.deepspeed.zero_optimization.reduce_bucket_size=123456",
    "train.deepspeed.zero_optimization.overlap_comm=false",
    "train.deepspeed.communication_data_type=fp32",
]

ENGINE = """
import json, sys
from hpc_vqvae.model import VQModel, build_discriminator
from hpc_vqvae.train.config import load_config
from hpc_vqvae.train.engines import build_engines
cfg = load_config(sys.argv[1], sys.argv[2:])
g, d = build_engines(cfg, VQModel(cfg.model), build_discriminator(cfg.model), 1, "cpu")
print(json.dumps({
    "bucket": g.zero_reduce_bucket_size(), "overlap": g.zero_overlap_comm(),
    "comm": str(g.communication_data_type), "stage": g.zero_optimization_stage(),
    "clip": d.gradient_clipping(),
}))
"""


def test_the_mapping_is_merged_section_by_section():
    cfg = load_config(TINY, [*EXTRA, "train.zero_stage=1"])
    ds = ds_config(cfg, world_size=4)
    assert ds["zero_optimization"] == {
        "stage": 1,
        "reduce_bucket_size": 123456,
        "overlap_comm": False,
    }
    assert ds["communication_data_type"] == "fp32"
    assert ds["train_batch_size"] == cfg.train.batch_size * 4


@pytest.mark.parametrize(
    ("override", "owner"),
    [
        ("train.deepspeed.zero_optimization.stage=3", "train.zero_stage"),
        ("train.deepspeed.train_batch_size=64", "train.batch_size"),
        ("train.deepspeed.bf16={enabled: true}", "train.precision"),
        ("train.deepspeed.optimizer={type: Adam}", "AdamW"),
    ],
)
def test_keys_the_trainer_sets_are_refused_in_one_line(override, owner):
    with pytest.raises(ConfigError) as err:
        load_config(TINY, [override])
    assert owner in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
@pytest.mark.deepspeed
def test_real_engines_take_the_mapping():
    env = {**train_env(), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    env.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
    proc = subprocess.run(
        [sys.executable, "-c", ENGINE, str(TINY), *EXTRA, "data.store=/unused.zarr"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["bucket"] == 123456 and got["overlap"] is False and got["stage"] == 2
    assert got["comm"] == "torch.float32" and got["clip"] == 1.0
