"""XLA compiler options for the network's compiled functions, and `jit` / `pmap` that apply them.

jaxlib 0.10's CPU backend hands convolutions, dots and reductions to YNNPACK fusions by default. For
convolutions its classic emitter was much faster on the 2-core development CPU: 3.5x for the weight
gradient of the image encoder's largest layer and 5x for a 'VALID' convolution, 10 % slower for forward
passes and input gradients (`python benchmarks/cpu_convolutions.py`); 1.6x and 1.7x for the whole
`:small` and paper-size train steps (`python benchmarks/train_step.py --compiler_options=default,ours`).
So on CPU every function that runs the network is compiled with YNNPACK fusions for dots and
reductions only. (Not none: XLA's classic reductions sum less accurately,
and BatchNorm's gradients then differed by up to 1 % between one device and two, which the pmap
equivalence test caught.) The option is per compilation: nothing else in the process changes, and a
jaxlib that does not know it gets none (with a warning) instead of an error.
"""

import functools
import os
import subprocess
import sys
import warnings
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

# The YNNPACK fusion types XLA uses by default, less LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION.
CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,"
                                                       "LIBRARY_FUSION_TYPE_REDUCE"}
# The same choice as an XLA_FLAGS entry, for a process that joins others (see `Pmapped`).
CPU_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"


@functools.cache
def _accepted() -> bool:
    """Whether this jaxlib's CPU backend compiles with CPU_OPTIONS (tried once, on a one-element sum)."""
    try:
        one = jax.device_put(np.zeros(1, np.float32), jax.devices("cpu")[0])
        jax.jit(jnp.sum, compiler_options=CPU_OPTIONS).lower(one).compile()
        return True
    except Exception as error:  # an unknown option is an XlaRuntimeError whose type varies by jaxlib
        warnings.warn(f"this jaxlib does not take the XLA option {CPU_OPTIONS}; convolutions are "
                      f"compiled with its defaults, which may be slower on CPU ({error})")
        return False


def compiler_options(backend: Optional[str] = None) -> Optional[dict[str, Any]]:
    """CPU_OPTIONS on the CPU backend (default: JAX's default backend) where accepted, else None."""
    backend = backend or jax.default_backend()
    return CPU_OPTIONS if backend == "cpu" and _accepted() else None


def jit(fn: Callable, **kwargs) -> Callable:
    """`jax.jit(fn, **kwargs)` with `compiler_options()`."""
    return jax.jit(fn, compiler_options=compiler_options(), **kwargs)


def add_cpu_flag() -> None:
    """Adds CPU_FLAG to this process's XLA_FLAGS, for a process about to join others: there the
    pmapped step runs through `jax.pmap` itself, which takes no compiler options. Call it before JAX
    starts a backend. Skipped if XLA_FLAGS already sets the option, or if this jaxlib does not parse
    the flag (tried in a subprocess: an unknown flag aborts the process that reads it)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if CPU_FLAG.split("=")[0] in flags:
        return
    probe = subprocess.run([sys.executable, "-c", "import jax; jax.devices('cpu')"],
                           env={**os.environ, "XLA_FLAGS": f"{flags} {CPU_FLAG}".strip()},
                           capture_output=True, timeout=120)
    if probe.returncode:
        warnings.warn(f"this jaxlib does not take the XLA flag {CPU_FLAG}; convolutions are compiled "
                      f"with its defaults, which may be slower on CPU")
        return
    os.environ["XLA_FLAGS"] = f"{flags} {CPU_FLAG}".strip()


class Pmapped:
    """`jax.pmap(fn, **kwargs)` compiled with the options of its devices' backend: one executable
    per signature (tree structure, shapes and dtypes) of the arguments, built on its first call.

    With several processes it calls `jax.pmap` itself, which turns each process's local arrays into
    global ones and back (a compiled executable takes global arrays only); there `add_cpu_flag`, called
    by `distributed.initialize`, makes the same choice for the whole process."""

    def __init__(self, fn: Callable, **pmap_kwargs):
        self._pmapped = jax.pmap(fn, **pmap_kwargs)
        devices = pmap_kwargs.get("devices")
        self._options = compiler_options(devices[0].platform if devices else None)
        self._executables = {}

    def lower(self, *args):
        """The pmapped function lowered for `args` (jax.pmap's `lower`). Its `compile()` uses XLA's
        default options; `self.compile(*args)` uses ours."""
        return self._pmapped.lower(*args)

    def compile(self, *args):
        """The executable for arguments like `args` (arrays, or jax.ShapeDtypeStructs)."""
        leaves, tree = jax.tree.flatten(args)
        key = (tree, tuple((tuple(x.shape), x.dtype) for x in leaves))
        if key not in self._executables:
            self._executables[key] = self.lower(*args).compile(compiler_options=self._options)
        return self._executables[key]

    def __call__(self, *args):
        if jax.process_count() > 1:
            return self._pmapped(*args)
        return self.compile(*args)(*args)
