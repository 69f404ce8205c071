import numpy as np
import pytest
import torch
import zarr

from hpc_vqvae.data import PatchDataset, Transform
from hpc_vqvae.data.transform import INPUT_FILL
from tests.helpers.stores import raw


def test_range_maps_the_ir_range_to_unit_interval(make_cfg):
    """Missing IR is filled after scaling, with the range's centre (0), not read as 0 K."""
    tf = Transform(make_cfg(ir_range=(200.0, 300.0)), {}, "test")
    bt = np.array([150.0, 200.0, 250.0, 300.0, 400.0, np.nan], np.float32)
    out = tf.input(np.stack([bt] * 3))
    assert out.dtype == np.float32
    assert out.shape == (3, 6)
    np.testing.assert_array_equal(out[1], [-1, -1, 0, 1, 1, INPUT_FILL])
    assert INPUT_FILL == 0.0
    batch = tf.input(np.stack([bt] * 3)[None], axis=1)  # (N, C, ...): bands along axis 1
    np.testing.assert_array_equal(batch[0], out)
    np.testing.assert_array_equal(tf.input_valid(np.stack([bt] * 3)), [1, 1, 1, 1, 1, 0])


def test_zscore_fills_missing_ir_with_the_training_mean(make_cfg):
    stats = {b: {"mean": 250.0 + i, "std": 10.0} for i, b in enumerate(("C11", "C13", "C14"))}
    tf = Transform(make_cfg(ir_norm="zscore"), stats, "test")
    bt = np.array([[251.0, np.nan], [np.nan, 300.0], [252.0, 0.0]], np.float32)
    np.testing.assert_allclose(tf.input(bt), [[0.1, 0.0], [0.0, 4.9], [0.0, -5.0]], atol=1e-6)


def _bands(value: np.ndarray) -> dict[str, np.ndarray]:
    """Every target band at ``value``: R (C02) and B (C01) are then ``value`` exactly."""
    return {b: value for b in ("C01", "C02", "C03")}


def test_vis_mapping_and_its_inverse(make_cfg):
    tf = Transform(make_cfg(reflectance_max=1.2), {}, "test")
    refl = np.array([[-0.1, 0.0, 0.3, 0.6, 1.2, 2.0, np.nan]], np.float32)
    x = tf.target(_bands(refl), np.zeros((1, 7), np.float32))
    np.testing.assert_allclose(x[0, 0], [-1, -1, -0.5, 0, 1, 1, 0], atol=1e-6)  # NaN: fill 0
    np.testing.assert_allclose(x[2, 0], x[0, 0])
    back = tf.reflectance(torch.from_numpy(x))
    assert isinstance(back, torch.Tensor)
    np.testing.assert_allclose(back.numpy()[0, 0, 1:5], refl[0, 1:5], atol=1e-6)
    np.testing.assert_allclose(tf.reflectance(x), back.numpy())
    np.testing.assert_allclose(tf.reflectance_to_network(tf.reflectance(x)), x, atol=1e-6)
    real = tf.target_reflectance(_bands(refl), np.zeros((1, 7), np.float32))
    np.testing.assert_allclose(real[0, 0, :6], tf.reflectance(x[0, 0, :6]))
    assert np.isnan(real[:, 0, 6]).all()  # for display: missing stays missing
    mask = tf.valid(np.zeros((3, 1, 7)), _bands(refl))
    np.testing.assert_array_equal(mask[0], [1, 1, 1, 1, 1, 1, 0])


def test_divide_by_cos_sza(make_cfg):
    tf = Transform(make_cfg(divide_by_cos_sza=True, reflectance_max=1.0), {}, "test")
    refl = np.full((1, 3), 0.25, np.float32)
    sza = np.array([[0.0, 60.0, 120.0]], np.float32)
    x = tf.target(_bands(refl), sza)
    np.testing.assert_allclose(x[0, 0], [-0.5, 0.0, 1.0], atol=1e-5)  # past 90: floored, clipped
    batch = tf.target(_bands(refl[None]), sza[None], axis=1)  # (N, 3, ...): one sza per scan
    np.testing.assert_array_equal(batch[0], x)


def test_zscore_uses_the_training_days_statistics(make_cfg, store):
    """The scored days never enter the normalisation: mean and std of the training scans'
    values (computed here from the raw store), not the whole store's."""
    cfg = make_cfg(ir_norm="zscore", augment=False, samples_per_epoch=4, crops_per_scan=1)
    ds = PatchDataset(cfg, "train")
    group = zarr.open_group(store, mode="r")
    stats = {}
    for band in cfg.input_bands:
        values = group[band].oindex[np.asarray(ds.scans)]
        values = values[np.isfinite(values)].astype(np.float64)
        stats[band] = {"mean": values.mean(), "std": values.std()}
        whole = group.attrs["statistics"][band]
        assert abs(whole["mean"] - stats[band]["mean"]) > 1e-3  # the difference matters
    for i in range(len(ds)):
        item = ds[i]
        for c, band in enumerate(cfg.input_bands):
            s = stats[band]
            want = np.clip((raw(store, band, item, 64) - s["mean"]) / s["std"], -5, 5)
            np.testing.assert_allclose(item["ir"][c].numpy(), want, rtol=1e-5, atol=1e-5)
    assert item["ir"].abs().max() > 1  # z-scores, not the [-1, 1] range mapping


def test_zscore_without_statistics_names_the_band(make_cfg):
    stats = {"C11": {"mean": 260.0, "std": 20.0}, "C14": {"mean": 260.0, "std": 20.0}}
    with pytest.raises(ValueError, match="band C13 has no statistics in my store"):
        Transform(make_cfg(ir_norm="zscore"), stats, "my store")


@pytest.mark.parametrize("divide", [False, True])
def test_composite_equals_the_formula_on_raw_values(make_cfg, store, divide):
    cfg = make_cfg(augment=False, patch_size=128, divide_by_cos_sza=divide)
    ds = PatchDataset(cfg, "val")
    item = ds[0]
    c01, c02, c03 = (raw(store, b, item, 128).astype(np.float64) for b in ("C01", "C02", "C03"))
    want = np.stack([c02, 0.48358168 * c02 + 0.45706946 * c01 + 0.06038137 * c03, c01])
    if divide:
        want = want / np.cos(np.deg2rad(raw(store, "sza", item, 128)))
    got = ds.transform.reflectance(item["vis"]).numpy()
    inside = (want > 0.01) & (want < cfg.reflectance_max - 0.01) & (item["mask"].numpy() > 0)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(got[inside], want[inside], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[want <= 0], 0)
