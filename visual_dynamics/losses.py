"""The objective of Eq. 5: KL(q(z | v, I) || N(0, I)) + lambda * ||v - v_hat||, per example."""

import jax.numpy as jnp


def kl_to_standard_normal(z_mean: jnp.ndarray, z_logvar: jnp.ndarray) -> jnp.ndarray:
    """Closed-form KL(N(mean, exp(logvar)) || N(0, I)) summed over z: [B, Z] -> [B]."""
    return 0.5 * jnp.sum(z_mean ** 2 + jnp.exp(z_logvar) - z_logvar - 1.0, axis=-1)


def reconstruction_error(v: jnp.ndarray, v_hat: jnp.ndarray, norm: str) -> jnp.ndarray:
    """Per-example error, mean over pixels and channels: [B, H, W, 3] x 2 -> [B].

    `norm` 'l2' is the squared error (the Gaussian log-likelihood of Eq. 3 up to constants);
    'l1' the absolute error.
    """
    residual = v - v_hat
    if norm == "l2":
        per_pixel = residual ** 2
    elif norm == "l1":
        per_pixel = jnp.abs(residual)
    else:
        raise ValueError(f"config.recon_norm must be 'l1' or 'l2', got {norm!r}")
    return jnp.mean(per_pixel, axis=(1, 2, 3))


def vae_loss(v, v_hat, z_mean, z_logvar, *, recon_norm: str, recon_weight: float,
             variational: bool = True, kl_weight=1.0):
    """Batch mean of Eq. 5, the KL term times `kl_weight` (1: the paper; less during a KL warm-up);
    without `variational` (the AE baseline) the KL term is dropped.

    Returns:
      (loss, metrics) with metrics {'loss', 'kl', 'recon'} as batch means.
    """
    kl = kl_to_standard_normal(z_mean, z_logvar)
    recon = reconstruction_error(v, v_hat, recon_norm)
    per_example = recon_weight * recon + (kl_weight * kl if variational else 0.0)
    loss = jnp.mean(per_example)
    return loss, dict(loss=loss, kl=jnp.mean(kl), recon=jnp.mean(recon))
