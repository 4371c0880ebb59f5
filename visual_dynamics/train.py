"""Training: one pure pmapped train step and the loop around it (evaluation, sample grids,
checkpoints, curves).

`train_and_evaluate(config, workdir)` is what experiments/train.py calls. Rerunning it with the
same workdir resumes from the newest checkpoint.
"""

import contextlib
import dataclasses
import functools
import inspect
import math
import os
import time
from typing import Callable, Iterator, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import jax_utils
from jax import lax
from jax.experimental import multihost_utils

from visual_dynamics import (checkpointing, compilation, distributed, losses, preemption, preprocessing,
                             visualization, workdir_lock)
from visual_dynamics.data import fingerprint, pipeline
from visual_dynamics.inference import Inference, evaluate_reconstruction
from visual_dynamics.metrics_log import MetricWriter
from visual_dynamics.model import latent_size, model_from_config
from visual_dynamics.train_state import AXIS, TrainState, create_train_state, variables_of
from visual_dynamics.z_bank import ZBank, compute_z_bank


def example_noise(rng: jax.Array, step, first_index, batch: int, z_size: int) -> jax.Array:
    """N(0, I) noise [batch, z_size] for global examples first_index ... first_index + batch - 1.

    Noise depends on (rng, step, global example index) only, so a step gives the same result on
    any number of devices.
    """
    step_key = jax.random.fold_in(rng, step)
    keys = jax.vmap(lambda i: jax.random.fold_in(step_key, i))(first_index + jnp.arange(batch))
    return jax.vmap(lambda k: jax.random.normal(k, (z_size,)))(keys)


def kl_weight(step: jnp.ndarray, config: ml_collections.ConfigDict) -> jnp.ndarray:
    """The KL term's weight at `step` (0-based): 1, or (step + 1) / config.kl_warmup_steps up to 1."""
    warmup = config.get("kl_warmup_steps", 0)
    if not warmup:
        return jnp.float32(1.0)
    return jnp.minimum(1.0, (step + 1).astype(jnp.float32) / warmup)


def train_step(state: TrainState, batch: dict, rng: jax.Array, *, config,
               z_size: int) -> tuple[TrainState, dict]:
    """One SGD step on this device's share of the global batch; run under `pmap(axis_name=AXIS)`.

    Args:
      state: the (replicated) train state.
      batch: {'image', 'next_image'} uint8 [B_local, H, W, 3].
      rng: key for the sampler noise, the same on every device.
      z_size: the latent size Z of the network of `config`.
    Returns:
      (new state, metrics averaged over the global batch).
    """
    image, diff, target = preprocessing.model_inputs(batch, config)
    local = image.shape[0]
    noise = example_noise(rng, state.step, lax.axis_index(AXIS) * local, local, z_size)

    def loss_fn(params):
        out, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                      image, diff, noise, train=True, mutable=["batch_stats"])
        loss, metrics = losses.vae_loss(target, out["v_hat"], out["z_mean"], out["z_logvar"],
                                        recon_norm=config.recon_norm,
                                        recon_weight=config.recon_weight,
                                        variational=config.model.variational,
                                        kl_weight=kl_weight(state.step, config))
        return loss, (metrics, updates["batch_stats"])

    grads, (metrics, batch_stats) = jax.grad(loss_fn, has_aux=True)(state.params)
    grads = lax.pmean(grads, AXIS)
    metrics = lax.pmean(metrics, AXIS)
    metrics["grad_norm"] = optax.tree.norm(grads)
    # BatchNorm already averaged its statistics over AXIS, so every replica holds the same ones.
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), metrics


def make_p_train_step(config, devices=None, donate: bool = True):
    """`train_step` pmapped over `devices` (default: all local ones) and compiled with
    `compilation.compiler_options`, the state's buffers donated unless `donate` is False (a benchmark
    that reuses one state)."""
    z_size = latent_size(model_from_config(config))
    return compilation.Pmapped(functools.partial(train_step, config=config, z_size=z_size), axis_name=AXIS,
                               devices=devices, donate_argnums=(0,) if donate else ())


def replicate(tree, devices=None):
    """One copy of `tree` per device, laid out as the pmapped step's outputs are, so the step's
    first call and every later one share one compilation (Flax before 0.11 lays them out as pmap's
    outputs without being told the axis)."""
    if "axis_name" not in inspect.signature(jax_utils.replicate).parameters:
        return jax_utils.replicate(tree, devices)
    return jax_utils.replicate(tree, devices, axis_name=AXIS)


