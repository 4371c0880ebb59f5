"""The Layered Cross Convolutional Network (§4.2, Fig. 3), one Flax module per part.

Parts: (a) motion encoder q(z | v, I), (b) kernel decoder z -> per-sample kernels,
(c) multi-scale image encoder I -> feature maps ("layers"), (d) cross convolution of (c) with
(b), (e) motion decoder -> predicted difference image v_hat. All images are NHWC.
"""

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from visual_dynamics.cross_conv import get_implementation

# One motion-encoder layer: (output channels, 'SAME' or 'VALID' padding, 2x2 max pool after).
EncoderLayer = tuple[int, str, bool]


def _conv(module: nn.Module, features: int, size: int, padding: str = "SAME",
          use_bias: bool = True, name: Optional[str] = None) -> nn.Conv:
    """A square convolution in `module`'s compute dtype."""
    return nn.Conv(features, (size, size), padding=padding, use_bias=use_bias, dtype=module.dtype,
                   name=name)


def _shared(module: nn.Module) -> dict:
    """The settings every layer of a part takes from the part (BatchNorm, dtype)."""
    return dict(bn_momentum=module.bn_momentum, bn_axis_name=module.bn_axis_name, dtype=module.dtype)


class ConvBNReLU(nn.Module):
    """Square convolution, batch normalisation and ReLU.

    BatchNorm statistics are averaged over `bn_axis_name` when training under `pmap`, so that
    the batch statistics are those of the global batch, whatever the device count. `dtype` is
    the compute dtype; parameters stay float32.
    """

    features: int
    kernel_size: int
    padding: str = "SAME"
    bn_momentum: float = 0.9
    bn_axis_name: Optional[str] = None
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x: jnp.ndarray, *, train: bool) -> jnp.ndarray:
        x = _conv(self, self.features, self.kernel_size, self.padding, use_bias=False,
                  name="conv")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                         axis_name=self.bn_axis_name if train else None, dtype=self.dtype,
                         name="bn")(x)
        return nn.relu(x)


@jax.custom_vjp
def _max_over_windows(windows: jnp.ndarray) -> jnp.ndarray:
    """[B, H', W', C, 4] (each 2x2 window row-major on the last axis) -> its max [B, H', W', C]."""
    return windows.max(axis=-1)


def _max_over_windows_forward(windows):
    return windows.max(axis=-1), jnp.argmax(windows, axis=-1).astype(jnp.int8)


def _max_over_windows_backward(first, g):
    """The gradient to the first maximum of each window in row-major order, as select-and-scatter
    gives it, at the position the forward pass saved (argmax takes the first of ties). A version that
    found the maxima here by comparing values lost some windows' gradients (tests/test_compilation.py)."""
    return (jnp.where(first[..., None] == jnp.arange(4, dtype=jnp.int8), g[..., None], 0).astype(g.dtype),)


_max_over_windows.defvjp(_max_over_windows_forward, _max_over_windows_backward)


