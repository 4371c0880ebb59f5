"""Eq. 5 on cases small enough to compute by hand."""

import numpy as np
import pytest

from visual_dynamics import losses


def test_kl_closed_form_by_hand():
    # KL(N(mu, s^2) || N(0, 1)) = 0.5 * (mu^2 + s^2 - log s^2 - 1), summed over dimensions.
    z_mean = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    z_logvar = np.array([[0.0, np.log(4.0)], [0.0, 0.0]], np.float32)
    expected = [0.5 * (0 + 1 - 0 - 1) + 0.5 * (1 + 4 - np.log(4.0) - 1),
                0.5 * (4 + 1 - 0 - 1) + 0.5 * (1 + 1 - 0 - 1)]
    np.testing.assert_allclose(losses.kl_to_standard_normal(z_mean, z_logvar), expected, rtol=1e-6)


def test_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu, logvar = np.array([0.7, -0.3]), np.array([-0.5, 0.4])
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * rng.normal(size=(400_000, 2))
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + logvar + np.log(2 * np.pi))
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    monte_carlo = np.mean(np.sum(log_q - log_p, axis=1))
    closed = float(losses.kl_to_standard_normal(mu[None], logvar[None])[0])
    assert abs(closed - monte_carlo) < 0.01


def test_vae_loss_by_hand():
    v = np.zeros((2, 1, 2, 3), np.float32)
    v_hat = np.zeros_like(v)
    v_hat[0, 0, 0, 0] = 3.0   # example 0: squared error 9 on one of 6 values
    v_hat[1] = -1.0           # example 1: error 1 everywhere
    z_mean = np.array([[1.0], [0.0]], np.float32)
    z_logvar = np.zeros((2, 1), np.float32)
    loss, metrics = losses.vae_loss(v, v_hat, z_mean, z_logvar, recon_norm="l2", recon_weight=2.0)
    recon = np.array([9.0 / 6, 1.0])
    kl = np.array([0.5, 0.0])
    np.testing.assert_allclose(loss, np.mean(kl + 2.0 * recon), rtol=1e-6)
    np.testing.assert_allclose(metrics["recon"], recon.mean(), rtol=1e-6)
    np.testing.assert_allclose(metrics["kl"], kl.mean(), rtol=1e-6)
    l1, _ = losses.vae_loss(v, v_hat, z_mean, z_logvar, recon_norm="l1", recon_weight=1.0)
    np.testing.assert_allclose(l1, np.mean(kl + np.array([3.0 / 6, 1.0])), rtol=1e-6)
    ae, _ = losses.vae_loss(v, v_hat, z_mean, z_logvar, recon_norm="l2", recon_weight=1.0,
                            variational=False)
    np.testing.assert_allclose(ae, recon.mean(), rtol=1e-6)


def test_unknown_norm_is_named():
    with pytest.raises(ValueError, match="recon_norm"):
        losses.reconstruction_error(np.zeros((1, 1, 1, 3)), np.zeros((1, 1, 1, 3)), "l3")


def test_kl_weight_scales_the_kl_term_only():
    rng = np.random.default_rng(0)
    v, v_hat = rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 4, 4, 3))
    z_mean, z_logvar = rng.normal(size=(2, 5)), rng.normal(size=(2, 5)) * 0.1
    full, metrics = losses.vae_loss(v, v_hat, z_mean, z_logvar, recon_norm="l2", recon_weight=3.0)
    half, _ = losses.vae_loss(v, v_hat, z_mean, z_logvar, recon_norm="l2", recon_weight=3.0, kl_weight=0.5)
    assert float(full - half) == pytest.approx(0.5 * float(metrics["kl"]), rel=1e-5)
