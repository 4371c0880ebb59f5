"""The empirical distribution of z used at test time (§4.2, "Training and testing details").

After training, the motion encoder's q(z | v, I) = N(z_mean, exp(z_logvar)) is computed for N
training pairs. Sampling picks one pair at random and draws z from its posterior, i.e. samples
the aggregate posterior q(z) = mean_i q(z | v_i, I_i), which works better than the prior N(0, I)
(Doersch's tutorial, as the paper cites).
"""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np

from visual_dynamics.atomic import atomic_path
from visual_dynamics.inference import Inference

Z_BANK_FILE = "z_bank.npz"


@dataclasses.dataclass(frozen=True)
class ZBank:
    """Posterior parameters of N training pairs: z_mean, z_logvar [N, Z]; `step`: checkpoint step."""

    z_mean: np.ndarray
    z_logvar: np.ndarray
    step: int

    def draw(self, rng: jax.Array, n: int) -> jnp.ndarray:
        """n latent vectors [n, Z] from the bank's aggregate posterior."""
        index_key, noise_key = jax.random.split(rng)
        noise = jax.random.normal(noise_key, (n, self.z_mean.shape[1]))
        index = jax.random.randint(index_key, (n,), 0, self.z_mean.shape[0])
        return jnp.asarray(self.z_mean)[index] + jnp.exp(0.5 * jnp.asarray(self.z_logvar)[index]) * noise

    def save(self, directory: str, dtype=np.float32) -> str:
        """Writes directory/z_bank.npz atomically (compressed, z_mean and z_logvar as `dtype`:
        float16 halves a shipped model's bank); returns its path."""
        path = os.path.join(directory, Z_BANK_FILE)
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, z_mean=self.z_mean.astype(dtype), z_logvar=self.z_logvar.astype(dtype),
                                step=self.step)
        return path

    @classmethod
    def load(cls, directory: str) -> "ZBank":
        """The bank in directory/z_bank.npz, as float32."""
        path = os.path.join(directory, Z_BANK_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} is missing: training writes it at its end. Finish (or rerun, which "
                f"resumes) the training in {directory}, or sample with --from_prior.")
        with np.load(path) as f:
            return cls(f["z_mean"].astype(np.float32), f["z_logvar"].astype(np.float32), int(f["step"]))


def compute_z_bank(inference: Inference, variables: dict, batches, size: int, step: int) -> ZBank:
    """Posteriors of the first `size` pairs of `batches` ({'image', 'next_image'} uint8 [B, S, S, 3],
    e.g. the first batches of the training split).

    The AE baseline (model.variational False) has no posterior variance: its z_logvar is stored as
    -inf, so the bank's draws are exactly the stored z_means.
    """
    posteriors = [inference.encode(variables, b["image"], b["next_image"]) for b in batches]
    z_mean = np.concatenate([np.asarray(m) for m, _ in posteriors])[:size]
    z_logvar = np.concatenate([np.asarray(v) for _, v in posteriors])[:size]
    if not inference.config.model.variational:
        z_logvar = np.full_like(z_logvar, -np.inf)
    return ZBank(z_mean, z_logvar, step)
