"""Attribution methods on inputs whose true evidence is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrekit.errors import InvalidParameterError
from genrekit.explain.attribution import (
    deletion_check,
    integrated_gradients,
    occlusion_saliency,
    shapley_contributions,
    top_fraction_mask,
)
from genrekit.explain.song import decision_shares

BAND = (slice(4, 8), slice(10, 20))  # the only cells the toy score reads


def band_score(spec: torch.Tensor) -> torch.Tensor:
    """Sigmoid of the mean energy in BAND: only those cells are evidence."""
    return torch.sigmoid(spec[:, BAND[0], BAND[1]].mean(dim=(1, 2)) - 1.0)


def toy_spec(n: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    spec = torch.rand(n, 16, 40, generator=generator)
    spec[:, BAND[0], BAND[1]] += 2.0
    return spec


def test_occlusion_finds_the_band_and_nothing_else() -> None:
    saliency = occlusion_saliency(band_score, toy_spec(), patch_bins=4, patch_frames=10)
    inside = saliency[:, BAND[0], BAND[1]]
    outside = saliency.clone()
    outside[:, BAND[0], BAND[1]] = 0
    assert (inside > 0.05).all()
    assert outside.abs().max() < 1e-6


def test_integrated_gradients_are_complete_and_local() -> None:
    spec = toy_spec()
    attribution = integrated_gradients(band_score, spec, n_steps=64)
    baseline = spec.amin(dim=(1, 2), keepdim=True).expand_as(spec)
    expected = band_score(spec) - band_score(baseline)
    torch.testing.assert_close(attribution.sum(dim=(1, 2)), expected, atol=2e-3, rtol=0)
    outside = attribution.clone()
    outside[:, BAND[0], BAND[1]] = 0
    assert outside.abs().max() < 1e-7


def test_deletion_check_passes_for_true_saliency_and_fails_for_wrong_saliency() -> None:
    spec = toy_spec()
    true_saliency = torch.zeros_like(spec)
    true_saliency[:, BAND[0], BAND[1]] = 1.0
    good = deletion_check(band_score, spec, true_saliency, fraction=0.1, patch_bins=4, patch_frames=10)
    assert good["passed"] and good["deletion_drop"] > good["random_drop"] > 0
    bad = deletion_check(
        band_score, spec, -true_saliency + torch.rand(spec.shape) * 0.01, fraction=0.1, patch_bins=4, patch_frames=10
    )
    assert not bad["passed"]


def test_top_fraction_mask_counts_cells_per_window() -> None:
    mask = top_fraction_mask(torch.rand(3, 10, 10), 0.1)
    assert mask.reshape(3, -1).sum(dim=1).tolist() == [10, 10, 10]
    with pytest.raises(InvalidParameterError):
        top_fraction_mask(torch.rand(1, 2, 2), 1.5)


def test_shapley_contributions_of_a_linear_model_are_exact() -> None:
    weights = np.array([0.3, -0.2, 0.0, 0.1])

    def predict_proba(x: np.ndarray) -> np.ndarray:
        p = 0.5 + x @ weights / 10
        return np.stack([1 - p, p], axis=1)

    row, baseline = np.array([1.0, 2.0, 3.0, -1.0]), np.zeros(4)
    values = shapley_contributions(predict_proba, row, baseline, 1, n_permutations=8)
    np.testing.assert_allclose(values, weights * row / 10, atol=1e-12)
    assert values.sum() == pytest.approx(predict_proba(row[None])[0, 1] - predict_proba(baseline[None])[0, 1])


def test_decision_shares_follow_the_windows_that_carry_the_genre() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.85, 0.15]])
    for method in ("mean", "log_mean"):
        shares = decision_shares(probs, 0, method=method)
        assert shares.sum() == pytest.approx(1.0)
        assert shares[1] == shares.min() < 0.15 and shares[0] > 0.4 and shares[2] > 0.4
    assert decision_shares(probs, 0, method="log_mean")[1] == 0.0  # below chance: no evidence
    assert decision_shares(probs[:1], 0, method="mean").tolist() == [1.0]
