"""The CF names of predict's R, G, B are true for each convention the model may carry."""

import numpy as np

from hpc_vqvae.predict.cf import _reflectance_vars


def test_names_follow_the_convention():
    """No observation's standard name on a model's output, in either convention."""
    rgb, ok = np.zeros((3, 2, 2), np.float32), np.array([[True, False], [True, True]])
    at_scan = _reflectance_vars(rgb, ok, ("y", "x"), {}, sun_normalised=False)["R"][2]
    assert "standard_name" not in at_scan and at_scan["long_name"].startswith("synthetic")
    assert "not an observation" in at_scan["comment"] and "dark" not in at_scan["long_name"]
    normalised = _reflectance_vars(rgb, ok, ("y", "x"), {}, sun_normalised=True)
    attrs = normalised["G"][2]
    assert "standard_name" not in attrs and "cos(solar zenith)" in attrs["long_name"]
    assert "overhead sun" in attrs["comment"] and "not an observation" in attrs["comment"]
    assert np.isnan(normalised["B"][1][0, 1])
