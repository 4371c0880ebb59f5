#!/usr/bin/env bash
# The paper's Shapes experiment on a lent GPU machine in one call, every result in OUT as it exists.
#
#   bash experiments/device/shapes_on_gpu.sh "$OUT"                      # the paper's sizes, 9-minute deadline
#   bash experiments/device/shapes_on_gpu.sh OUT --variant=tiny --deadline_minutes=2 --num_train_steps=50
#
# Here first: `python experiments/device/carried_wheels.py fetch` puts the wheels the GPU machine lacks
# in .whl/ (name it in the device call's `carry`). There, in order: install those wheels, import every
# module the run needs and print the versions and devices (stopping at once on anything missing), then
# experiments/reproduce_shapes.py with --out_dir=OUT: both trainings side by side, each model exported
# to OUT/model.npz and OUT/ae.npz, Fig. 5 and Table 1, the applications, the speed table, with
# OUT/results.json and results.md rewritten after each phase and a phase that cannot finish before the
# deadline skipped (said in results.json). OUT/log.txt is the whole output. Extra arguments go to
# reproduce_shapes.py (a later --workdir or --deadline_minutes wins over the default); it runs in this
# process, so that a SIGTERM reaches it (its runs save their checkpoints) and a rerun resumes.
set -euo pipefail
out=$(realpath -m "${1:?usage: shapes_on_gpu.sh OUT [reproduce_shapes.py flags]}")
shift
cd "$(dirname "$0")/../.."
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1

python=${PYTHON:-python3}   # the interpreter to run (a test names its own)
wheels=${WHEELS_DIR:-.whl}  # the carried wheels
if compgen -G "$wheels/*.whl" > /dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$wheels"/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
"$python" experiments/device/preflight.py
exec "$python" experiments/reproduce_shapes.py --workdir=/tmp/shapes_on_gpu --out_dir="$out" --speed \
  --deadline_minutes=9 "$@"
