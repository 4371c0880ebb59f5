"""Training: a TrainState, one pure pmapped train step, evaluation, and the loop.

`train_and_evaluate(config, workdir)` is what experiments/train.py calls. Rerunning it with the
same workdir resumes from the newest checkpoint.
"""

import functools
import json
import math
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import jax_utils
from flax.training import train_state
from jax import lax
from jax.experimental import multihost_utils
from tensorboardX import SummaryWriter

from visual_dynamics import checkpointing, losses, preprocessing, sampling, visualization
from visual_dynamics.data import pipeline
from visual_dynamics.metrics_log import MetricsLog
from visual_dynamics.model import latent_size, model_from_config
from visual_dynamics.z_bank import ZBank

AXIS = "batch"


class TrainState(train_state.TrainState):
    batch_stats: Any


def create_train_state(config: ml_collections.ConfigDict, rng: jax.Array) -> TrainState:
    """Fresh parameters, BatchNorm statistics and optimizer state (one copy, not replicated)."""
    model = model_from_config(config, bn_axis_name=AXIS)
    size = config.image_size
    image = jnp.zeros((1, size, size, 3))
    variables = model.init(rng, image, image, jnp.zeros((1, latent_size(model))), train=False)
    tx = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm),
                     optax.adam(config.learning_rate))
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                             batch_stats=variables["batch_stats"])


def example_noise(rng: jax.Array, step, first_index, batch: int, z_size: int) -> jnp.ndarray:
    """N(0, I) noise [batch, z_size] for global examples first_index ... first_index + batch - 1.

    Noise depends on (rng, step, global example index) only, so a step gives the same result on
    any number of devices.
    """
    step_key = jax.random.fold_in(rng, step)
    keys = jax.vmap(lambda i: jax.random.fold_in(step_key, i))(first_index + jnp.arange(batch))
    return jax.vmap(lambda k: jax.random.normal(k, (z_size,)))(keys)


def train_step(state: TrainState, batch: dict, rng: jax.Array, *, config) -> tuple[TrainState, dict]:
    """One SGD step on this device's share of the global batch; run under `pmap(axis_name=AXIS)`.

    Args:
      state: the (replicated) train state.
      batch: {'image', 'next_image'} uint8 [B_local, H, W, 3].
      rng: key for the sampler noise, the same on every device.
    Returns:
      (new state, metrics averaged over the global batch).
    """
    image, diff, target = preprocessing.model_inputs(batch, config)
    local = image.shape[0]
    noise = example_noise(rng, state.step, lax.axis_index(AXIS) * local, local,
                          latent_size(model_from_config(config)))

    def loss_fn(params):
        out, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                      image, diff, noise, train=True, mutable=["batch_stats"])
        loss, metrics = losses.vae_loss(target, out["v_hat"], out["z_mean"], out["z_logvar"],
                                        recon_norm=config.recon_norm,
                                        recon_weight=config.recon_weight,
                                        variational=config.model.variational)
        return loss, (metrics, updates["batch_stats"])

    grads, (metrics, batch_stats) = jax.grad(loss_fn, has_aux=True)(state.params)
    grads = lax.pmean(grads, AXIS)
    metrics = lax.pmean(metrics, AXIS)
    metrics["grad_norm"] = optax.global_norm(grads)
    # BatchNorm already averaged its statistics over AXIS, so every replica holds the same ones.
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), metrics


def variables_of(state: TrainState) -> dict:
    return {"params": state.params, "batch_stats": state.batch_stats}


def abstract_train_state(config: ml_collections.ConfigDict) -> TrainState:
    """The train state of `config` as shapes and dtypes only (nothing computed)."""
    return jax.eval_shape(lambda: create_train_state(config, jax.random.PRNGKey(0)))


