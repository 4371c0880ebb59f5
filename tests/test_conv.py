"""The CPU convolution (im2col weight gradient, padded 'VALID') equals lax.conv_general_dilated, values
and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from visual_dynamics import config as configs
from visual_dynamics import conv
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


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_weight_gradient_summed_over_many_chunks(monkeypatch, padding):
    """Chunks of one output row (a 1-byte chunk budget) give the same gradients as one chunk."""
    monkeypatch.setattr(conv, "CHUNK_BYTES", 1)
    assert conv.chunk_rows(11, 10 ** 6) == 1
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 11, 9, 4))
    w = jax.random.normal(jax.random.PRNGKey(1), (5, 3, 4, 6))
    for g, r in zip(_grads(conv_general_dilated, x, w, padding)[1],
                    _grads(lax.conv_general_dilated, x, w, padding)[1]):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def test_chunk_rows_divide_the_height_within_the_budget():
    budget = conv.CHUNK_BYTES
    assert conv.chunk_rows(128, budget // 8) == 8      # 8 rows fit exactly
    assert conv.chunk_rows(128, budget // 10) == 8     # 10 fit; 8 is the largest divisor of 128 <= 10
    assert conv.chunk_rows(61, budget // 10) == 1      # a prime height: one row at a time
    assert conv.chunk_rows(32, 1) == 32                # everything fits
    assert conv.chunk_rows(32, budget * 2) == 1        # not even one row fits: one row anyway


def test_strided_convolutions_fall_back_to_lax():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
    w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 2))
    for g, r in zip(_grads(conv_general_dilated, x, w, "SAME", (2, 2))[1],
                    _grads(lax.conv_general_dilated, x, w, "SAME", (2, 2))[1]):
        np.testing.assert_array_equal(g, r)


def test_whole_network_gradients_agree_between_implementations():
    grads = {}
    for impl in ("xla", "im2col"):
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
    for a, b in zip(jax.tree.leaves(grads["im2col"]), jax.tree.leaves(grads["xla"])):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * float(jnp.abs(b).max()))


def test_choice_by_name():
    assert conv_function("xla") is lax.conv_general_dilated
    assert conv_function("im2col") is conv_general_dilated
    assert conv.default_weight_grad("cpu") == "im2col" and conv.default_weight_grad("gpu") == "xla"
    expected = conv_function(conv.default_weight_grad(jax.default_backend()))
    assert conv_function("auto") is expected
    with pytest.raises(ValueError, match="conv_weight_grad"):
        conv_function("matmul")
