"""benchmarks/torch_network.py is our network in PyTorch (same parameters -> same outputs). The smoke run
of benchmarks/vs_pytorch.py is the speed phase of tests/test_reproduce_shapes.py's rehearsal."""

import os
import sys

import jax
import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.torch
torch = pytest.importorskip(
    "torch", reason="PyTorch is the bench extra: pip install -e '.[bench]' -c constraints.txt")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import torch_network  # noqa: E402
from configs import exercise, shapes  # noqa: E402
from visual_dynamics import preprocessing  # noqa: E402
from visual_dynamics.train_state import abstract_train_state, create_train_state, variables_of  # noqa: E402
from visual_dynamics.model import latent_size, model_from_config  # noqa: E402


@pytest.mark.parametrize("config", [shapes.get_config("tiny"), shapes.get_config("small"),
                                    shapes.get_config(""), exercise.get_config("")],
                         ids=["tiny", "small", "paper64", "paper128"])
def test_parameter_counts_are_equal(config):
    state = abstract_train_state(config)
    ours = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
    assert torch_network.parameter_count(torch_network.CrossConvNet(config)) == ours


@pytest.mark.parametrize("training", [False, True], ids=["running_stats", "batch_stats"])
def test_same_variables_give_the_same_prediction(training):
    config = shapes.get_config("small")
    variables = variables_of(create_train_state(config, jax.random.PRNGKey(0)))
    rng = np.random.default_rng(0)
    size = config.image_size
    pair = {k: rng.integers(0, 256, (4, size, size, 3), dtype=np.uint8) for k in ("image", "next_image")}
    noise = rng.standard_normal((4, latent_size(model_from_config(config)))).astype(np.float32)
    image, diff, target = preprocessing.model_inputs(pair, config)
    with jax.default_matmul_precision("highest"):
        ours = model_from_config(config).apply(variables, image, diff, noise, train=training,
                                               mutable=["batch_stats"] if training else False)
    ours = ours[0] if training else ours

    theirs_model = torch_network.CrossConvNet(config)
    torch_network.load_flax_variables(theirs_model, variables)
    theirs_model.train(training)
    with torch.no_grad():
        t_image, t_diff, t_target = torch_network.model_inputs(
            torch.from_numpy(pair["image"]), torch.from_numpy(pair["next_image"]), config)
        v_hat, z_mean, _ = theirs_model(t_image, t_diff, torch.from_numpy(noise))
    np.testing.assert_allclose(t_target.permute(0, 2, 3, 1).numpy(), target, atol=1e-4)
    np.testing.assert_allclose(z_mean.numpy(), ours["z_mean"], rtol=1e-4, atol=1e-4)
    scale = float(np.abs(ours["v_hat"]).max())
    np.testing.assert_allclose(v_hat.permute(0, 2, 3, 1).numpy(), ours["v_hat"], atol=1e-4 * scale)
