"""Inference with a trained network: encode pairs to z, decode z and an image to next frames, read the
image encoder's feature maps; and the test reconstruction error that training reports.

Imports the model and image conventions only, so loading a checkpoint for inference needs no training
or dataset code.
"""

import jax.numpy as jnp
import ml_collections
import numpy as np

from visual_dynamics import compilation, losses, preprocessing
from visual_dynamics.model import CrossConvNet, model_from_config


class Inference:
    """Jitted encode / decode of the network of `config`, BatchNorm in eval mode.

    Every method takes the variables {'params', 'batch_stats'} explicitly, so one instance
    serves every checkpoint of a run and compiles once per input shape.
    """

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.model = model_from_config(config)
        self._encode = compilation.jit(self._encode_fn)
        self._decode = compilation.jit(self._decode_fn)
        self._feature_maps = compilation.jit(self._feature_maps_fn)

    def _encode_fn(self, variables, images, next_images):
        image, diff, _ = preprocessing.model_inputs(dict(image=images, next_image=next_images), self.config)
        return self.model.apply(variables, image, diff, train=False, method=CrossConvNet.encode)

    def _decode_fn(self, variables, images, z):
        image = preprocessing.network_image(images, self.config)
        return self.model.apply(variables, image, z, train=False, method=CrossConvNet.decode)

    def _feature_maps_fn(self, variables, images):
        image = preprocessing.network_image(images, self.config)
        return self.model.apply(variables, image, train=False, method=CrossConvNet.feature_maps)

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

    def feature_maps(self, variables: dict, images) -> list[jnp.ndarray]:
        """uint8 images [B, S, S, 3] -> the image encoder's outputs, one [B, h_s, w_s, C] per pyramid
        scale."""
        return self._feature_maps(variables, images)


def evaluate_reconstruction(inference: Inference, variables: dict, batches: list[dict]) -> dict:
    """Test reconstruction error: decode with z = z_mean of each test pair, running BN stats; batches
    may differ in size (a last partial one).

    Returns:
      {'recon': mean error of Eq. 5's norm; 'recon_zero_motion': the same error of predicting
      v = 0 (copying the input), the reference an untrained model should beat}.
    """
    config = inference.config
    recon, zero = [], []
    for batch in batches:
        _, _, target = preprocessing.model_inputs(batch, config)
        z_mean, _ = inference.encode(variables, batch["image"], batch["next_image"])
        v_hat = inference.decode(variables, batch["image"], z_mean)
        recon.append(losses.reconstruction_error(target, v_hat, config.recon_norm))
        zero.append(losses.reconstruction_error(target, jnp.zeros_like(target), config.recon_norm))
    # Means over examples, so that a last partial batch weighs by its size.
    return dict(recon=float(np.mean(np.concatenate(recon))),
                recon_zero_motion=float(np.mean(np.concatenate(zero))))
