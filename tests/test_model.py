"""The paper-size network has the sizes of §4, checked with jax.eval_shape (no compute)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from visual_dynamics import config as configs
from visual_dynamics.model import CrossConvNet, latent_size, model_from_config

B = 2


def _paper(image_size):
    config = configs.base_config("exercise", image_size)
    model = model_from_config(config)
    x = jax.ShapeDtypeStruct((B, image_size, image_size, 3), jnp.float32)
    z = jax.ShapeDtypeStruct((B, latent_size(model)), jnp.float32)
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(x.shape),
                                                  jnp.zeros(x.shape), jnp.zeros(z.shape),
                                                  train=False))
    return model, variables, x, z


def test_paper_sizes_at_128():
    model, variables, x, z = _paper(128)
    assert latent_size(model) == 3200

    def run(method, *args, **kwargs):
        return jax.eval_shape(lambda v, *a: model.apply(v, *a, train=False, method=method, **kwargs),
                              variables, *args)

    (z_mean, z_logvar), state = run(CrossConvNet.encode, x, x, capture_intermediates=True)
    assert z_mean.shape == z_logvar.shape == (B, 3200)
    encoder_out = state["intermediates"]["motion_encoder"]["conv5"]["__call__"][0]
    assert encoder_out.shape == (B, 5, 5, 256)                         # "256 x 5 x 5"
    kernels = run(lambda m, z, train: m.kernel_decoder(z, train=train), z)
    assert kernels.shape == (B, 4, 5, 5, 32)                           # 4 sets of 32 kernels 5x5
    maps = run(CrossConvNet.feature_maps, x)
    assert [m.shape for m in maps] == [(B, 64, 64, 32), (B, 32, 32, 32), (B, 16, 16, 32),
                                       (B, 8, 8, 32)]                  # §4.2's four scales
    assert run(CrossConvNet.decode, x, z).shape == (B, 64, 64, 3)      # v_hat at 64 x 64


def test_paper_parameter_count_by_hand():
    _, variables, _, _ = _paper(128)
    def conv(k, cin, cout, bias=False):
        return k * k * cin * cout + (cout if bias else 0)

    def bn(c):
        return 2 * c  # scale and bias; running statistics are not parameters

    encoder = (conv(5, 6, 96) + bn(96) + conv(5, 96, 96) + bn(96) + conv(5, 96, 128) + bn(128)
               + conv(5, 128, 128) + bn(128) + conv(5, 128, 256) + bn(256)
               + conv(5, 256, 256, bias=True))
    kernel_decoder = conv(5, 128, 128) + bn(128) + conv(5, 128, 128, bias=True)
    image_encoder = 4 * (conv(5, 3, 64) + bn(64) + conv(5, 64, 64) + bn(64) + conv(5, 64, 64)
                         + bn(64) + conv(5, 64, 32) + bn(32))
    decoder = conv(9, 128, 128) + bn(128) + conv(1, 128, 128) + bn(128) + conv(1, 128, 3, bias=True)
    count = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))
    print(f"paper-size (128 px) parameters: {count:,}")
    assert count == encoder + kernel_decoder + image_encoder + decoder


def test_paper_sizes_at_64():
    model, variables, x, z = _paper(64)
    assert latent_size(model) == 3200
    out = jax.eval_shape(lambda v: model.apply(v, jnp.zeros(x.shape), jnp.zeros(x.shape),
                                               jnp.zeros(z.shape), train=False), variables)
    assert out["v_hat"].shape == (B, 32, 32, 3)
    assert out["z"].shape == (B, 3200)


def test_torch_release_pyramid_with_five_scales_gives_z_4000_kernels():
    """The paper's footnote: 128 px inputs with five scales need 5 x 5 x 32 x 5 = 4,000 numbers."""
    config = configs.base_config("exercise", 128)
    config.model.pyramid_scales = (2.0, 1.0, 0.5, 0.25, 0.125)
    config.model.decoder_size = 64
    model = model_from_config(config)
    kernels = jax.eval_shape(lambda: model.init_with_output(
        jax.random.PRNGKey(0), jnp.zeros((1, 3200)), train=False,
        method=lambda m, z, train: m.kernel_decoder(z, train=train))[0])
    assert int(np.prod(kernels.shape[1:])) == 4000


def _param_count(config) -> tuple:
    model = model_from_config(config)
    x = jnp.zeros((1, config.image_size, config.image_size, 3))
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x, x,
                                                  jnp.zeros((1, latent_size(model))), train=False))
    return model, variables, sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))


def test_z_size_ablation_adds_a_linear_layer_on_each_side_of_z():
    """§6.3: a z of 8 instead of the 5 x 5 grid. By hand: the encoder's last layer gains BN (+2c, no
    bias: -c), a linear layer maps its k*k*c outputs to 2 * 8, another maps 8 to the k x k x h grid."""
    grid = configs.make_small(configs.base_config("shapes", 64))
    _, _, grid_count = _param_count(grid)
    ablated = grid.copy_and_resolve_references()
    ablated.model.z_size = 8
    model, variables, count = _param_count(ablated)
    k, c, h = 5, grid.model.motion_encoder_layers[-1][0], grid.model.kernel_decoder_channels
    assert latent_size(model) == 8
    assert variables["params"]["motion_encoder"]["z_dense"]["kernel"].shape == (k * k * c, 16)
    assert variables["params"]["kernel_decoder"]["z_dense"]["kernel"].shape == (8, k * k * h)
    assert count - grid_count == c + (k * k * c * 16 + 16) + (8 * k * k * h + k * k * h)
    x = jnp.zeros((B, 64, 64, 3))
    out = jax.eval_shape(lambda v: model.apply(v, x, x, jnp.zeros((B, 8)), train=False), variables)
    assert out["z_mean"].shape == out["z"].shape == (B, 8) and out["v_hat"].shape == (B, 32, 32, 3)
    ablated.model.z_size = 0
    with pytest.raises(ValueError, match="z_size"):
        model_from_config(ablated)