def check_resumable(saved: ml_collections.ConfigDict, config: ml_collections.ConfigDict) -> None:
    """Raises ValueError if the checkpoints of `saved` cannot load into the state of `config`."""
    def shapes(c):
        state = abstract_train_state(c)
        return jax.tree.map(lambda x: x.shape, (state.params, state.batch_stats))

    if shapes(saved) != shapes(config):
        differ = [f"model.{k}" for k in config.model
                  if json.dumps(saved.model.get(k)) != json.dumps(config.model[k])]
        differ += ["image_size"] if saved.image_size != config.image_size else []
        raise ValueError(
            f"the workdir holds checkpoints of a model of other shapes (config entries that "
            f"differ: {', '.join(differ)}). Use a new --workdir, or the saved config.json.")


def restore_variables(workdir: str, step=None):
    """(config, variables, step) of a training run's checkpoint (default: the newest).

    Raises:
      checkpointing.NoCheckpointError: `workdir` holds no config or no checkpoint.
    """
    config = checkpointing.load_config(workdir)
    manager = checkpointing.checkpoint_manager(workdir)
    step = manager.latest_step() if step is None else step
    if step is None:
        raise checkpointing.NoCheckpointError(
            f"{workdir}/checkpoints holds no checkpoint; train first (experiments/train.py "
            f"--workdir={workdir}), or pass the workdir of a finished run.")
    state = checkpointing.restore(manager, step, abstract_train_state(config))
    return config, variables_of(state), step


def make_p_train_step(config):
    """`train_step` pmapped over all local devices, the state's buffers donated."""
    return jax.pmap(functools.partial(train_step, config=config), axis_name=AXIS,
                    donate_argnums=(0,))


def replicate(tree, devices=None):
    """One copy of `tree` per device, laid out as the pmapped step's outputs are, so the step's
    first call and every later one share one compilation."""
    return jax_utils.replicate(tree, devices, axis_name=AXIS)


def shard(batch: dict, num_devices: int) -> dict:
    """[B, ...] -> [num_devices, B / num_devices, ...]."""
    return jax.tree.map(lambda x: x.reshape(num_devices, -1, *x.shape[1:]), batch)


def evaluate(inference: sampling.Inference, variables: dict, batches: list[dict]) -> dict:
    """Test reconstruction error: decode with z = z_mean of each test pair, running BN stats; batches
    may differ in size (a last partial one).

    Returns:
      {'recon': mean error of Eq. 5's norm; 'recon_zero_motion': the same error of predicting
      v = 0 (copying the input), the reference an untrained model should beat}.
    """
    config = inference.config
    recon, zero = [], []
    for batch in batches:
        _, _, target = preprocessing.model_inputs(batch, config)
        z_mean, _ = inference.encode(variables, batch["image"], batch["next_image"])
        v_hat = inference.decode(variables, batch["image"], z_mean)
        recon.append(losses.reconstruction_error(target, v_hat, config.recon_norm))
        zero.append(losses.reconstruction_error(target, jnp.zeros_like(target), config.recon_norm))
    # Means over examples, so that a last partial batch weighs by its size.
    return dict(recon=float(np.mean(np.concatenate(recon))),
                recon_zero_motion=float(np.mean(np.concatenate(zero))))


def compute_z_bank(inference: sampling.Inference, variables: dict, source, size: int,
                   step: int) -> ZBank:
    """Posteriors of the first `size` pairs of a (training) data source.

    The AE baseline (model.variational False) has no posterior variance: its z_logvar is stored as
    -inf, so the bank's draws are exactly the stored z_means.
    """
    batch_size = inference.config.batch_size
    batches = pipeline.eval_batches(source, batch_size, math.ceil(size / batch_size))
    posteriors = [inference.encode(variables, b["image"], b["next_image"]) for b in batches]
    z_mean = np.concatenate([np.asarray(m) for m, _ in posteriors])[:size]
    z_logvar = np.concatenate([np.asarray(v) for _, v in posteriors])[:size]
    if not inference.config.model.variational:
        z_logvar = np.full_like(z_logvar, -np.inf)
    return ZBank(z_mean, z_logvar, step)


