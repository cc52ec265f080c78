"""Placing new sentences on a fitted map: UMAP's transform and PCA's axes, without refitting or re-encoding."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import EmbedLabError
from embedlab.tasks.projection import ProjectionSettings, fit_projection, project

SETTINGS = ProjectionSettings(n_neighbors=8, n_epochs=60)


@pytest.fixture(scope="module")
def clusters() -> np.ndarray:
    """Three well-separated directions with 30 noisy points each: (90, 32)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32)) * 4
    return np.concatenate([centre + rng.normal(size=(30, 32)) for centre in centres]).astype(np.float32)


def test_fit_projection_draws_the_same_map_as_project(clusters):
    fitted = fit_projection(clusters, SETTINGS)
    np.testing.assert_array_equal(fitted.projection.coords, project(clusters, SETTINGS).coords)


def test_a_new_point_lands_in_its_own_cluster_on_the_umap_map(clusters):
    fitted = fit_projection(clusters, SETTINGS)
    assert fitted.projection.method == "umap"
    coords = fitted.projection.coords
    rng = np.random.default_rng(1)
    new = clusters[[5, 35, 65]] + rng.normal(size=(3, 32)).astype(np.float32) * 0.3  # one near each cluster
    placed = fitted.place(new)
    assert placed.shape == (3, 2)
    centres = np.stack([coords[i * 30 : (i + 1) * 30].mean(axis=0) for i in range(3)])
    nearest_centre = np.linalg.norm(placed[:, None, :] - centres[None], axis=2).argmin(axis=1)
    assert nearest_centre.tolist() == [0, 1, 2]
    # The fitted map itself never moves.
    np.testing.assert_array_equal(fitted.projection.coords, coords)


def test_pca_places_with_the_fitted_axes(clusters):
    fitted = fit_projection(clusters, ProjectionSettings(method="pca"))
    np.testing.assert_allclose(fitted.place(clusters[:10]), fitted.projection.coords[:10], atol=1e-5)
    # Fitted on the first 60 only, a point of the third cluster still gets coordinates from the same axes.
    part = fit_projection(clusters[:60], ProjectionSettings(method="pca"))
    unit = clusters / np.linalg.norm(clusters, axis=1, keepdims=True)
    expected = (unit[70].astype(np.float64) - part.mean) @ part.axes
    np.testing.assert_allclose(part.place(clusters[70:71])[0], expected, atol=1e-5)


def test_placing_vectors_of_another_width_is_refused(clusters):
    fitted = fit_projection(clusters, ProjectionSettings(method="pca"))
    with pytest.raises(EmbedLabError, match="32"):
        fitted.place(np.ones((1, 16), np.float32))


def test_one_direction_places_at_the_origin():
    fitted = fit_projection(np.ones((5, 4), np.float32))
    assert fitted.projection.method == "none"
    np.testing.assert_array_equal(fitted.place(np.ones((2, 4), np.float32)), np.zeros((2, 2), np.float32))
