"""A folder of wheels to install the project on a machine without internet (an air-gapped cluster).

Run on a machine with internet, for the Python and platform of the machine without:

  python experiments/make_wheelhouse.py --out=wheelhouse                          # this machine's Python
  python experiments/make_wheelhouse.py --out=wheelhouse --python_version=3.12    # another Python
  python experiments/make_wheelhouse.py --out=wheelhouse --extras=train,test      # with the test extra

then copy the folder over and install from it alone:

  pip install --no-index --find-links=wheelhouse 'visual-dynamics[train]' [-c constraints.txt]

The folder holds the project's own wheel and a binary wheel of every requirement, at the versions of
constraints.txt unless --no_constraints (then the newest that the requirements' ranges allow). On a
machine that already has some of the packages (e.g. a GPU machine with its own JAX and CUDA plugin),
install without `-c constraints.txt`: pip keeps what is there when it satisfies the requirements.
"""

import configparser
import os
import subprocess
import sys
import tempfile

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("out", "wheelhouse", "Folder to write the wheels to.")
flags.DEFINE_string("python_version", None, "Target Python, e.g. 3.12 (default: this interpreter's).")
flags.DEFINE_string("glibc", "2.28", "With --python_version: the target's glibc; wheels for any "
                    "manylinux up to it are taken (pip download --platform manylinux_2_N_ARCH).")
flags.DEFINE_string("arch", "x86_64", "With --python_version: the target's machine (x86_64, aarch64).")
flags.DEFINE_list("extras", ["train"], "Extras of setup.cfg to include (train, test, docs, bench, tfds-cli); "
                  "none (--extras=) for the light install that only uses trained models.")
flags.DEFINE_bool("no_constraints", False, "Do not pin to constraints.txt.")
FLAGS = flags.FLAGS


def requirements(extras: list[str]) -> list[str]:
    """The runtime requirements of setup.cfg plus those of `extras`."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    unknown = set(extras) - set(parser["options.extras_require"])
    if unknown:
        raise app.UsageError(f"unknown extras {sorted(unknown)}; setup.cfg has "
                             f"{sorted(parser['options.extras_require'])}")
    blocks = [parser["options"]["install_requires"]] + [parser["options.extras_require"][e] for e in extras]
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def platform_tags(glibc: str, arch: str) -> list[str]:
    """Every manylinux tag a machine with this glibc accepts (pip takes --platform tags literally)."""
    major, minor = (int(part) for part in glibc.split("."))
    tags = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, 4, -1)]
    return tags + [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}", "any"]


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    out = os.path.abspath(FLAGS.out)
    os.makedirs(out, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(pip + ["wheel", "--no-deps", "--wheel-dir", out, ROOT], check=True)
    target = []
    if FLAGS.python_version:
        target = ["--python-version", FLAGS.python_version, "--only-binary=:all:"]
        for platform in platform_tags(FLAGS.glibc, FLAGS.arch):
            target += ["--platform", platform]
    pins = [] if FLAGS.no_constraints else ["--constraint", os.path.join(ROOT, "constraints.txt")]
    with tempfile.TemporaryDirectory() as work:
        listed = os.path.join(work, "requirements.txt")
        with open(listed, "w") as f:
            f.write("\n".join(requirements(FLAGS.extras)) + "\n")
        if target:
            # pip downloads only binary wheels for another Python; the few requirements published as
            # source alone (pure Python, e.g. promise) are found by resolving for this Python and
            # built into universal wheels here first.
            sources = os.path.join(work, "sources")
            subprocess.run(pip + ["download", "--dest", sources, "--requirement", listed] + pins, check=True)
            built = [os.path.join(sources, n) for n in os.listdir(sources) if not n.endswith(".whl")]
            if built:
                subprocess.run(pip + ["wheel", "--no-deps", "--wheel-dir", out] + built, check=True)
        subprocess.run(pip + ["download", "--dest", out, "--find-links", out, "--requirement", listed]
                       + pins + target, check=True)
    wheels = sorted(name for name in os.listdir(out) if name.endswith(".whl"))
    print(f"{len(wheels)} wheels in {out}. On the machine without internet:\n"
          f"  pip install --no-index --find-links={out} 'visual-dynamics"
          + (f"[{','.join(FLAGS.extras)}]'" if FLAGS.extras else "'"))


if __name__ == "__main__":
    app.run(main)
