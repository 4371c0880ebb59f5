"""Inference with a trained network: encode pairs to z, decode z and an image to next frames."""

import jax
import jax.numpy as jnp
import ml_collections
from visual_dynamics import preprocessing
from visual_dynamics.model import CrossConvNet, model_from_config


class Inference:
    """Jitted encode / decode of the network of `config`, BatchNorm in eval mode.

    Every method takes the variables {'params', 'batch_stats'} explicitly, so one instance
    serves every checkpoint of a run and compiles once per input shape.
    """

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.model = model_from_config(config)
        self._encode = jax.jit(self._encode_fn)
        self._decode = jax.jit(self._decode_fn)

    def _encode_fn(self, variables, images, next_images):
        image, diff, _ = preprocessing.model_inputs(dict(image=images, next_image=next_images), self.config)
        return self.model.apply(variables, image, diff, train=False, method=CrossConvNet.encode)

    def _decode_fn(self, variables, images, z):
        image = preprocessing.network_image(images, self.config)
        return self.model.apply(variables, image, z, train=False, method=CrossConvNet.decode)

    def encode(self, variables: dict, images, next_images):
        """uint8 pairs [B, S, S, 3] -> posterior (z_mean, z_logvar), each [B, Z]."""
        return self._encode(variables, images, next_images)

    def decode(self, variables: dict, images, z) -> jnp.ndarray:
        """uint8 images [B, S, S, 3], z [B, Z] -> difference images v_hat [B, D, D, 3]."""
        return self._decode(variables, images, z)

    def next_frames(self, variables: dict, images, z) -> jnp.ndarray:
        """uint8 images [B, S, S, 3], z [B, Z] -> next frames I + v_hat / scale, float [B, S, S, 3]."""
        v_hat = self.decode(variables, images, z)
        return preprocessing.predicted_frame(jnp.asarray(images), v_hat, self.config.diff_scale)
