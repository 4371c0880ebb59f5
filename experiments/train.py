"""Trains the Layered Cross Convolutional Network.

  python experiments/train.py --dataset=shapes:small --workdir=workdirs/shapes_small
  python experiments/train.py --dataset=exercise               # the main job (prepare data first)
  python experiments/train.py --dataset=shapes --config.batch_size=64 --config.learning_rate=3e-4

--config=PATH[:VARIANT] loads a config file (default experiments/configs/shapes.py:small; variants:
'' = the paper's sizes, 'small' = CPU-sized, 'cpu' = 'small' with a full-size decoder and 20,000 steps,
'tiny' = smoke test); --dataset=NAME[:VARIANT] is its
short form for experiments/configs/NAME.py. Override entries with --config.KEY=VALUE either way.
Rerunning with the same --workdir resumes from its newest checkpoint. SIGTERM or Ctrl-C saves a checkpoint
of the step in flight and exits with status 75 (a second signal: at once, status 130).
"""

import importlib
import os
import sys
import traceback

from absl import app, flags, logging
from ml_collections import config_flags

from visual_dynamics.config import VARIANTS, define_config_flag, parse_flags
from visual_dynamics.errors import OneLineError, require_training_extra

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
DATASETS = sorted(f[:-3] for f in os.listdir(CONFIG_DIR) if f.endswith(".py") and f != "__init__.py")
DEFAULT = "shapes:small"


def _is_config_name(value) -> bool:
    name, _, variant = (value or DEFAULT).partition(":")
    return name in DATASETS and variant in VARIANTS


flags.DEFINE_string("dataset", None, f"NAME[:VARIANT]: short for --config=experiments/configs/NAME.py"
                    f"[:VARIANT] ({', '.join(DATASETS)}; variants: small, tiny). Default: {DEFAULT}.")
flags.register_validator("dataset", _is_config_name,
                         f"unknown dataset or variant; choose one of: {', '.join(DATASETS)}, optionally "
                         f"with a variant: {', '.join(':' + v for v in VARIANTS if v)}")
flags.DEFINE_string("workdir", None, "Where checkpoints, TensorBoard events, sample grids and "
                    "the z bank go (default: workdirs/<dataset>).")
flags.DEFINE_string("coordinator_address", None, "Multi-process: address of process 0 (host:port).")
flags.DEFINE_integer("num_processes", None, "Multi-process: number of processes.")
flags.DEFINE_integer("process_id", None, "Multi-process: index of this process.")
flags.DEFINE_enum("distributed", None, ["auto"], "'auto': jax.distributed.initialize() with no arguments, "
                  "which finds the coordinator itself on SLURM and Cloud TPU VMs.")
flags.DEFINE_integer("heartbeat_timeout_seconds", 100, "Multi-process: a process that stops answering "
                     "for this long (killed, host down) stops the others with an error.")
define_config_flag(os.path.join(CONFIG_DIR, "shapes.py:small"),
                   "Config file[:VARIANT]; override entries with --config.KEY=VALUE.")
FLAGS = flags.FLAGS


def chosen_config():
    """--config with its overrides, or the config that --dataset names with the same overrides (every
    config file has the same keys, so the overrides checked against --config's apply to it)."""
    if FLAGS.dataset is None:
        return FLAGS.config
    if FLAGS["config"].present:
        raise app.UsageError("give --dataset or --config, not both")
    name, _, variant = FLAGS.dataset.partition(":")
    config = importlib.import_module(f"configs.{name}").get_config(variant)
    config.update_from_flattened_dict(config_flags.get_override_values(FLAGS["config"]))
    config.lock()
    return config


def default_workdir() -> str:
    """workdirs/NAME[_VARIANT] of --dataset, or of --config's file."""
    if FLAGS.dataset:
        return os.path.join("workdirs", FLAGS.dataset.replace(":", "_"))
    path, _, variant = config_flags.get_config_filename(FLAGS["config"]).partition(":")
    name = os.path.splitext(os.path.basename(path))[0]
    return os.path.join("workdirs", f"{name}_{variant}" if variant else name)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    require_training_extra("train.py")
    import jax  # After flag parsing, so --help stays fast.

    logging.set_verbosity(logging.WARNING)  # Our progress lines, not every library's INFO log.

    if FLAGS.coordinator_address or FLAGS.distributed:
        from visual_dynamics import distributed

        distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id,
                               FLAGS.heartbeat_timeout_seconds)
    from visual_dynamics import preemption, train

    config, workdir = chosen_config(), FLAGS.workdir or default_workdir()
    if jax.process_index() == 0:
        print(config.to_json_best_effort(indent=2), flush=True)
    try:
        results = train.train_and_evaluate(config, workdir)
    except OneLineError as e:  # a busy workdir, an unprepared or damaged dataset, a full disk
        print(f"error: {e}", file=sys.stderr, flush=True)
        if jax.process_count() > 1:  # leave as below: one process may meet it alone (a damaged shard)
            os._exit(1)
        sys.exit(1)
    except preemption.TrainingStopped as e:
        print(e, flush=True)
        sys.exit(preemption.EXIT_STOPPED)
    except BaseException as e:
        if jax.process_count() > 1:
            # Leave without jax.distributed's orderly shutdown: the other processes then stop with an
            # error within --heartbeat_timeout_seconds instead of waiting in a collective forever.
            traceback.print_exc()
            cause = (str(e).strip().splitlines() or [""])[0][:200]
            print(f"error: process {jax.process_index()} of {jax.process_count()} stopped "
                  f"({type(e).__name__}: {cause}); a collective fails like this when another process "
                  f"is gone. The others stop within {FLAGS.heartbeat_timeout_seconds} s; rerun every "
                  f"process to resume from the last checkpoint in {workdir}.", file=sys.stderr, flush=True)
            os._exit(1)
        raise
    if jax.process_index() == 0:
        print(f"Done at step {results.step}: {results.eval_split} recon {results.recon:.4g} (copying the "
              f"input: {results.recon_zero_motion:.4g}). Sample next frames with:\n"
              f"  python experiments/demo.py sample --workdir={workdir} --image=YOUR_IMAGE.png")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
