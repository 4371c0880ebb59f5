"""The Layered Cross Convolutional Network in PyTorch, written for benchmarks/vs_pytorch.py.

The same layers, sizes, data conventions and loss as `visual_dynamics.model.CrossConvNet` and
`visual_dynamics.losses` (NCHW instead of NHWC), built from the same `config`, so that a train step
of each can be timed side by side. `load_flax_variables` copies a Flax checkpoint's variables into
it; tests/test_vs_pytorch.py checks that both then compute the same v_hat. Only the paper's latent
(`config.model.z_size` None) is written here.

The cross convolution is the usual PyTorch idiom: the batch folded into the channels and one
grouped `conv2d` with a group per (sample, map).
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Flax's BatchNorm: running = 0.9 * running + 0.1 * batch (PyTorch's momentum is the 0.1), eps 1e-5.
BN_EPSILON = 1e-5


def _padding(padding: str, size: int) -> int:
    return size // 2 if padding == "SAME" else 0


class ConvBNReLU(nn.Module):
    def __init__(self, in_channels: int, features: int, size: int, padding: str, bn_momentum: float):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, features, size, padding=_padding(padding, size), bias=False)
        self.bn = nn.BatchNorm2d(features, eps=BN_EPSILON, momentum=1.0 - bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class MotionEncoder(nn.Module):
    """(I, v) [B, 3, S, S] each -> z_mean, z_logvar [B, Z], z flattened in Flax's (h, w, c) order."""

    def __init__(self, layers, conv_size: int, bn_momentum: float):
        super().__init__()
        self.pools = [pool for _, _, pool in layers]
        blocks, channels = [], 6
        for i, (features, padding, _) in enumerate(layers):
            if i == len(layers) - 1:
                blocks.append(nn.Conv2d(channels, features, conv_size,
                                        padding=_padding(padding, conv_size)))
            else:
                blocks.append(ConvBNReLU(channels, features, conv_size, padding, bn_momentum))
            channels = features
        self.blocks = nn.ModuleList(blocks)

    def forward(self, image: torch.Tensor, diff: torch.Tensor):
        x = torch.cat([image, diff], dim=1)
        for block, pool in zip(self.blocks, self.pools):
            x = block(x)
            if pool:
                x = F.max_pool2d(x, 2)
        z_mean, z_logvar = x.chunk(2, dim=1)
        return (z_mean.permute(0, 2, 3, 1).flatten(1), z_logvar.permute(0, 2, 3, 1).flatten(1))


