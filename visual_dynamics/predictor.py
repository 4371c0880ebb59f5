"""A trained network for applications: sample futures, transfer motion, extrapolate, traverse z.

    predictor = Predictor.from_checkpoint("workdirs/exercise")
    frames = predictor.sample(image, n=8, rng=0)          # uint8 [8, S, S, 3]
    z = predictor.encode(image, next_image)               # [Z]
    analogy = predictor.transfer(z, other_image)          # uint8 [S, S, 3]

Images are numpy arrays of any size, one [H, W, 3] or a batch [B, H, W, 3] of uint8 RGB (also
grayscale [H, W] or [H, W, 1], RGBA [H, W, 4], uint16 or floats in [0, 1], converted to 8-bit RGB);
they are resized to the model's input side S, and outputs are uint8 at S x S. Each method compiles once
per input shape.
"""

from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.typing import ArrayLike

from visual_dynamics import checkpointing, pretrained, preprocessing, visualization
from visual_dynamics.inference import Inference
from visual_dynamics.model import latent_size
from visual_dynamics.z_bank import ZBank

RngLike = Union[int, jax.Array]


def _key(rng: RngLike) -> jax.Array:
    return jax.random.PRNGKey(rng) if isinstance(rng, (int, np.integer)) else rng


class Predictor:
    """The network of `config` with trained `variables` and, for sampling, the run's z bank."""

    def __init__(self, config: ml_collections.ConfigDict, variables: dict,
                 z_bank: Optional[ZBank] = None):
        self.config = config
        self.variables = jax.device_put(variables)  # on the device once, not at every call
        self.z_bank = z_bank
        self.inference = Inference(config)
        self.image_size = config.image_size
        self.latent_size = latent_size(self.inference.model)

    @classmethod
    def from_checkpoint(cls, workdir: str, step: Optional[int] = None,
                        config: Optional[ml_collections.ConfigDict] = None) -> "Predictor":
        """The run in `workdir` (its newest checkpoint, or `step`) with its z bank if written.

        Args:
          config: if given, it must equal the run's saved config in every model and data key;
            a mismatch is an error listing the keys (the checkpoint could not be meant for it).
        Raises:
          checkpointing.NoCheckpointError: `workdir` holds no run.
          ValueError: `config` differs from the run's.
        """
        saved, variables, _ = checkpointing.restore_variables(workdir, step)
        if config is not None:
            differing = checkpointing.config_differences(saved, config, ("model", "image_size", "image_mean",
                                                                         "diff_scale", "dataset"))
            if differing:
                raise ValueError(f"the checkpoint in {workdir} was trained with another config: "
                                 + "; ".join(differing))
        try:
            bank = ZBank.load(workdir)
        except FileNotFoundError:
            bank = None  # training has not finished: sampling falls back to the prior
        return cls(saved, variables, bank)

    @classmethod
    def from_pretrained(cls, name: str = "shapes_cpu") -> "Predictor":
        """A model shipped with the package (`visual_dynamics.pretrained.available()` lists them),
        with its z bank; no network access.

        Raises:
          ValueError: no shipped model has that name.
        """
        return cls(*pretrained.load(name))

    @classmethod
    def from_file(cls, path: str) -> "Predictor":
        """A model packed into one file by `pretrained.export_file` (float16 variables), with its z bank."""
        return cls(*pretrained.load_file(path))

    # --- input checks -----------------------------------------------------------------------------

    def _images(self, images: np.ndarray) -> tuple[np.ndarray, bool]:
        """One image [H, W] / [H, W, C] or a batch [B, H, W, C] -> ([B, S, S, 3] uint8, whether one
        image was given). C is 1, 3 or 4 (alpha composited on white); values uint8, uint16 or floats
        in [0, 1] (`preprocessing.as_rgb_uint8`)."""
        images = np.asarray(images)
        images = images[..., None] if images.ndim == 2 else images
        single = images.ndim == 3 and images.shape[-1] in (1, 3, 4)
        batch = images[None] if single else images
        if batch.ndim != 4:
            raise ValueError(f"expected an image [H, W] or [H, W, C] or a batch [B, H, W, C] (C = 1, 3 or "
                             f"4); got shape {images.shape}")
        rgb = [preprocessing.as_rgb_uint8(i)[0] for i in batch]
        return np.stack([preprocessing.resize_image(i, self.image_size) for i in rgb]), single

    def _z(self, z: ArrayLike, batch: int) -> jnp.ndarray:
        """[Z] or [B, Z] -> [batch, Z]."""
        z = jnp.asarray(z, jnp.float32)
        if z.ndim not in (1, 2) or z.shape[-1] != self.latent_size:
            raise ValueError(f"z has shape {z.shape}; this model's z has {self.latent_size} "
                             f"dimensions ([{self.latent_size}] or [B, {self.latent_size}])")
        z = z[None] if z.ndim == 1 else z
        if z.shape[0] not in (1, batch):
            raise ValueError(f"{z.shape[0]} z vectors for {batch} images")
        return jnp.broadcast_to(z, (batch, self.latent_size))

    def _next_frames(self, images: np.ndarray, z: jnp.ndarray) -> np.ndarray:
        frames = self.inference.next_frames(self.variables, images, z)
        return visualization.to_uint8(np.asarray(frames))

    # --- the applications -------------------------------------------------------------------------

    def draw_z(self, rng: RngLike, n: int, from_prior: bool = False) -> jnp.ndarray:
        """n latent vectors [n, Z] from the run's z bank, or from the prior N(0, I) (`from_prior`, or
        when the run has no bank)."""
        if from_prior or self.z_bank is None:
            return jax.random.normal(_key(rng), (n, self.latent_size))
        return self.z_bank.draw(_key(rng), n)

    def sample(self, image: np.ndarray, n: int, rng: RngLike = 0, from_prior: bool = False) -> np.ndarray:
        """n possible next frames of each image: uint8 [n, S, S, 3] (or [B, n, S, S, 3]); z from the
        bank, or from the prior N(0, I) with `from_prior`."""
        images, single = self._images(image)
        b = len(images)
        z = self.draw_z(rng, b * n, from_prior)
        frames = self._next_frames(np.repeat(images, n, axis=0), z).reshape(b, n, *images.shape[1:])
        return frames[0] if single else frames

    def encode(self, image: np.ndarray, next_image: np.ndarray) -> np.ndarray:
        """The motion of a pair (I, J) as z = z_mean of q(z | J - I, I): [Z] (or [B, Z])."""
        images, single = self._images(image)
        next_images, _ = self._images(next_image)
        if len(images) != len(next_images):
            raise ValueError(f"{len(images)} images but {len(next_images)} next images")
        z_mean, _ = self.inference.encode(self.variables, images, next_images)
        z_mean = np.asarray(z_mean)
        return z_mean[0] if single else z_mean

    def transfer(self, z: ArrayLike, image: np.ndarray) -> np.ndarray:
        """The motion z applied to image(s) (visual analogy, §6.4): uint8 [S, S, 3] (or [B, ...])."""
        images, single = self._images(image)
        frames = self._next_frames(images, self._z(z, len(images)))
        return frames[0] if single else frames

    def extrapolate(self, image: np.ndarray, z: ArrayLike, steps: int) -> np.ndarray:
        """`steps` future frames, each predicted from the last with the same z (§6.4).

        Returns uint8 [steps, S, S, 3] (or [B, steps, S, S, 3]); frame 0 equals transfer(z, image).
        """
        frame, single = self._images(image)
        z = self._z(z, len(frame))
        frames = []
        for _ in range(steps):
            frame = self._next_frames(frame, z)
            frames.append(frame)
        frames = np.stack(frames, axis=1)
        return frames[0] if single else frames

    def traverse(self, image: np.ndarray, z: ArrayLike, dims: Sequence[int],
                 values: Sequence[float]) -> np.ndarray:
        """Next frames with one dimension of z swept (§6.3, Fig. 13), the others kept.

        Args:
          image: one image [H, W, 3].
          z: the base motion [Z] (e.g. encode(I, J), or zeros for the prior's mean).
          dims: dimensions of z to sweep, each in [0, Z).
          values: the values each swept dimension takes (the Torch release used linspace(-10, 10, 21)).
        Returns:
          uint8 [len(dims), len(values), S, S, 3].
        """
        images, single = self._images(image)
        if not single:
            raise ValueError("traverse takes one image [H, W, 3]")
        z = np.asarray(self._z(z, 1)[0])
        bad = [d for d in dims if not 0 <= d < self.latent_size]
        if bad:
            raise ValueError(f"dimension(s) {bad} out of range: z has {self.latent_size} dimensions")
        swept = np.repeat(z[None, None], len(dims), 0).repeat(len(values), 1)  # [D, V, Z]
        for i, d in enumerate(dims):
            swept[i, :, d] = values
        flat = swept.reshape(-1, self.latent_size)
        frames = self._next_frames(np.repeat(images, len(flat), axis=0), jnp.asarray(flat))
        return frames.reshape(len(dims), len(values), *frames.shape[1:])

    def feature_maps(self, image: np.ndarray) -> list[np.ndarray]:
        """The image encoder's outputs (§6.1, Fig. 8), one float [h_s, w_s, C] per pyramid scale
        (or [B, h_s, w_s, C])."""
        images, single = self._images(image)
        maps = [np.asarray(m) for m in self.inference.feature_maps(self.variables, images)]
        return [m[0] for m in maps] if single else maps

