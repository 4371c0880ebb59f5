"""One pmapped train step on 2 devices vs on 1 device, same global batch (used by a test).

Run with XLA_FLAGS=--xla_force_host_platform_device_count=2. Exits non-zero on mismatch.
The step uses plain SGD with learning rate 1, so the parameter change is the averaged gradient
itself (Adam would turn a rounding difference in a near-zero gradient into a whole step).
Tolerance: float32 reductions are split differently across devices (BatchNorm moments,
gradient means), so results agree to ~1e-5 relative, not bitwise.
"""

import sys

import jax
import numpy as np
import optax

from conftest import tiny_config
from visual_dynamics import train
from visual_dynamics.data import pipeline
from visual_dynamics.train_state import create_train_state

RTOL = 1e-4


def one_step(config, state, batch, devices):
    step = train.make_p_train_step(config, devices, donate=False)
    rng = train.replicate(jax.random.PRNGKey(1), devices)
    new_state, metrics = step(train.replicate(state, devices),
                              train.shard(batch, len(devices)), rng)
    # Device 0's copy. (flax's unreplicate keeps the device axis of a 1-device pmap's outputs
    # when the host has more devices, since such an array counts as fully replicated.)
    first = lambda tree: jax.tree.map(lambda x: np.asarray(x)[0], tree)  # noqa: E731
    return first(new_state), first(metrics)


def main(data_dir: str) -> None:
    assert jax.local_device_count() == 2, "set XLA_FLAGS=--xla_force_host_platform_device_count=2"
    config = tiny_config(data_dir)
    state = create_train_state(config, jax.random.PRNGKey(0))
    sgd = optax.sgd(1.0)
    state = state.replace(tx=sgd, opt_state=sgd.init(state.params))
    source = pipeline.load_builder("shapes", "tiny", data_dir).as_data_source(split="train")
    batch = next(pipeline.train_batches(source, config.batch_size, seed=0))
    two, metrics_two = one_step(config, state, batch, jax.devices())
    one, metrics_one = one_step(config, state, batch, jax.devices()[:1])
    def grads(new):
        return jax.tree.map(lambda n, o: np.asarray(o) - n, new.params, state.params)

    worst = 0.0
    for a, b in zip(jax.tree.leaves((grads(two), two.batch_stats, metrics_two)),
                    jax.tree.leaves((grads(one), one.batch_stats, metrics_one))):
        scale = np.abs(b).max() + 1e-12
        worst = max(worst, float(np.abs(a - b).max() / scale))
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * scale)
    largest = max(float(np.abs(g).max()) for g in jax.tree.leaves(grads(one)))
    assert largest > 1e-3, "the gradient is zero: the comparison would be vacuous"
    print(f"2 devices vs 1: max relative difference {worst:.2e} (tolerance {RTOL}); "
          f"largest gradient entry {largest:.2e}")


if __name__ == "__main__":
    main(sys.argv[1])
