"""The wheels a lent GPU machine lacks (Python 3.12, x86-64 manylinux), listed, fetched and checked.

  python experiments/device/carried_wheels.py fetch                     # wheels.txt's wheels into .whl/
  python experiments/make_wheelhouse.py --out=/tmp/wh312 --python_version=3.12
  python experiments/device/carried_wheels.py list --wheelhouse=/tmp/wh312   # rewrite wheels.txt
  python experiments/device/carried_wheels.py check --wheelhouse=/tmp/wh312  # install from them alone

wheels.txt names exactly the wheels to carry: every wheel the project needs (a full wheelhouse of
experiments/make_wheelhouse.py for Python 3.12) less the packages that gpu_packages.txt says the GPU
machine already has. `fetch` downloads them by name into .whl/ (ignored by git; the device run names it
in `carry`), building the few that are published as source alone. `check` installs the project's needs
into an empty --target from .whl/ plus the wheelhouse's wheels of the packages the GPU machine has, with
the index switched off: it fails if wheels.txt misses anything.
"""

import os
import subprocess
import sys
import tempfile

from absl import app, flags
from packaging.utils import canonicalize_name

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import make_wheelhouse  # noqa: E402  (experiments/, beside this folder)

WHEELS_LIST = os.path.join(HERE, "wheels.txt")
GPU_PACKAGES = os.path.join(HERE, "gpu_packages.txt")
PYTHON, GLIBC, ARCH = "3.12", "2.28", "x86_64"
MAX_MIB = 40  # with the working tree they travel in the device call's 64 MiB

flags.DEFINE_string("wheelhouse", None, "A full wheelhouse for Python 3.12 (experiments/make_wheelhouse.py).")
flags.DEFINE_string("carried_dir", os.path.join(ROOT, ".whl"),
                    "Where the carried wheels go (fetch) or are (check).")
FLAGS = flags.FLAGS


def wheel_name(filename: str) -> tuple[str, str]:
    """(canonical project name, version) of a wheel file name."""
    name, version = filename.split("-")[:2]
    return canonicalize_name(name), version


def listed(path: str) -> list[str]:
    """The non-comment lines of a list file."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def carried(wheelhouse: str) -> list[str]:
    """The wheel files of `wheelhouse` whose packages the GPU machine lacks (the project's own left out:
    the device run reads the working tree)."""
    present = set(listed(GPU_PACKAGES)) | {"visual-dynamics"}
    return sorted(f for f in os.listdir(wheelhouse) if f.endswith(".whl") and wheel_name(f)[0] not in present)


def download_args() -> list[str]:
    args = ["--only-binary=:all:", "--python-version", PYTHON, "--implementation", "cp"]
    for platform in make_wheelhouse.platform_tags(GLIBC, ARCH):
        args += ["--platform", platform]
    return args


def fetch(out: str) -> None:
    """Downloads wheels.txt's wheels into `out`; one that PyPI publishes as source alone (pure Python)
    is built into a universal wheel here."""
    os.makedirs(out, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    for filename in listed(WHEELS_LIST):
        if os.path.exists(os.path.join(out, filename)):
            continue
        requirement = "==".join(wheel_name(filename))
        done = subprocess.run(pip + ["download", "--no-deps", "--dest", out, requirement] + download_args())
        if done.returncode != 0:
            subprocess.run(pip + ["wheel", "--no-deps", "--wheel-dir", out, requirement], check=True)
    missing = sorted(set(listed(WHEELS_LIST)) - set(os.listdir(out)))
    if missing:
        sys.exit(f"error: the wheels fetched are named otherwise than wheels.txt's: {', '.join(missing)}")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in listed(WHEELS_LIST)) / 2 ** 20
    print(f"{len(listed(WHEELS_LIST))} wheels, {size:.1f} MiB, in {out}")
    if size > MAX_MIB:
        sys.exit(f"error: the carried wheels take {size:.1f} MiB, more than {MAX_MIB} MiB")


def check(wheelhouse: str, carried_dir: str) -> None:
    """Installs the project's runtime needs into an empty --target from `carried_dir` and the wheels of
    `wheelhouse` whose packages the GPU machine has, the index off; fails if anything is missing."""
    present = set(listed(GPU_PACKAGES))
    with tempfile.TemporaryDirectory() as work:
        gpu = os.path.join(work, "gpu")
        os.makedirs(gpu)
        for f in os.listdir(wheelhouse):
            if f.endswith(".whl") and wheel_name(f)[0] in present:
                os.link(os.path.join(wheelhouse, f), os.path.join(gpu, f))
        requirements = os.path.join(work, "requirements.txt")  # the project's runtime needs
        with open(requirements, "w") as f:
            f.write("\n".join(make_wheelhouse.requirements([])) + "\n")
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--target",
                        os.path.join(work, "empty"), "--find-links", carried_dir, "--find-links", gpu,
                        "--requirement", requirements] + download_args(), check=True)
    print(f"The project's needs install from {carried_dir} and the GPU machine's packages alone.")


def main(argv):
    if len(argv) != 2 or argv[1] not in ("list", "fetch", "check"):
        raise app.UsageError("give one of: list, fetch, check")
    if argv[1] in ("list", "check") and not FLAGS.wheelhouse:
        raise app.UsageError(f"{argv[1]} needs --wheelhouse")
    if argv[1] == "list":
        names = carried(FLAGS.wheelhouse)
        with open(WHEELS_LIST, "w") as f:
            f.write("# The cp312 manylinux x86-64 wheels a lent GPU machine lacks (experiments/device/"
                    "carried_wheels.py list).\n" + "\n".join(names) + "\n")
        print(f"{len(names)} wheels in {WHEELS_LIST}")
    elif argv[1] == "fetch":
        fetch(FLAGS.carried_dir)
    else:
        check(FLAGS.wheelhouse, FLAGS.carried_dir)


if __name__ == "__main__":
    app.run(main)
