"""Training across processes and hosts with JAX's own runtime (`jax.distributed`).

Each process drives its local devices; the pmapped train step's collectives span all of them. On CPU
the collectives go through Gloo (what lets tests run several processes on one machine).
"""

from typing import Optional

import jax
import numpy as np
from jax import lax

from visual_dynamics import compilation


def initialize(coordinator_address: Optional[str] = None, num_processes: Optional[int] = None,
               process_id: Optional[int] = None, heartbeat_timeout_seconds: int = 100) -> None:
    """Joins this process to the others. With no address, JAX finds the coordinator itself where a
    cluster environment says where it is (SLURM, Cloud TPU VMs).

    A process that stops answering for `heartbeat_timeout_seconds` (killed, host down) makes the others
    stop with an error instead of waiting forever.
    """
    compilation.add_cpu_flag()  # before JAX starts its backends
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # the CPU backend's only; GPUs use NCCL
    jax.distributed.initialize(coordinator_address, num_processes, process_id,
                               heartbeat_timeout_seconds=heartbeat_timeout_seconds)


class StopAgreement:
    """The step after which every process stops, whichever process was signalled: `check(requested)`,
    called by every process once per step, returns the signal number some process had requested by the
    previous step (0: none), the same on every process. The requests are combined by a `pmax` over every
    device, read one step later so that the check never waits on the step in flight."""

    def __init__(self, num_local_devices: int, axis_name: str):
        self.num_local_devices, self._pending = num_local_devices, None
        self._reduce = jax.pmap(lambda x: lax.pmax(x, axis_name), axis_name=axis_name)

    def check(self, requested: int) -> int:
        agreed = 0 if self._pending is None else int(self._pending[0])
        self._pending = self._reduce(np.full((self.num_local_devices,), requested, np.int32))
        return agreed
