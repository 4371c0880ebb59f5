"""The train state: parameters, BatchNorm statistics and Adam's state, and the pmap axis they are
averaged over. Shared by training (which updates it) and checkpointing (which restores it)."""

from typing import Any, Union

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax.training import train_state

from visual_dynamics.model import latent_size, model_from_config

AXIS = "batch"  # the pmap axis of the data-parallel devices


class TrainState(train_state.TrainState):
    batch_stats: Any


def learning_rate_schedule(config: ml_collections.ConfigDict) -> Union[float, optax.Schedule]:
    """config.learning_rate throughout ('constant': a number, so that the optimizer state of runs
    written before schedules existed stays the same), or step -> learning rate, cosine-decayed from it
    to 0 at config.num_train_steps ('cosine')."""
    schedule = config.get("lr_schedule", "constant")
    if schedule == "constant":
        return config.learning_rate
    if schedule == "cosine":
        return optax.cosine_decay_schedule(config.learning_rate, config.num_train_steps)
    raise ValueError(f"config.lr_schedule must be 'constant' or 'cosine'; got {schedule!r}")


def create_train_state(config: ml_collections.ConfigDict, rng: jax.Array) -> TrainState:
    """Fresh parameters, BatchNorm statistics and optimizer state (one copy, not replicated)."""
    model = model_from_config(config, bn_axis_name=AXIS)
    size = config.image_size
    image = jnp.zeros((1, size, size, 3))
    variables = model.init(rng, image, image, jnp.zeros((1, latent_size(model))), train=False)
    tx = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm),
                     optax.adam(learning_rate_schedule(config)))
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                             batch_stats=variables["batch_stats"])


def abstract_train_state(config: ml_collections.ConfigDict) -> TrainState:
    """The train state of `config` as shapes and dtypes only (nothing computed)."""
    return jax.eval_shape(lambda: create_train_state(config, jax.random.PRNGKey(0)))


def variables_of(state: TrainState) -> dict:
    """The network's variables {'params', 'batch_stats'} of a train state."""
    return {"params": state.params, "batch_stats": state.batch_stats}