@pytest.mark.parametrize("dataset", ["shapes", "shapes_texture", "sprites", "lpc_sprites", "exercise",
                                     "penn_action"])
def test_every_variant_of_every_dataset_builds_a_network_whose_output_is_the_decoder_size(dataset):
    import importlib

    module = importlib.import_module(f"configs.{dataset}")  # experiments/configs (conftest's path)
    for variant in configs.VARIANTS:
        config = module.get_config(variant)
        model = model_from_config(config)
        x = jnp.zeros((1, config.image_size, config.image_size, 3))
        z = jnp.zeros((1, latent_size(model)))
        out, _ = jax.eval_shape(lambda: model.init_with_output(jax.random.PRNGKey(0), x, x, z, train=False))
        side = config.model.decoder_size
        assert out["v_hat"].shape == (1, side, side, 3), (dataset, variant)
    assert module.get_config("cpu").model.decoder_size == module.get_config("cpu").image_size


def test_geometry_errors_name_the_config_entry():
    config = configs.base_config("exercise", 128)
    config.image_size = 96
    with pytest.raises(ValueError, match="motion_encoder_layers"):
        model_from_config(config)
    config = configs.base_config("exercise", 128)
    config.model.decoder_size = 48
    with pytest.raises(ValueError, match="decoder_size"):
        model_from_config(config)


def test_bfloat16_compute_keeps_float32_parameters_and_outputs():
    config = configs.make_tiny(configs.base_config("shapes", 64))
    x = jax.random.uniform(jax.random.PRNGKey(1), (4, 32, 32, 3)) - 0.5
    noise = jax.random.normal(jax.random.PRNGKey(2), (4, 200))
    f32 = model_from_config(config)
    variables = f32.init(jax.random.PRNGKey(0), x, x, noise, train=False)
    config.model.compute_dtype = "bfloat16"
    bf16 = model_from_config(config)
    assert jax.tree.structure(bf16.init(jax.random.PRNGKey(0), x, x, noise, train=False)) == \
        jax.tree.structure(variables)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables["params"]))
    out32 = f32.apply(variables, x, x, noise, train=False)
    out16 = bf16.apply(variables, x, x, noise, train=False)
    for key in ("v_hat", "z_mean"):
        assert out16[key].dtype == jnp.float32
        error = jnp.linalg.norm(out16[key] - out32[key]) / jnp.linalg.norm(out32[key])
        assert error < 0.05, (key, float(error))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape", [(2, 8, 6, 3), (2, 9, 7, 3)])
def test_max_pool_equals_flax_max_pool(shape, ties):
    """Values and gradients of nn.max_pool's 2x2 / stride 2 (odd sides: the last row / column dropped),
    on random inputs and on inputs of a few integer levels, where most windows hold tied maxima (as
    flat image regions and ReLU zeros do): the gradient goes to the first of them."""
    import flax.linen as nn

    from visual_dynamics.model import max_pool_2x2

    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    if ties:
        x = jnp.round(x).clip(-1, 1)
    weights = jax.random.normal(jax.random.PRNGKey(1), (shape[0], shape[1] // 2, shape[2] // 2, shape[3]))
    ours, flax_pool = max_pool_2x2, lambda x: nn.max_pool(x, (2, 2), strides=(2, 2))
    np.testing.assert_array_equal(ours(x), flax_pool(x))
    grads = [jax.grad(lambda x, pool=pool: jnp.sum(pool(x) * weights))(x) for pool in (ours, flax_pool)]
    np.testing.assert_array_equal(grads[0], grads[1])
    if ties:
        windows = x[:, :shape[1] // 2 * 2, :shape[2] // 2 * 2].reshape(
            shape[0], shape[1] // 2, 2, shape[2] // 2, 2, shape[3])
        tied = (windows == windows.max(axis=(2, 4), keepdims=True)).sum(axis=(2, 4)) > 1
        assert tied.mean() > 0.3  # the case this parametrisation is for


def test_each_sprites_study_variant_changes_one_thing_from_cpu_and_builds():
    from configs import lpc_sprites

    base = lpc_sprites.get_config("cpu").to_dict()

    def flat(tree, prefix=""):
        return {k: v for key, value in tree.items()
                for k, v in (flat(value, f"{prefix}{key}.").items() if isinstance(value, dict)
                             else [(f"{prefix}{key}", value)])}

    for lever, (_, overrides) in lpc_sprites.STUDY_LEVERS.items():
        config = lpc_sprites.get_config(f"cpu_{lever}")
        changed = {k for k, v in flat(config.to_dict()).items() if flat(base)[k] != v}
        assert changed == set(overrides), lever
        model = model_from_config(config)
        x = jnp.zeros((1, 64, 64, 3))
        z = jnp.zeros((1, latent_size(model)))
        out, _ = jax.eval_shape(lambda: model.init_with_output(jax.random.PRNGKey(0), x, x, z, train=False))
        assert out["v_hat"].shape == (1, 64, 64, 3), lever
    with pytest.raises(ValueError, match="the study's are cpu_48k"):
        lpc_sprites.get_config("cpu_deeper")
