"""The matmul weight-gradient convolution equals lax.conv_general_dilated, values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from visual_dynamics import config as configs
from visual_dynamics.conv import conv_function, conv_general_dilated
from visual_dynamics.model import latent_size, model_from_config

NHWC = ("NHWC", "HWIO", "NHWC")


@pytest.fixture(autouse=True)
def full_float32_precision():
    """Both forms in full float32: on GPUs JAX's default is TF32 (10-bit mantissa) for convolutions
    and matmuls, under which two equal formulas differ by ~1e-2 relative."""
    with jax.default_matmul_precision("highest"):
        yield


def _grads(conv, x, w, padding, strides=(1, 1)):
    dn = lax.conv_dimension_numbers(x.shape, w.shape, NHWC)

    def loss(x, w):
        return jnp.sum(jnp.sin(conv(x, w, strides, padding, dimension_numbers=dn)))

    return loss(x, w), jax.grad(loss, argnums=(0, 1))(x, w)


@pytest.mark.parametrize("padding,kh,kw", [("SAME", 5, 5), ("VALID", 5, 5), ("SAME", 1, 1),
                                           ("SAME", 9, 9), ("SAME", 3, 5), ("VALID", 2, 3)])
def test_values_and_gradients_equal_lax(padding, kh, kw):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 11, 13, 3))
    w = jax.random.normal(jax.random.PRNGKey(1), (kh, kw, 3, 4))
    (value, grads), (ref_value, ref_grads) = (_grads(conv_general_dilated, x, w, padding),
                                              _grads(lax.conv_general_dilated, x, w, padding))
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def test_strided_convolutions_fall_back_to_lax():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
    w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 2))
    for g, r in zip(_grads(conv_general_dilated, x, w, "SAME", (2, 2))[1],
                    _grads(lax.conv_general_dilated, x, w, "SAME", (2, 2))[1]):
        np.testing.assert_array_equal(g, r)


def test_whole_network_gradients_agree_between_implementations():
    grads = {}
    for impl in ("xla", "matmul"):
        config = configs.make_tiny(configs.base_config("shapes", 64))
        config.model.conv_weight_grad = impl
        model = model_from_config(config)
        x = jax.random.uniform(jax.random.PRNGKey(1), (4, 32, 32, 3)) - 0.5
        noise = jax.random.normal(jax.random.PRNGKey(2), (4, latent_size(model)))
        variables = model.init(jax.random.PRNGKey(0), x, x, noise, train=False)

        def loss(params):
            out, _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x, x,
                                 noise, train=True, mutable=["batch_stats"])
            return jnp.sum(out["v_hat"] ** 2)

        grads[impl] = jax.grad(loss)(variables["params"])
    for a, b in zip(jax.tree.leaves(grads["matmul"]), jax.tree.leaves(grads["xla"])):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * float(jnp.abs(b).max()))


def test_choice_by_name():
    assert conv_function("xla") is lax.conv_general_dilated
    assert conv_function("matmul") is conv_general_dilated
    with pytest.raises(ValueError, match="conv_weight_grad"):
        conv_function("auto")
