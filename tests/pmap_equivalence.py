"""One pmapped train step on 2 devices vs on 1 device, same global batch (used by a test).

Run with XLA_FLAGS=--xla_force_host_platform_device_count=2. Exits non-zero on mismatch.
Tolerance: float32 reductions are split differently across devices (BatchNorm moments,
gradient means), so results agree to ~1e-5 relative, not bitwise.
"""

import sys

import jax
import numpy as np
from flax import jax_utils

from conftest import tiny_config
from visual_dynamics import train
from visual_dynamics.data import pipeline

RTOL = 1e-4


def one_step(config, state, batch, devices):
    step = jax.pmap(lambda s, b, r: train.train_step(s, b, r, config=config),
                    axis_name=train.AXIS, devices=devices)
    rng = jax_utils.replicate(jax.random.PRNGKey(1), devices)
    new_state, metrics = step(jax_utils.replicate(state, devices),
                              train.shard(batch, len(devices)), rng)
    return jax_utils.unreplicate(new_state), jax_utils.unreplicate(metrics)


def main(data_dir: str) -> None:
    assert jax.local_device_count() == 2, "set XLA_FLAGS=--xla_force_host_platform_device_count=2"
    config = tiny_config(data_dir)
    state = train.create_train_state(config, jax.random.PRNGKey(0))
    source = pipeline.load_builder("shapes", "tiny", data_dir).as_data_source(split="train")
    batch = next(pipeline.train_batches(source, config.batch_size, seed=0))
    two, metrics_two = one_step(config, state, batch, jax.devices())
    one, metrics_one = one_step(config, state, batch, jax.devices()[:1])
    worst = 0.0
    for a, b in zip(jax.tree.leaves((two.params, two.batch_stats, metrics_two)),
                    jax.tree.leaves((one.params, one.batch_stats, metrics_one))):
        a, b = np.asarray(a), np.asarray(b)
        worst = max(worst, float(np.max(np.abs(a - b) / (np.abs(b) + 1e-3))))
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-5)
    moved = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                for a, b in zip(jax.tree.leaves(two.params), jax.tree.leaves(state.params)))
    assert moved > 1e-4, "the step did not change the parameters"
    print(f"2 devices vs 1: max relative difference {worst:.2e} (tolerance {RTOL}); "
          f"largest parameter update {moved:.2e}")


if __name__ == "__main__":
    main(sys.argv[1])