def write_sample_grid(inference: sampling.Inference, variables: dict, test_batch: dict,
                      train_batch: dict, path: str, rng: jax.Array) -> None:
    """Rows: I, true J, reconstruction, then samples with z drawn from train-batch posteriors."""
    config = inference.config
    n = min(config.grid_images, test_batch["image"].shape[0])
    images, truths = test_batch["image"][:n], test_batch["next_image"][:n]
    bank = ZBank(*map(np.asarray, inference.encode(variables, train_batch["image"],
                                                   train_batch["next_image"])), step=0)
    recon_z, _ = inference.encode(variables, images, truths)
    columns = [images / 255.0, truths / 255.0, inference.next_frames(variables, images, recon_z)]
    for key in jax.random.split(rng, config.grid_samples):
        columns.append(inference.next_frames(variables, images, bank.draw(key, n)))
    rows = [[np.asarray(c[i]) for c in columns] for i in range(n)]
    visualization.save_png(visualization.image_grid(rows, upscale=2), path)


def prepared_builder_once(config: ml_collections.ConfigDict):
    """`pipeline.prepared_builder` of the config's dataset; with several processes, process 0 prepares a
    generated dataset while the others wait, so that they never write it at the same time."""
    def prepared():
        return pipeline.prepared_builder(config.dataset, config.get("builder_config"), config.data_dir)

    if jax.process_count() == 1:
        return prepared()
    if jax.process_index() == 0:
        builder = prepared()
    multihost_utils.sync_global_devices("dataset prepared")
    return builder if jax.process_index() == 0 else prepared()


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains (resuming from `workdir` if it holds checkpoints), evaluates, writes the z bank.

    With several processes (`jax.distributed`), each reads only its share of every global batch and
    all save the checkpoints together; process 0 alone evaluates and writes the config, logs, sample
    grids and z bank.

    Returns:
      The last evaluation's metrics (process 0), plus 'first_eval_recon' when this run started at
      step 0; 'step' and 'state' on every process.
    """
    os.makedirs(workdir, exist_ok=True)
    num_devices, processes = jax.local_device_count(), jax.process_count()
    main = jax.process_index() == 0
    if config.batch_size % (num_devices * processes):
        raise ValueError(f"config.batch_size={config.batch_size} must be divisible by the "
                         f"{num_devices * processes} devices")
    if main:
        print(f"JAX {jax.__version__}: {processes} process(es), {num_devices} local device(s) of "
              f"{jax.devices()[0].platform} each; workdir {workdir}", flush=True)

    rng = jax.random.PRNGKey(config.seed)
    init_rng, noise_rng, grid_rng = jax.random.split(rng, 3)
    manager = checkpointing.checkpoint_manager(workdir, config.max_checkpoints_to_keep)
    if manager.latest_step() is not None:
        check_resumable(checkpointing.load_config(workdir), config)
    builder = prepared_builder_once(config)
    train_source = builder.as_data_source(split="train")
    eval_data = pipeline.eval_batches(builder.as_data_source(split="test"), config.batch_size,
                                      config.num_eval_batches)
    if not eval_data:
        raise ValueError(f"the test split of {builder.info.full_name} is empty; prepare the dataset "
                         f"with a test split (e.g. --test_fraction for your own videos)")
    state = create_train_state(config, init_rng)
    restored, start_step = checkpointing.restore_latest(manager, state)
    state = restored or state
    if main:
        checkpointing.save_config(config, workdir)
        n_params = sum(x.size for x in jax.tree.leaves(state.params))
        print(f"Model: {n_params:,} parameters, z of {latent_size(model_from_config(config)):,}; "
              f"{'resuming from step ' + str(start_step) if start_step else 'starting from scratch'}",
              flush=True)

    batches = jax_utils.prefetch_to_device(
        (shard(batch, num_devices) for batch in pipeline.train_batches(
            train_source, config.batch_size, config.seed, start_step,
            process_index=jax.process_index(), process_count=processes)), size=2)
    p_train_step = make_p_train_step(config)
    p_state = replicate(state)
    p_rng = replicate(noise_rng)
    writer = SummaryWriter(os.path.join(workdir, "tensorboard")) if main else None
    metrics_log = MetricsLog(workdir, start_step) if main else None

    def log_scalars(step: int, scalars: dict) -> None:
        """To TensorBoard and to metrics.jsonl (process 0)."""
        if main:
            for name, value in scalars.items():
                writer.add_scalar(name, value, step)
            metrics_log.write(step, scalars)

    if main:
        os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)

    results = {}
    inference = sampling.Inference(config)
    if start_step == 0 and main:
        results["first_eval_recon"] = evaluate(inference, variables_of(state), eval_data)["recon"]
        print(f"eval at step 0: test recon {results['first_eval_recon']:.4g}", flush=True)
        log_scalars(0, {"eval/recon": results["first_eval_recon"]})
    last_log_time, last_log_step = time.time(), start_step
    for step in range(start_step + 1, config.num_train_steps + 1):
        batch = next(batches)
        p_state, p_metrics = p_train_step(p_state, batch, p_rng)

        if step % config.log_every_steps == 0 or step == config.num_train_steps:
            metrics = {k: float(v) for k, v in jax_utils.unreplicate(p_metrics).items()}
            if not all(math.isfinite(v) for v in metrics.values()):
                raise FloatingPointError(
                    f"non-finite metrics at step {step}: {metrics}. Lower config.learning_rate "
                    f"or config.recon_weight; the last good checkpoint is in {workdir}.")
            now = time.time()
            rate = (step - last_log_step) / (now - last_log_time)
            last_log_step, last_log_time = step, now
            eta = (config.num_train_steps - step) / rate
            if main:
                print(f"step {step}/{config.num_train_steps} | loss {metrics['loss']:.4g} "
                      f"kl {metrics['kl']:.4g} recon {metrics['recon']:.4g} | {rate:.2f} steps/s "
                      f"| ETA {_format_seconds(eta)}", flush=True)
            log_scalars(step, {**{f"train/{k}": v for k, v in metrics.items()},
                               "train/steps_per_sec": rate})

        last = step == config.num_train_steps
        if main and (step % config.eval_every_steps == 0 or last):
            variables = variables_of(jax_utils.unreplicate(p_state))
            results.update(evaluate(inference, variables, eval_data))
            path = os.path.join(workdir, "samples", f"step_{step:07d}.png")
            local_batch = jax.tree.map(lambda x: np.asarray(x).reshape(-1, *x.shape[2:]), batch)
            write_sample_grid(inference, variables, eval_data[0], local_batch, path,
                              jax.random.fold_in(grid_rng, step))
            print(f"eval at step {step}: test recon {results['recon']:.4g} (copying the input: "
                  f"{results['recon_zero_motion']:.4g}); samples in {path}", flush=True)
            log_scalars(step, {"eval/recon": results["recon"],
                               "eval/recon_zero_motion": results["recon_zero_motion"]})
        if step % config.checkpoint_every_steps == 0 or last:
            checkpointing.save(manager, step, jax_utils.unreplicate(p_state))
    if main:
        writer.close()
    manager.wait_until_finished()

    state = jax_utils.unreplicate(p_state)
    if main:
        if "recon" not in results:  # Resumed at the last step: nothing trained, evaluate anyway.
            results.update(evaluate(inference, variables_of(state), eval_data))
        bank = compute_z_bank(inference, variables_of(state), train_source, config.z_bank_size,
                              int(state.step))
        print(f"Wrote the empirical z bank of {bank.z_mean.shape[0]} training pairs to "
              f"{bank.save(workdir)}", flush=True)
    results["step"] = int(state.step)
    results["state"] = state
    return results
