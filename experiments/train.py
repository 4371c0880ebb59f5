"""Trains the Layered Cross Convolutional Network.

  python experiments/train.py --dataset=shapes:small --workdir=workdirs/shapes_small
  python experiments/train.py --dataset=exercise               # the main job (prepare data first)
  python experiments/train.py --dataset=shapes --config.batch_size=64 --config.learning_rate=3e-4

--dataset=NAME[:VARIANT] loads experiments/configs/NAME.py (variants: '' = the paper's sizes,
'small' = CPU-sized, 'tiny' = smoke test); --config=PATH[:VARIANT] loads any config file instead.
Rerunning with the same --workdir resumes from its newest checkpoint.
"""

import os
import sys
import traceback

from absl import app, flags, logging
from ml_collections import config_flags

from visual_dynamics.config import VARIANTS, config_error, parse_flags

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
DATASETS = sorted(f[:-3] for f in os.listdir(CONFIG_DIR) if f.endswith(".py") and f != "__init__.py")


def _dataset_from_argv(argv: list[str]) -> str:
    """--dataset is read before flag parsing: it picks the file that --config.x=y overrides edit."""
    for i, arg in enumerate(argv):
        if arg.startswith("--dataset="):
            return arg.split("=", 1)[1]
        if arg == "--dataset" and i + 1 < len(argv):
            return argv[i + 1]
    return "shapes:small"


_DATASET = _dataset_from_argv(sys.argv)
_NAME, _, _VARIANT = _DATASET.partition(":")
if _NAME not in DATASETS or _VARIANT not in VARIANTS:
    sys.exit(f"error: unknown --dataset={_DATASET!r}; choose one of: {', '.join(DATASETS)}, "
             f"optionally with a variant: {', '.join(':' + v for v in VARIANTS if v)}")

flags.DEFINE_string("dataset", "shapes:small", "NAME[:VARIANT] of a config in "
                    f"experiments/configs/ ({', '.join(DATASETS)}); variants: small, tiny.")
flags.DEFINE_string("workdir", None, "Where checkpoints, TensorBoard events, sample grids and "
                    "the z bank go (default: workdirs/<dataset>).")
flags.DEFINE_string("coordinator_address", None, "Multi-process: address of process 0 (host:port).")
flags.DEFINE_integer("num_processes", None, "Multi-process: number of processes.")
flags.DEFINE_integer("process_id", None, "Multi-process: index of this process.")
flags.DEFINE_enum("distributed", None, ["auto"], "'auto': jax.distributed.initialize() with no arguments, "
                  "which finds the coordinator itself on SLURM and Cloud TPU VMs.")
flags.DEFINE_integer("heartbeat_timeout_seconds", 100, "Multi-process: a process that stops answering "
                     "for this long (killed, host down) stops the others with an error.")
try:  # Loading the config file applies the --config.KEY=VALUE overrides already.
    config_flags.DEFINE_config_file(
        "config", os.path.join(CONFIG_DIR, f"{_NAME}.py") + (f":{_VARIANT}" if _VARIANT else ""),
        "Config file (set by --dataset); override entries with --config.KEY=VALUE.",
        lock_config=True)
except Exception as e:  # pylint: disable=broad-except
    sys.exit(f"error: {config_error(e)}")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import jax  # After flag parsing, so --help stays fast.

    logging.set_verbosity(logging.WARNING)  # Our progress lines, not every library's INFO log.

    if FLAGS.coordinator_address or FLAGS.distributed:
        from visual_dynamics import distributed

        distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id,
                               FLAGS.heartbeat_timeout_seconds)
    from visual_dynamics import train
    from visual_dynamics.data.pipeline import DatasetNotPreparedError

    workdir = FLAGS.workdir or os.path.join("workdirs", FLAGS.dataset.replace(":", "_"))
    if jax.process_index() == 0:
        print(FLAGS.config.to_json_best_effort(indent=2), flush=True)
    try:
        results = train.train_and_evaluate(FLAGS.config, workdir)
    except DatasetNotPreparedError as e:
        sys.exit(f"error: {e}")
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
        print(f"Done at step {results.step}: test recon {results.recon:.4g} (copying the "
              f"input: {results.recon_zero_motion:.4g}). Sample next frames with:\n"
              f"  python experiments/demo.py sample --workdir={workdir} --image=YOUR_IMAGE.png")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