def shard(batch: dict, num_devices: int) -> dict:
    """[B, ...] -> [num_devices, B / num_devices, ...]."""
    return jax.tree.map(lambda x: x.reshape(num_devices, -1, *x.shape[1:]), batch)


def write_sample_grid(inference: Inference, variables: dict, test_batch: dict,
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


@dataclasses.dataclass
class TrainResult:
    """What a finished `train_and_evaluate` returns (evaluation numbers on process 0 only)."""

    step: int
    state: TrainState
    eval_split: str = "test"                   # the split evaluations read (validation where there is one)
    recon: Optional[float] = None              # the last evaluation's reconstruction error
    recon_zero_motion: Optional[float] = None  # the same error of copying the input
    first_eval_recon: Optional[float] = None   # that error at step 0, when this run started there

    def record(self, errors: dict) -> None:
        """Keeps an evaluation's {'recon', 'recon_zero_motion'} as the last one."""
        self.recon, self.recon_zero_motion = errors["recon"], errors["recon_zero_motion"]


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


class _Progress:
    """Steps per second and ETA between two logged steps."""

    def __init__(self, start_step: int, num_steps: int):
        self.num_steps, self.last_step, self.last_time = num_steps, start_step, time.time()

    def update(self, step: int) -> tuple[float, str]:
        """(steps/s since the last update, ETA text)."""
        now = time.time()
        rate = (step - self.last_step) / (now - self.last_time)
        self.last_step, self.last_time = step, now
        return rate, _format_seconds((self.num_steps - step) / rate)


def _check_devices(config: ml_collections.ConfigDict, workdir: str) -> None:
    """Checks that the devices divide the batch; process 0 says what runs where."""
    num_devices, processes = jax.local_device_count(), jax.process_count()
    if config.batch_size % (num_devices * processes):
        raise ValueError(f"config.batch_size={config.batch_size} must be divisible by the "
                         f"{num_devices * processes} devices")
    if jax.process_index() == 0:
        print(f"JAX {jax.__version__}: {processes} process(es), {num_devices} local device(s) of "
              f"{jax.devices()[0].platform} each; workdir {workdir}", flush=True)


def _restore_or_create(config: ml_collections.ConfigDict, workdir: str,
                       rng: jax.Array) -> tuple[TrainState, int]:
    """(the newest readable checkpoint's state, its step), or (a fresh state, 0); refuses checkpoints of
    a model of other shapes. Process 0 sets unreadable checkpoints aside (`checkpointing`)."""
    if checkpointing.newest_complete_step(workdir) is not None:
        checkpointing.check_resumable(checkpointing.load_config(workdir), config)
    state = create_train_state(config, rng)
    restored, start_step = checkpointing.restore_newest_readable(workdir, state,
                                                                 set_aside=jax.process_index() == 0)
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("checkpoints restored")
    return restored or state, start_step


@contextlib.contextmanager
def _workdir_held(workdir: str) -> Iterator[None]:
    """Holds workdir's lock for the run (`workdir_lock`; process 0 holds it for every process). When
    another run holds it, every process stops with the same error."""
    with contextlib.ExitStack() as stack:
        error = None
        if jax.process_index() == 0:
            try:
                stack.enter_context(workdir_lock.held(workdir))
            except workdir_lock.WorkdirHeldError as e:
                error = e
        if jax.process_count() > 1 and multihost_utils.broadcast_one_to_all(np.int32(error is not None)):
            error = error or workdir_lock.WorkdirHeldError(
                f"{workdir} is in use by another training run (process 0 said which)")
        if error:
            raise error
        yield


def _data_fingerprint(builder, workdir: str, start_step: int) -> str:
    """The fingerprint of the prepared data, printed; a resumed run whose data changed says so."""
    value = fingerprint.stored(builder)
    print(f"Data: {builder.info.full_name} in {builder.data_dir}, fingerprint {value}", flush=True)
    before = checkpointing.load_config(workdir).get("data_fingerprint") if start_step else None
    if before and before != value:
        print(f"Note: the data changed since this run's checkpoints were written (fingerprint {before} "
              f"then); training goes on with the data above.", flush=True)
    return value


def eval_split(builder) -> str:
    """The split that periodic evaluation reads: validation where the dataset has one (configs are
    chosen on it), else test."""
    return "validation" if "validation" in builder.info.splits else "test"


def _eval_batches(builder, config: ml_collections.ConfigDict) -> list[dict]:
    split = eval_split(builder)
    batches = pipeline.eval_batches(pipeline.SplitSource(builder, split), config.batch_size,
                                    config.num_eval_batches)
    if jax.process_index() == 0:
        print(f"Evaluating on the {split} split ({sum(len(b['image']) for b in batches)} pairs)", flush=True)
    if not batches:
        raise ValueError(f"the {split} split of {builder.info.full_name} is empty; prepare the dataset "
                         f"with a test split (e.g. --test_fraction for your own videos)")
    return batches


def _log_train_metrics(step: int, p_metrics: dict, progress: _Progress, config, workdir: str,
                       writer: Optional[MetricWriter]) -> None:
    """Checks the step's metrics are finite; process 0 prints them with the rate and ETA and writes them."""
    metrics = {k: float(v) for k, v in jax_utils.unreplicate(p_metrics).items()}
    if not all(math.isfinite(v) for v in metrics.values()):
        raise FloatingPointError(
            f"non-finite metrics at step {step}: {metrics}. Lower config.learning_rate "
            f"or config.recon_weight; the last good checkpoint is in {workdir}.")
    rate, eta = progress.update(step)
    if writer:
        print(f"step {step}/{config.num_train_steps} | loss {metrics['loss']:.4g} "
              f"kl {metrics['kl']:.4g} recon {metrics['recon']:.4g} | {rate:.2f} steps/s "
              f"| ETA {eta}", flush=True)
        writer.write_scalars(step, {**{f"train/{k}": v for k, v in metrics.items()},
                                    "train/steps_per_sec": rate})


def _evaluate_and_draw(inference: Inference, state: TrainState, step: int, eval_batches: list[dict],
                       train_batch: dict, workdir: str, rng: jax.Array, writer: MetricWriter) -> dict:
    """Reconstruction errors on the eval split, written and printed; a sample grid in workdir/samples/."""
    variables = variables_of(state)
    errors = evaluate_reconstruction(inference, variables, eval_batches)
    path = os.path.join(workdir, "samples", f"step_{step:07d}.png")
    local_batch = jax.tree.map(lambda x: np.asarray(x).reshape(-1, *x.shape[2:]), train_batch)
    write_sample_grid(inference, variables, eval_batches[0], local_batch, path, jax.random.fold_in(rng, step))
    print(f"eval at step {step}: recon {errors['recon']:.4g} (copying the input: "
          f"{errors['recon_zero_motion']:.4g}); samples in {path}", flush=True)
    writer.write_scalars(step, {f"eval/{k}": v for k, v in errors.items()})
    return errors


def _start_logging(inference: Inference, result: "TrainResult", builder, eval_batches: list[dict],
                   workdir: str) -> MetricWriter:
    """Process 0's start of a run: the data's fingerprint and the config saved, the model described, the
    curves' writer opened; a run starting at step 0 evaluates its initial state."""
    start_step = result.step
    checkpointing.save_config(inference.config, workdir,
                              data_fingerprint=_data_fingerprint(builder, workdir, start_step))
    os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
    print(f"Model: {sum(x.size for x in jax.tree.leaves(result.state.params)):,} parameters, z of "
          f"{latent_size(inference.model):,}; "
          f"{'resuming from step ' + str(start_step) if start_step else 'starting from scratch'}", flush=True)
    writer = MetricWriter(workdir, start_step)
    if start_step == 0:
        errors = evaluate_reconstruction(inference, variables_of(result.state), eval_batches)
        result.first_eval_recon = errors["recon"]
        print(f"eval at step 0: recon {result.first_eval_recon:.4g}", flush=True)
        writer.write_scalars(0, {"eval/recon": result.first_eval_recon})
    return writer


def _train_steps(config: ml_collections.ConfigDict, workdir: str, state: TrainState, start_step: int,
                 train_source, noise_rng: jax.Array,
                 after_step: Callable[[int, TrainState, dict, dict], None]) -> TrainState:
    """Trains from `start_step` to config.num_train_steps, saving checkpoints; returns the final state.
    `after_step(step, replicated state, replicated metrics, sharded batch)` logs and evaluates.

    Raises:
      preemption.TrainingStopped: after saving the checkpoint of the step a signal stopped at.
    """
    num_devices = jax.local_device_count()
    batches = jax_utils.prefetch_to_device(
        (shard(batch, num_devices) for batch in pipeline.train_batches(
            train_source, config.batch_size, config.seed, start_step,
            process_index=jax.process_index(), process_count=jax.process_count())), size=2)
    p_train_step = make_p_train_step(config)
    p_state, p_rng = replicate(state), replicate(noise_rng)
    manager = checkpointing.checkpoint_manager(workdir, config.max_checkpoints_to_keep)
    agreement = distributed.StopAgreement(num_devices, AXIS) if jax.process_count() > 1 else None
    previous_metrics = None
    with preemption.StopSignals(lambda: checkpointing.newest_complete_step(workdir)) as signals:
        for step in range(start_step + 1, config.num_train_steps + 1):
            batch = next(batches)
            p_state, p_metrics = p_train_step(p_state, batch, p_rng)
            # At most this step and the previous one in flight, so that a stop waits for them alone,
            # not for every step that asynchronous dispatch would have queued ahead.
            jax.block_until_ready(previous_metrics)
            previous_metrics = p_metrics
            after_step(step, p_state, p_metrics, batch)
            # Every process stops after the same step: the one where the agreement sees a request.
            stop = agreement.check(signals.requested) if agreement else signals.requested
            last = step == config.num_train_steps
            if step % config.checkpoint_every_steps == 0 or last or stop:
                checkpointing.save(manager, step, jax_utils.unreplicate(p_state))
                if stop or last:
                    checkpointing.wait_for_save(manager, step, jax_utils.unreplicate(p_state))
            if stop and not last:
                raise preemption.TrainingStopped(stop, step)
    return jax_utils.unreplicate(p_state)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainResult:
    """Trains (resuming from `workdir` if it holds checkpoints), evaluates, writes the z bank.

    With several processes (`jax.distributed`), each reads only its share of every global batch and
    all save the checkpoints together; process 0 alone evaluates and writes the config, curves, sample
    grids and z bank.

    Raises:
      workdir_lock.WorkdirHeldError: another run is training in `workdir`.
      preemption.TrainingStopped: a SIGTERM or SIGINT came during training; the run saved the
        checkpoint of the step it stopped after (every process the same step), so a rerun resumes there.
      checkpointing.DiskFullError, pipeline.DamagedDataError: a full disk or a damaged shard, said in
        one line; every checkpoint written before is kept.
    """
    os.makedirs(workdir, exist_ok=True)
    main = jax.process_index() == 0
    _check_devices(config, workdir)
    init_rng, noise_rng, grid_rng = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    with _workdir_held(workdir):
        state, start_step = _restore_or_create(config, workdir, init_rng)
        builder = prepared_builder_once(config)
        train_source = pipeline.SplitSource(builder, "train")
        eval_batches = _eval_batches(builder, config)
        inference, result = Inference(config), TrainResult(start_step, state, eval_split(builder))
        writer = _start_logging(inference, result, builder, eval_batches, workdir) if main else None
        progress = _Progress(start_step, config.num_train_steps)

        def after_step(step: int, p_state: TrainState, p_metrics: dict, batch: dict) -> None:
            last = step == config.num_train_steps
            if step % config.log_every_steps == 0 or last:
                _log_train_metrics(step, p_metrics, progress, config, workdir, writer)
            if main and (step % config.eval_every_steps == 0 or last):
                result.record(_evaluate_and_draw(inference, jax_utils.unreplicate(p_state), step,
                                                 eval_batches, batch, workdir, grid_rng, writer))

        try:
            result.state = _train_steps(config, workdir, state, start_step, train_source, noise_rng,
                                        after_step)
        finally:
            if writer:
                writer.close()
        result.step = int(result.state.step)
        if main:
            _finish(inference, result, eval_batches, train_source, config, workdir)
    return result


def _finish(inference: Inference, result: TrainResult, eval_batches: list[dict], train_source,
            config: ml_collections.ConfigDict, workdir: str) -> None:
    """Evaluates a run resumed at its last step (nothing trained), and writes the z bank."""
    variables = variables_of(result.state)
    if result.recon is None:
        result.record(evaluate_reconstruction(inference, variables, eval_batches))
    batches = pipeline.first_batches(train_source, config.z_bank_size, config.batch_size)
    bank = compute_z_bank(inference, variables, batches, config.z_bank_size, result.step)
    print(f"Wrote the empirical z bank of {bank.z_mean.shape[0]} training pairs to "
          f"{bank.save(workdir)}", flush=True)