class KernelDecoder(nn.Module):
    """z [B, Z] -> kernels [B, scales, C, k, k]."""

    def __init__(self, z_channels: int, kernel_size: int, hidden: int, scales: int, maps: int,
                 conv_size: int, bn_momentum: float):
        super().__init__()
        self.kernel_size, self.scales, self.maps = kernel_size, scales, maps
        self.layer0 = ConvBNReLU(z_channels, hidden, conv_size, "SAME", bn_momentum)
        self.conv1 = nn.Conv2d(hidden, scales * maps, conv_size, padding=conv_size // 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        x = z.reshape(z.shape[0], k, k, -1).permute(0, 3, 1, 2)
        x = self.conv1(self.layer0(x))
        return x.reshape(z.shape[0], self.scales, self.maps, k, k)


class ImageEncoder(nn.Module):
    """One pyramid scale: [B, 3, H, W] -> [B, C, H / 4, W / 4]."""

    def __init__(self, channels, pool_after, conv_size: int, bn_momentum: float):
        super().__init__()
        self.pool_after = set(pool_after)
        layers, previous = [], 3
        for features in channels:
            layers.append(ConvBNReLU(previous, features, conv_size, "SAME", bn_momentum))
            previous = features
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.pool_after:
                x = F.max_pool2d(x, 2)
        return x


def cross_convolve(maps: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Each sample's maps [B, C, H, W] correlated with its own kernels [B, C, k, k] ('SAME')."""
    b, c, h, w = maps.shape
    k = kernels.shape[-1]
    out = F.conv2d(maps.reshape(1, b * c, h, w), kernels.reshape(b * c, 1, k, k), padding=k // 2,
                   groups=b * c)
    return out.reshape(b, c, h, w)


class MotionDecoder(nn.Module):
    """Cross-convolved maps of every scale -> v_hat [B, 3, D, D]."""

    def __init__(self, in_channels: int, output_size: int, channels, conv_sizes, bn_momentum: float):
        super().__init__()
        self.output_size = output_size
        layers, previous = [], in_channels
        for features, size in zip(channels, conv_sizes):
            layers.append(ConvBNReLU(previous, features, size, "SAME", bn_momentum))
            previous = features
        self.layers = nn.ModuleList(layers)
        self.out = nn.Conv2d(previous, 3, 1)

    def forward(self, maps) -> torch.Tensor:
        x = torch.cat([F.interpolate(m, scale_factor=self.output_size // m.shape[-1], mode="nearest")
                       for m in maps], dim=1)
        for layer in self.layers:
            x = layer(x)
        return self.out(x)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear, antialiased when shrinking (as jax.image.resize 'linear'): [B, C, H, W]."""
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=size < images.shape[-1])


class CrossConvNet(nn.Module):
    """The whole network of `config.model` (paper latent only)."""

    def __init__(self, config):
        super().__init__()
        m = config.model
        if m.z_size is not None:
            raise NotImplementedError("the PyTorch benchmark network has the paper's latent only")
        self.image_size = config.image_size
        self.pyramid = [int(round(config.image_size * s)) for s in m.pyramid_scales]
        momentum = m.bn_momentum
        z_channels = m.motion_encoder_layers[-1][0] // 2
        self.latent_size = m.kernel_size ** 2 * z_channels
        maps = m.image_encoder_channels[-1]
        self.motion_encoder = MotionEncoder(m.motion_encoder_layers, m.conv_size, momentum)
        self.kernel_decoder = KernelDecoder(z_channels, m.kernel_size, m.kernel_decoder_channels,
                                            len(m.pyramid_scales), maps, m.conv_size, momentum)
        self.image_encoders = nn.ModuleList(
            ImageEncoder(m.image_encoder_channels, m.image_encoder_pool_after, m.conv_size, momentum)
            for _ in m.pyramid_scales)
        self.motion_decoder = MotionDecoder(maps * len(m.pyramid_scales), m.decoder_size,
                                            m.decoder_channels, m.decoder_conv_sizes, momentum)

    def decode(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        kernels = self.kernel_decoder(z)
        crossed = [cross_convolve(encoder(resize(image, side)), kernels[:, s])
                   for s, (side, encoder) in enumerate(zip(self.pyramid, self.image_encoders))]
        return self.motion_decoder(crossed)

    def forward(self, image: torch.Tensor, diff: torch.Tensor, noise: torch.Tensor, variational=True):
        z_mean, z_logvar = self.motion_encoder(image, diff)
        z = z_mean + torch.exp(0.5 * z_logvar) * noise if variational else z_mean
        return self.decode(image, z), z_mean, z_logvar


def model_inputs(image_u8: torch.Tensor, next_u8: torch.Tensor, config):
    """uint8 [B, H, W, 3] pairs -> (image, diff [B, 3, S, S], target [B, 3, D, D]) as in
    `visual_dynamics.preprocessing.model_inputs`."""
    mean = torch.tensor(config.image_mean, device=image_u8.device).reshape(1, 3, 1, 1)

    def network_image(u8):
        return resize(u8.permute(0, 3, 1, 2).float() / 255.0 - mean, config.image_size)

    image = network_image(image_u8)
    diff = (network_image(next_u8) - image) * config.diff_scale
    return image, diff, resize(diff, config.model.decoder_size)


def loss_fn(model: CrossConvNet, image_u8, next_u8, noise, config) -> torch.Tensor:
    """Batch mean of Eq. 5 (as `visual_dynamics.losses.vae_loss`, 'l2' norm)."""
    image, diff, target = model_inputs(image_u8, next_u8, config)
    v_hat, z_mean, z_logvar = model(image, diff, noise, config.model.variational)
    recon = ((target - v_hat.float()) ** 2).mean(dim=(1, 2, 3))
    kl = 0.5 * (z_mean ** 2 + z_logvar.exp() - z_logvar - 1.0).float().sum(dim=1)
    return (config.recon_weight * recon + (kl if config.model.variational else 0.0)).mean()


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_flax_variables(model: CrossConvNet, variables: dict) -> None:
    """Copies Flax variables {'params', 'batch_stats'} of the same config into `model`."""
    params, stats = variables["params"], variables["batch_stats"]

    def tensor(x) -> torch.Tensor:
        return torch.from_numpy(np.array(x, dtype=np.float32))

    def conv(module: nn.Conv2d, p: dict) -> None:
        module.weight.data = tensor(p["kernel"]).permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
        if module.bias is not None:
            module.bias.data = tensor(p["bias"])

    def block(module: ConvBNReLU, p: dict, s: dict) -> None:
        conv(module.conv, p["conv"])
        module.bn.weight.data, module.bn.bias.data = tensor(p["bn"]["scale"]), tensor(p["bn"]["bias"])
        module.bn.running_mean.data = tensor(s["bn"]["mean"])
        module.bn.running_var.data = tensor(s["bn"]["var"])

    def layers(modules, p: dict, s: dict, prefix: str = "layer") -> None:
        for i, module in enumerate(modules):
            if isinstance(module, ConvBNReLU):
                block(module, p[f"{prefix}{i}"], s[f"{prefix}{i}"])
            else:
                conv(module, p[f"conv{i}"])

    layers(model.motion_encoder.blocks, params["motion_encoder"], stats["motion_encoder"])
    block(model.kernel_decoder.layer0, params["kernel_decoder"]["layer0"],
          stats["kernel_decoder"]["layer0"])
    conv(model.kernel_decoder.conv1, params["kernel_decoder"]["conv1"])
    for s, encoder in enumerate(model.image_encoders):
        layers(encoder.layers, params[f"image_encoder{s}"], stats[f"image_encoder{s}"])
    layers(model.motion_decoder.layers, params["motion_decoder"], stats["motion_decoder"])
    conv(model.motion_decoder.out, params["motion_decoder"]["out"])
