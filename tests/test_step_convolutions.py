"""benchmarks/step_convolutions.py finds every convolution of a train step, and runs."""

import collections
import os
import subprocess
import sys

import jax

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import step_convolutions  # noqa: E402
from configs import shapes  # noqa: E402
from visual_dynamics.train_state import abstract_train_state  # noqa: E402


def test_the_step_has_three_convolutions_per_layer_less_the_input_gradients_of_data():
    config = shapes.get_config("tiny")
    config.model.cross_conv_impl = "shift_add"  # no convolution of its own
    found = step_convolutions.train_step_convolutions(config)
    params = jax.tree_util.tree_flatten_with_path(abstract_train_state(config).params)[0]
    kernels = [x.shape for path, x in params if path[-1].key == "kernel" and len(x.shape) == 4]
    # The motion encoder's first layer and each image encoder's first layer see the data: no input
    # gradient there.
    fed_by_data = 1 + len(config.model.pyramid_scales)
    roles = collections.Counter(step_convolutions.role(e) for e in found)
    assert roles == {"forward": len(kernels), "weight gradient": len(kernels),
                     "input gradient": len(kernels) - fed_by_data}
    forward_kernels = [tuple(e.invars[1].aval.shape) for e in found if step_convolutions.role(e) == "forward"]
    assert sorted(forward_kernels) == sorted(kernels)


def test_the_benchmark_runs_on_the_tiny_config():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "step_convolutions.py"),
                           "--variant=tiny", "--repeats=1", "--rows=3"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "convolutions in one program, ours" in done.stdout
    assert "the whole train step (ours)" in done.stdout
