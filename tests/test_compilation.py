"""Compiler options: on CPU they reach the compiled network and leave its results unchanged."""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from conftest import float64
from visual_dynamics import compilation

NHWC = ("NHWC", "HWIO", "NHWC")


def _conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC)


def _conv_inputs():
    return (jax.random.normal(jax.random.PRNGKey(0), (2, 16, 16, 32)),
            jax.random.normal(jax.random.PRNGKey(1), (5, 5, 32, 32)))


def test_options_by_backend():
    assert compilation.compiler_options("cpu") == compilation.CPU_OPTIONS
    assert compilation.compiler_options("gpu") is None and compilation.compiler_options("tpu") is None


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the options are CPU options")
def test_cpu_convolutions_compile_without_ynnpack_fusions_and_reductions_with():
    """XLA's defaults put a convolution in a YNNPACK fusion; compiled with our options it is not, while
    a reduction still is (XLA's classic reductions sum less accurately)."""
    args = _conv_inputs()

    def compiled_text(jit, fn, *args):
        return jit(fn).lower(*args).compile().as_text()

    assert "__ynn_fusion" in compiled_text(jax.jit, _conv, *args), (
        "this jaxlib no longer fuses convolutions with YNNPACK: revisit CPU_OPTIONS")
    assert "__ynn_fusion" not in compiled_text(compilation.jit, _conv, *args)
    column_sums = functools.partial(jnp.sum, axis=0)
    assert "__ynn_fusion" in compiled_text(compilation.jit, column_sums, jnp.ones((256, 256)))


def test_jit_with_options_computes_the_same_values():
    args = _conv_inputs()
    np.testing.assert_allclose(compilation.jit(_conv)(*args), jax.jit(_conv)(*args), rtol=1e-4, atol=1e-4)


def test_pmapped_compiles_once_per_signature_and_matches_pmap():
    def step(x, w):
        return lax.pmean(jax.grad(lambda w: jnp.sum(_conv(x, w) ** 2))(w), "i")

    x, w = _conv_inputs()
    pmapped = compilation.Pmapped(step, axis_name="i")
    xs, ws = x[None], w[None]
    expected = jax.pmap(step, axis_name="i")(xs, ws)  # sums of 12,800 products: float rounding differs
    np.testing.assert_allclose(pmapped(xs, ws), expected, rtol=1e-4,
                               atol=1e-5 * float(jnp.abs(expected).max()))
    pmapped(xs + 1, ws)
    assert len(pmapped._executables) == 1
    pmapped(xs[:, :1], ws)  # another batch shape: a second executable
    assert len(pmapped._executables) == 2


def test_an_option_this_jaxlib_refuses_gives_none_with_a_warning(monkeypatch):
    monkeypatch.setattr(compilation, "CPU_OPTIONS", {"xla_cpu_no_such_option": ""})
    compilation._accepted.cache_clear()
    try:
        with pytest.warns(UserWarning, match="xla_cpu_no_such_option"):
            assert compilation.compiler_options("cpu") is None
    finally:
        compilation._accepted.cache_clear()


def test_the_flag_for_joining_processes_is_added_once(monkeypatch):
    """add_cpu_flag appends CPU_FLAG to XLA_FLAGS (this jaxlib parses it) and leaves a set option alone."""
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    compilation.add_cpu_flag()
    assert os.environ["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=2 {compilation.CPU_FLAG}"
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=")
    compilation.add_cpu_flag()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type="


def test_network_gradients_compiled_with_our_options_match_float64():
    """The :small network's parameter gradients, jitted with our options, against the same network
    computed in float64. (An earlier max pooling that found the maxima in its backward pass by comparing
    values lost the gradient of some windows: the motion encoder's first layers were off by up to 100 %.)
    Float32 gets within 1e-3 of the largest entry of each array (measured: 2.6e-4 at worst)."""
    from visual_dynamics import config as configs
    from visual_dynamics.model import latent_size, model_from_config

    config = configs.make_small(configs.base_config("shapes", 64))
    x = np.asarray(jax.random.uniform(jax.random.PRNGKey(1), (16, 64, 64, 3)) - 0.5)
    noise = np.asarray(jax.random.normal(jax.random.PRNGKey(2), (16, 800)))
    model = model_from_config(config)
    assert latent_size(model) == noise.shape[1]
    variables = model.init(jax.random.PRNGKey(0), x, x, noise, train=False)

    def gradients(model, variables, x, noise, jit):
        def loss(params):
            out, _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x, x, noise,
                                 train=True, mutable=["batch_stats"])
            return jnp.sum(out["v_hat"] ** 2)

        return jit(jax.grad(loss))(variables["params"])

    ours = gradients(model, variables, x, noise, compilation.jit)
    exact_config = config.copy_and_resolve_references()
    exact_config.model.compute_dtype = "float64"
    with float64():
        as64 = functools.partial(jax.tree.map, lambda a: np.asarray(a, np.float64))
        exact = gradients(model_from_config(exact_config), as64(variables), x.astype(np.float64),
                          noise.astype(np.float64), jax.jit)
        assert jax.tree.leaves(exact)[0].dtype == np.float64
        exact = jax.tree.map(np.asarray, exact)  # numpy float64: outside the block jax has no float64
    for (keypath, b), a in zip(jax.tree_util.tree_flatten_with_path(exact)[0], jax.tree.leaves(ours)):
        error = float(np.abs(np.asarray(a, np.float64) - b).max() / np.abs(b).max())
        assert error < 1e-3, (jax.tree_util.keystr(keypath), error)
