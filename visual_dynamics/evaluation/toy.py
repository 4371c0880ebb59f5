"""The toy world of §3.2 (Fig. 2): circles move mostly vertically, squares mostly horizontally.

An "image" is its object's label (0: circle, 1: square); its motion v is 2D:
  circles v ~ N((0, 0), diag(0.2, 1)),  squares v ~ N((0, 0), diag(1, 0.2))   (diagonal variances).
Three models learn p(v | I) from samples:
  deterministic  v = f(I), trained on ||v - f(I)||^2: can only learn each label's mean motion;
  prior VAE      v = g(z), q(z | v): a motion prior that never sees the image;
  conditional    v = g(z, I), q(z | v, I): the paper's approach (a conditional VAE).
The VAEs minimise Eq. 5 with the squared norm, KL + lambda ||v - g||^2, and are sampled as the paper
samples (z ~ N(0, I), v = g(...)). Each model's samples per label are compared with the truth by the
Fig. 5 histogram KL (41 x 41 bins over [-5, 5]^2).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from visual_dynamics import losses
from visual_dynamics.evaluation import motion_metric

LABELS = ("circle", "square")
VARIANCES = np.array([[0.2, 1.0], [1.0, 0.2]])  # per label: (var v_x, var v_y)
MODELS = ("deterministic", "prior_vae", "conditional_vae")
LATENT = 2


def toy_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(labels int [n] with equal probabilities, motions float32 [n, 2])."""
    labels = rng.integers(0, 2, n)
    motions = rng.normal(size=(n, 2)) * np.sqrt(VARIANCES[labels])
    return labels, motions.astype(np.float32)


class MLP(nn.Module):
    features: tuple
    hidden: int = 64

    @nn.compact
    def __call__(self, x):
        for _ in range(2):
            x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(sum(self.features))(x)


class ToyModel(nn.Module):
    """One of MODELS; `__call__` returns (v_hat, z_mean, z_logvar) (z terms zero when deterministic)."""

    kind: str

    def setup(self):
        if self.kind != "deterministic":
            self.encoder = MLP((LATENT, LATENT))
        self.decoder = MLP((2,))

    def condition(self, labels):
        one_hot = jax.nn.one_hot(labels, 2)
        return one_hot if self.kind != "prior_vae" else jnp.zeros_like(one_hot)

    def decode(self, z, labels):
        return self.decoder(jnp.concatenate([z, self.condition(labels)], axis=-1))

    def __call__(self, labels, motions, noise):
        if self.kind == "deterministic":
            zeros = jnp.zeros((len(labels), LATENT))
            return self.decode(zeros, labels), zeros, zeros
        encoded = self.encoder(jnp.concatenate([motions, self.condition(labels)], axis=-1))
        z_mean, z_logvar = jnp.split(encoded, 2, axis=-1)
        z = z_mean + jnp.exp(0.5 * z_logvar) * noise
        return self.decode(z, labels), z_mean, z_logvar


def train(kind: str, labels: np.ndarray, motions: np.ndarray, steps: int = 4000, batch_size: int = 256,
          learning_rate: float = 3e-3, recon_weight: float = 100.0, seed: int = 0) -> dict:
    """Trains one model on (labels, motions); returns its parameters.

    The loss is `losses.vae_loss` with the squared error averaged over v's 2 values, so lambda = 100
    is sigma^2 = P / (2 lambda) = 0.01 in Eq. 3.
    """
    model = ToyModel(kind)
    key = jax.random.PRNGKey(seed)
    params = model.init(key, jnp.zeros(1, jnp.int32), jnp.zeros((1, 2)), jnp.zeros((1, LATENT)))
    optimizer = optax.adam(learning_rate)
    opt_state = optimizer.init(params)
    all_labels, all_motions = jnp.asarray(labels), jnp.asarray(motions)

    def loss_fn(params, labels, motions, noise):
        v_hat, z_mean, z_logvar = model.apply(params, labels, motions, noise)
        as_image = lambda v: v[:, None, None, :]  # noqa: E731  [B, 2] -> [B, 1, 1, 2]
        return losses.vae_loss(as_image(motions), as_image(v_hat), z_mean, z_logvar, recon_norm="l2",
                               recon_weight=recon_weight, variational=kind != "deterministic")[0]

    @jax.jit
    def step(params, opt_state, key):
        batch_key, noise_key = jax.random.split(key)
        index = jax.random.randint(batch_key, (batch_size,), 0, len(all_labels))
        noise = jax.random.normal(noise_key, (batch_size, LATENT))
        grads = jax.grad(loss_fn)(params, all_labels[index], all_motions[index], noise)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for k in range(steps):
        params, opt_state = step(params, opt_state, jax.random.fold_in(key, k))
    return params


def sample(kind: str, params: dict, label: int, n: int, seed: int = 0) -> np.ndarray:
    """n motions [n, 2] the model predicts for `label`: z ~ N(0, I) through the decoder."""
    model = ToyModel(kind)
    labels = jnp.full((n,), label, jnp.int32)
    z = (jnp.zeros((n, LATENT)) if kind == "deterministic"
         else jax.random.normal(jax.random.PRNGKey(seed), (n, LATENT)))
    return np.asarray(model.apply(params, z, labels, method=ToyModel.decode))


def kl_to_truth(kind: str, params: dict, n: int = 50_000, seed: int = 0) -> dict:
    """{label: KL(p_true || p_model)} over the 41 x 41 histogram, n draws each."""
    rng = np.random.default_rng(seed)
    out = {}
    for label, name in enumerate(LABELS):
        truth = rng.normal(size=(n, 2)) * np.sqrt(VARIANCES[label])
        predicted = sample(kind, params, label, n, seed)
        out[name] = motion_metric.kl_divergence(motion_metric.histogram(truth),
                                                motion_metric.histogram(predicted))
    return out