def max_pool_2x2(x: jnp.ndarray) -> jnp.ndarray:
    """2x2 max pooling, stride 2, a last odd row / column dropped: [B, H, W, C] -> [B, H / 2, W / 2, C].

    `nn.max_pool(x, (2, 2), strides=(2, 2))` in values and gradients (a window's gradient goes to its
    first maximum, ties included), written as a reshape and a max with an elementwise gradient, which
    XLA's CPU backend computes several times faster than max_pool's select-and-scatter
    (benchmarks/max_pool.py).
    """
    b, h, w, c = x.shape
    x = x[:, :h - h % 2, :w - w % 2].reshape(b, h // 2, 2, w // 2, 2, c)
    windows = x.transpose(0, 1, 3, 5, 2, 4).reshape(b, h // 2, w // 2, c, 4)
    return _max_over_windows(windows)


class MotionEncoder(nn.Module):
    """q(z | v, I): [B, H, W, 3] image and [B, H, W, 3] difference -> z_mean, z_logvar [B, Z].

    Paper (`z_size` None): the last layer is a linear convolution whose output [B, k, k, 2c] is
    split along channels into mean and log-variance, each flattened to Z = k * k * c (paper:
    128 x 5 x 5 = 3,200). With `z_size` set (the z-size ablation, §6.3) the last layer is a
    convolution + BN + ReLU like the others and a linear layer maps its flattened grid to
    2 * z_size values.
    """

    layers: Sequence[EncoderLayer]
    z_size: Optional[int] = None
    conv_size: int = 5
    bn_momentum: float = 0.9
    bn_axis_name: Optional[str] = None
    dtype: str = "float32"

    @nn.compact
    def __call__(self, image: jnp.ndarray, diff: jnp.ndarray, *, train: bool):
        x = jnp.concatenate([image, diff], axis=-1)
        for i, (features, padding, pool) in enumerate(self.layers):
            if i == len(self.layers) - 1 and self.z_size is None:
                x = _conv(self, features, self.conv_size, padding, name=f"conv{i}")(x)
            else:
                x = ConvBNReLU(features, self.conv_size, padding, **_shared(self),
                               name=f"layer{i}")(x, train=train)
            if pool:
                x = max_pool_2x2(x)
        if self.z_size is not None:
            x = nn.Dense(2 * self.z_size, dtype=self.dtype, name="z_dense")(x.reshape(x.shape[0], -1))
        z_mean, z_logvar = jnp.split(x, 2, axis=-1)
        return z_mean.reshape(x.shape[0], -1), z_logvar.reshape(x.shape[0], -1)


class KernelDecoder(nn.Module):
    """z [B, Z] -> per-sample kernels [B, S, k, k, C] (paper: 4 scales x 32 kernels of 5 x 5).

    z is viewed as a [B, k, k, Z / k^2] grid and sent through two 5 x 5 convolutions, the second
    with S * C channels, which are split into S sets of C kernels. With `dense_input` (the z-size
    ablation: z of any length) a linear layer first maps z to a [B, k, k, hidden_channels] grid.
    """

    kernel_size: int
    num_scales: int
    maps_per_scale: int
    hidden_channels: int = 128
    dense_input: bool = False
    conv_size: int = 5
    bn_momentum: float = 0.9
    bn_axis_name: Optional[str] = None
    dtype: str = "float32"

    @nn.compact
    def __call__(self, z: jnp.ndarray, *, train: bool) -> jnp.ndarray:
        batch, k = z.shape[0], self.kernel_size
        if self.dense_input:
            z = nn.Dense(k * k * self.hidden_channels, dtype=self.dtype, name="z_dense")(z)
        elif z.shape[1] % (k * k):
            raise ValueError(f"latent size {z.shape[1]} is not a multiple of kernel_size^2 = {k * k}")
        x = z.reshape(batch, k, k, z.shape[1] // (k * k))
        x = ConvBNReLU(self.hidden_channels, self.conv_size, "SAME", **_shared(self),
                       name="layer0")(x, train=train)
        x = _conv(self, self.num_scales * self.maps_per_scale, self.conv_size, name="conv1")(x)
        x = x.reshape(batch, k, k, self.num_scales, self.maps_per_scale)
        return x.transpose(0, 3, 1, 2, 4)


class ImageEncoder(nn.Module):
    """One pyramid scale: [B, H, W, 3] -> feature maps [B, H / 4, W / 4, C] (paper: C = 32)."""

    channels: Sequence[int] = (64, 64, 64, 32)
    pool_after: Sequence[int] = (1, 3)
    conv_size: int = 5
    bn_momentum: float = 0.9
    bn_axis_name: Optional[str] = None
    dtype: str = "float32"

    @nn.compact
    def __call__(self, image: jnp.ndarray, *, train: bool) -> jnp.ndarray:
        x = image
        for i, features in enumerate(self.channels):
            x = ConvBNReLU(features, self.conv_size, "SAME", **_shared(self),
                           name=f"layer{i}")(x, train=train)
            if i in self.pool_after:
                x = max_pool_2x2(x)
        return x


class MotionDecoder(nn.Module):
    """Cross-convolved maps of every scale -> difference image v_hat [B, D, D, 3].

    Each scale is upsampled (nearest neighbour) to D = `output_size`, concatenated, then sent
    through 9 x 9 and 1 x 1 convolution + BN layers (128, 128) and a linear 1 x 1 convolution to 3.
    """

    output_size: int
    channels: Sequence[int] = (128, 128)
    conv_sizes: Sequence[int] = (9, 1)
    bn_momentum: float = 0.9
    bn_axis_name: Optional[str] = None
    dtype: str = "float32"

    @nn.compact
    def __call__(self, maps: Sequence[jnp.ndarray], *, train: bool) -> jnp.ndarray:
        upsampled = []
        for m in maps:
            factor = self.output_size // m.shape[1]
            upsampled.append(jnp.repeat(jnp.repeat(m, factor, axis=1), factor, axis=2))
        x = jnp.concatenate(upsampled, axis=-1)
        for i, (features, size) in enumerate(zip(self.channels, self.conv_sizes)):
            x = ConvBNReLU(features, size, "SAME", **_shared(self), name=f"layer{i}")(x, train=train)
        return _conv(self, 3, 1, name="out")(x)


def pyramid_sizes(image_size: int, scales: Sequence[float]) -> list[int]:
    """Side lengths of the image pyramid: one per scale factor of the input side."""
    return [int(round(image_size * s)) for s in scales]


class CrossConvNet(nn.Module):
    """The whole network. Configured by `config.model` (see visual_dynamics/config.py).

    Attributes mirror §4: `motion_encoder_layers` (six 5 x 5 layers, 96 ... 256 channels),
    `kernel_size` (5), `kernel_decoder_channels` (128), `pyramid_scales` (factors of the input
    side), `image_encoder_channels` (64, 64, 64, 32) and `decoder_size` (64). Beyond the paper:
    `z_size` (None: z is the encoder's k x k grid, 3,200 in the paper; a number: z of that length
    through linear layers on both sides, for the ablation of §6.3),
    `variational` (False gives the paper's AE baseline: no sampler, z = z_mean),
    `cross_conv_impl` ('auto', 'reference' or 'shift_add'; all compute the same function),
    `compute_dtype` ('float32' or 'bfloat16'; parameters and outputs stay float32).
    """

    motion_encoder_layers: Sequence[EncoderLayer]
    z_size: Optional[int] = None
    kernel_size: int = 5
    kernel_decoder_channels: int = 128
    pyramid_scales: Sequence[float] = (2.0, 1.0, 0.5, 0.25)
    image_encoder_channels: Sequence[int] = (64, 64, 64, 32)
    image_encoder_pool_after: Sequence[int] = (1, 3)
    decoder_size: int = 64
    decoder_channels: Sequence[int] = (128, 128)
    decoder_conv_sizes: Sequence[int] = (9, 1)
    conv_size: int = 5
    variational: bool = True
    cross_conv_impl: str = "auto"
    compute_dtype: str = "float32"
    bn_momentum: float = 0.9
    bn_axis_name: Optional[str] = None

    def setup(self):
        shared = dict(bn_momentum=self.bn_momentum, bn_axis_name=self.bn_axis_name,
                      dtype=self.compute_dtype)
        self.motion_encoder = MotionEncoder(self.motion_encoder_layers, z_size=self.z_size,
                                            conv_size=self.conv_size, **shared)
        self.kernel_decoder = KernelDecoder(self.kernel_size, len(self.pyramid_scales),
                                            self.image_encoder_channels[-1],
                                            self.kernel_decoder_channels,
                                            dense_input=self.z_size is not None,
                                            conv_size=self.conv_size, **shared)
        self.image_encoders = [
            ImageEncoder(self.image_encoder_channels, self.image_encoder_pool_after,
                         self.conv_size, **shared, name=f"image_encoder{s}")
            for s in range(len(self.pyramid_scales))
        ]
        self.motion_decoder = MotionDecoder(self.decoder_size, self.decoder_channels,
                                            self.decoder_conv_sizes, **shared)

    def encode(self, image: jnp.ndarray, diff: jnp.ndarray, *, train: bool):
        """q(z | v, I): image, diff [B, H, W, 3] -> (z_mean, z_logvar), each float32 [B, Z]."""
        z_mean, z_logvar = self.motion_encoder(image, diff, train=train)
        return z_mean.astype(jnp.float32), z_logvar.astype(jnp.float32)

    def feature_maps(self, image: jnp.ndarray, *, train: bool) -> list[jnp.ndarray]:
        """Image encoder on the pyramid of `image` [B, H, W, 3] -> one [B, h_s, w_s, C] per scale."""
        batch, size = image.shape[0], image.shape[1]
        maps = []
        for side, encoder in zip(pyramid_sizes(size, self.pyramid_scales), self.image_encoders):
            scaled = jax.image.resize(image, (batch, side, side, image.shape[-1]), "linear")
            maps.append(encoder(scaled, train=train))
        return maps

    def decode(self, image: jnp.ndarray, z: jnp.ndarray, *, train: bool) -> jnp.ndarray:
        """f_mean(z, I): image [B, H, W, 3], z [B, Z] -> v_hat float32 [B, D, D, 3]."""
        kernels = self.kernel_decoder(z, train=train)
        maps = self.feature_maps(image, train=train)
        cross_convolve = get_implementation(self.cross_conv_impl)
        crossed = [cross_convolve(m, kernels[:, s]) for s, m in enumerate(maps)]
        return self.motion_decoder(crossed, train=train).astype(jnp.float32)

    def __call__(self, image: jnp.ndarray, diff: jnp.ndarray, noise: jnp.ndarray, *, train: bool):
        """Training pass: encode (I, v), sample z = z_mean + exp(z_logvar / 2) * noise, decode.

        Args:
          image: [B, H, W, 3] mean-subtracted input frame I.
          diff: [B, H, W, 3] scaled difference image v.
          noise: [B, Z] standard normal draws (ignored when not `variational`).
          train: batch statistics (True) or running averages (False) in BatchNorm.

        Returns:
          dict with v_hat [B, D, D, 3], z_mean, z_logvar and z, each [B, Z].
        """
        z_mean, z_logvar = self.encode(image, diff, train=train)
        z = z_mean + jnp.exp(0.5 * z_logvar) * noise if self.variational else z_mean
        return dict(v_hat=self.decode(image, z, train=train), z_mean=z_mean, z_logvar=z_logvar, z=z)


def check_geometry(model: CrossConvNet, image_size: int) -> None:
    """Raises ValueError, naming the config entry to change, if sizes do not fit together."""
    side = image_size
    for features, padding, pool in model.motion_encoder_layers:
        side = side - model.conv_size + 1 if padding == "VALID" else side
        side = side // 2 if pool else side
        if side < 1:
            raise ValueError(f"config.model.motion_encoder_layers shrink a {image_size}px input "
                             f"below 1px; use fewer 'VALID' layers or pools")
    if model.z_size is None and side != model.kernel_size:  # with z_size, a dense layer takes any grid
        raise ValueError(
            f"config.model.motion_encoder_layers turn a {image_size}px input into a {side}x{side} "
            f"grid, but kernel_size is {model.kernel_size}: the latent grid must be "
            f"kernel_size x kernel_size (paper: 5x5), or set config.model.z_size")
    if model.z_size is not None and model.z_size < 1:
        raise ValueError(f"config.model.z_size={model.z_size} must be a positive length "
                         f"(or None for the paper's k x k grid)")
    if model.z_size is None and model.motion_encoder_layers[-1][0] % 2:
        raise ValueError("the last motion-encoder layer needs an even channel count "
                         "(half z_mean, half z_logvar)")
    shrink = 2 ** len(model.image_encoder_pool_after)
    for side in pyramid_sizes(image_size, model.pyramid_scales):
        if side % shrink or model.decoder_size % (side // shrink):
            raise ValueError(
                f"pyramid scale of {side}px gives {side / shrink}px feature maps, which must be "
                f"whole and divide config.model.decoder_size={model.decoder_size}")


def latent_size(model: CrossConvNet) -> int:
    """Z, the length of z: `z_size`, or kernel_size^2 x half the last motion-encoder channel count."""
    if model.z_size is not None:
        return model.z_size
    return model.kernel_size ** 2 * model.motion_encoder_layers[-1][0] // 2


def _as_tuples(value):
    """Lists (as configs read back from JSON hold them) -> tuples, recursively."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


def model_from_config(config, bn_axis_name: Optional[str] = None) -> CrossConvNet:
    """The network of `config.model`, its geometry checked against `config.image_size`."""
    kwargs = {k: _as_tuples(v) for k, v in config.model.items()}
    model = CrossConvNet(**kwargs, bn_axis_name=bn_axis_name)
    check_geometry(model, config.image_size)
    return model
