"""The CF names of predict's R, G, B are true for each convention the model may carry."""

import numpy as np

from hpc_vqvae.predict.cf import _reflectance_vars


def test_names_follow_the_convention():
    rgb, ok = np.zeros((3, 2, 2), np.float32), np.array([[True, False], [True, True]])
    at_scan = _reflectance_vars(rgb, ok, ("y", "x"), {}, sun_normalised=False)["R"][2]
    assert at_scan["standard_name"] == "toa_bidirectional_reflectance"
    normalised = _reflectance_vars(rgb, ok, ("y", "x"), {}, sun_normalised=True)
    attrs = normalised["G"][2]
    assert "standard_name" not in attrs and "cos(solar zenith)" in attrs["long_name"]
    assert "overhead sun" in attrs["comment"] and np.isnan(normalised["B"][1][0, 1])
