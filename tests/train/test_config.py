import pytest

from hpc_vqvae.abi.bands import SECTOR_SHAPE_2KM
from hpc_vqvae.train.config import ConfigError, OptimConfig, load_config
from hpc_vqvae.train.schedule import lr_factor
from tests.helpers.real import REPO

CONFIGS = REPO / "configs"


def test_paper_config_is_the_reference():
    cfg = load_config(CONFIGS / "paper.yaml")
    m = cfg.model
    assert (m.ch, m.ch_mult, m.num_res_blocks, m.codebook_size, m.embed_dim) == (
        128,
        [1, 1, 2, 2, 4],
        3,
        4096,
        256,
    )
    assert cfg.optim.base_lr == 4.5e-6 and cfg.optim.betas == (0.5, 0.9)
    assert cfg.loss.disc_weight == 0.2 and cfg.data.input_bands == ["C11", "C13", "C14"]
    # it runs on the meso stores the README fetches: a crop fits a 500 x 500 scan with room
    # to move, in whole steps of the model's downsampling
    assert cfg.data.patch_size == 256 and cfg.data.patch_size % m.downsampling == 0
    assert cfg.data.patch_size < min(SECTOR_SHAPE_2KM["M1"])


def test_learning_rate_scales_with_samples_per_step():
    cfg = load_config(CONFIGS / "paper.yaml", ["train.batch_size=4", "train.grad_accum=2"])
    assert cfg.learning_rate(world_size=8) == pytest.approx(4.5e-6 * 4 * 2 * 8)
    assert "lr 2.88e-04 = base 4.50e-06 x batch 4 x accum 2 x world 8" in cfg.describe_lr(8)


def test_overrides_and_flat_params():
    cfg = load_config(CONFIGS / "tiny.yaml", ["model.codebook_size=512", "data.store=/x.zarr"])
    flat = cfg.flat()
    assert flat["model.codebook_size"] == 512 and flat["data.store"] == "/x.zarr"
    assert flat["data.target.G.C01"] == pytest.approx(0.45706946)


@pytest.mark.parametrize(
    "override,culprit",
    [
        ("model.chh=3", "model.chh"),
        ("data.patch_size=37", "patch_size"),  # tiny's ch_mult [1, 2] downsamples by 2
        ("data.patch_size=100 model.ch_mult=[1,1,2,2,4]", "multiple of the model's downsampling"),
        ("loss.disc_weight=-1", "loss.disc_weight"),
        ("optim.betas=[0.5]", "optim.betas"),
        ("data.input_bands=[C11,C13]", "in_channels"),
        ("nonsense", "section.key=value"),
        ("model.ema=false", "fp32 master copy under ZeRO 1-3"),
        ("model.dead_code_threshold=1.0", "replaced by dead_code_usage"),
    ],
)
def test_bad_values_fail_naming_the_field(override, culprit):
    with pytest.raises(ConfigError) as err:
        load_config(CONFIGS / "tiny.yaml", override.split())
    assert culprit in str(err.value) and "\n" not in str(err.value)


def test_patch_size_follows_the_models_own_downsampling():
    """The one rule is the model's: a multiple of 2 ** (len(ch_mult) - 1), not a fixed 8. The
    paper's model (16) refuses 264, a multiple of 8; tiny's (2) takes 36, which is not."""
    with pytest.raises(ConfigError, match="data.patch_size=264 is not a multiple of the model's "
                       "downsampling 16"):  # fmt: skip
        load_config(CONFIGS / "paper.yaml", ["data.patch_size=264"])
    assert load_config(CONFIGS / "tiny.yaml", ["data.patch_size=36"]).data.patch_size == 36
    deep = load_config(CONFIGS / "tiny.yaml", ["model.ch_mult=[1,1,2,2,4]", "data.patch_size=48"])
    assert deep.data.patch_size % deep.model.downsampling == 0


def test_config_file_with_a_renamed_key_still_loads(tmp_path):
    old = tmp_path / "old.yaml"
    text = (CONFIGS / "tiny.yaml").read_text()
    old.write_text(text.replace("target_sza_max: 80.0", "day_sza_max: 75.0"))
    with pytest.warns(FutureWarning, match="data.day_sza_max is renamed"):
        assert load_config(old, ["data.store=x.zarr"]).data.target_sza_max == 75.0


def test_the_paper_configs_lpips_file_is_checked_before_a_run(tmp_path):
    from hpc_vqvae.train.config import check_files

    cfg = load_config(CONFIGS / "paper.yaml", [f"loss.lpips_weights={tmp_path}/none.pt"])
    assert cfg.loss.lpips_weight == 1.0  # taming's perceptual loss
    with pytest.raises(ConfigError, match="python -m hpc_vqvae.model.lpips VGG16.pth") as err:
        check_files(cfg)
    assert "none.pt" in str(err.value) and "\n" not in str(err.value)
    assert cfg.data.divide_by_cos_sza  # the convention paper.yaml states
    ok = load_config(CONFIGS / "tiny.yaml", ["model.ema=false", "train.zero_stage=0"])
    assert not ok.model.ema  # learned codes are fine without ZeRO's master copy


def test_missing_file():
    with pytest.raises(ConfigError, match="no such file"):
        load_config(CONFIGS / "nope.yaml")


def test_schedule():
    cos = OptimConfig(schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, cos, 110) == pytest.approx(0.1)
    assert lr_factor(9, cos, 110) == pytest.approx(1.0)
    assert lr_factor(10, cos, 110) == pytest.approx(1.0)
    assert lr_factor(60, cos, 110) == pytest.approx(0.55)
    assert lr_factor(110, cos, 110) == pytest.approx(0.1)
    assert lr_factor(50, OptimConfig(schedule="constant"), 110) == 1.0
