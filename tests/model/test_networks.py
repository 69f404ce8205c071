import json

import pytest
import torch

from hpc_vqvae.model import ModelConfig, VQModel, build_discriminator
from hpc_vqvae.model.blocks import norm, regroup
from hpc_vqvae.model.exported import GROUP_CHANNELS_KEY, META, load_generator, save_export
from hpc_vqvae.train.config import load_config
from tests.helpers.real import REPO

TINY = ModelConfig(
    ch=16,
    ch_mult=[1, 2],
    num_res_blocks=1,
    z_channels=16,
    codebook_size=32,
    embed_dim=8,
    disc_ndf=8,
    disc_layers=2,
)


def test_shapes_and_downsampling():
    model = VQModel(TINY)
    rec, qloss, info = model(torch.randn(2, 3, 32, 32))
    assert rec.shape == (2, 3, 32, 32) and qloss.ndim == 0
    assert info["indices"].shape == (2, 16, 16)  # one 2x downsampling for ch_mult [1, 2]
    with pytest.raises(ValueError, match="multiple of 2"):
        model(torch.randn(1, 3, 31, 32))


def test_skip_free_output_depends_on_codes_only():
    """No U-Net skips: inputs that map to the same codes give the same output, up to the
    float rounding of the straight-through sum x + (q - x)."""
    torch.manual_seed(0)
    model = VQModel(TINY).eval()
    x = torch.randn(1, 3, 16, 16)
    rec1, _, info1 = model(x)
    rec2, _, info2 = model(x + 1e-3 * torch.randn_like(x))
    assert torch.equal(info1["indices"], info2["indices"])
    assert (rec1 - rec2).abs().max() < 1e-5


def test_paper_config_builds_and_sizes():
    """configs/paper.yaml's generator, built: a 256 px crop in, one out, through a 16 x 16 grid
    of 4096 codes of 256 dims, 82.0 M parameters (any change of the architecture shows here)."""
    cfg = load_config(REPO / "configs" / "paper.yaml", ["loss.lpips_weight=0"]).model
    model = VQModel(cfg).eval()
    with torch.no_grad():
        rec, _, info = model(torch.randn(1, 3, 256, 256))
    assert rec.shape == (1, 3, 256, 256) and info["indices"].shape == (1, 16, 16)
    assert tuple(model.quantize.embed.shape) == (4096, 256)
    assert sum(p.numel() for p in model.parameters()) == 81_972_099
    assert any(type(m).__name__ == "AttnBlock" for m in model.decoder.modules())


def test_conditional_discriminator():
    disc = build_discriminator(TINY)
    vis, ir = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    assert disc(vis, ir).shape[:2] == (2, 1)
    assert disc.net[0].in_channels == 6  # sees (IR, visible) pairs
    with pytest.raises(ValueError, match="IR"):
        disc(vis)
    plain = build_discriminator(TINY.model_copy(update={"disc_conditional": False}))
    assert plain.net[0].in_channels == 3 and plain(vis).shape[:2] == (2, 1)


def test_discriminator_norm_is_per_sample():
    """Real and fake share one forward: a sample's logits must not depend on the others."""
    disc = build_discriminator(TINY).train()
    vis, ir = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    assert torch.allclose(disc(vis, ir)[:2], disc(vis[:2], ir[:2]), atol=1e-6)


def test_group_norm_is_taming_s_and_never_instance_norm():
    """32 groups at taming's widths; at least 4 channels a group in narrower models."""
    assert [norm(c).num_groups for c in (128, 256, 512)] == [32, 32, 32]
    assert [norm(c).num_groups for c in (16, 32, 64)] == [4, 8, 16]
    assert all(c // norm(c).num_groups >= 4 for c in range(4, 1025, 4))


def test_a_flat_crop_keeps_its_level_through_the_norm():
    """What conv_in makes of a uniform crop at temperature t: a constant a_c t + b_c in each
    channel. Instance norm (one channel a group) maps every such crop to 0, whatever t; the
    tiny model's norm still tells two temperatures apart."""
    torch.manual_seed(0)
    a, b = torch.randn(32, 1, 1), torch.randn(32, 1, 1)
    layer = norm(32)

    def normed(t: float) -> torch.Tensor:
        return layer((a * t + b).expand(32, 8, 8)[None])

    assert (normed(-0.5) - normed(0.5)).abs().mean() > 0.1


def test_an_export_from_before_the_change_loads_as_it_trained(tmp_path):
    """An export made with one channel a group (no ``norm_group_channels`` in its meta) runs
    with one channel a group: the same weights under the new grouping give other outputs."""
    torch.manual_seed(0)
    cfg = load_config(REPO / "configs/tiny.yaml").model
    old = VQModel(cfg)
    regroup(old, 1)
    assert old.encoder.norm_out.num_groups == 32  # of 64 channels: the old rule, up to 32
    save_export(tmp_path / "e", old.state_dict(), {"config": {"model": cfg.model_dump()}})
    meta = json.loads((tmp_path / "e" / META).read_text())
    assert meta.pop(GROUP_CHANNELS_KEY) == 4  # what a new export records
    (tmp_path / "e" / META).write_text(json.dumps(meta))  # as an old export has it
    loaded, _ = load_generator(tmp_path / "e")
    ir = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        want = old.eval()(ir)[0]
        assert torch.equal(loaded(ir)[0], want)
        regroup(loaded, 4)
        assert not torch.allclose(loaded(ir)[0], want, atol=1e-3)
