"""Imports every module a run of experiments/reproduce_shapes.py needs, in its first seconds: prints each
version and the devices, and exits with one line naming what is missing (a lent machine's time is
minutes; a missing package found after the training would cost them all)."""

import importlib
import sys

# The project's modules, and the third-party ones they or the evaluation import (torch: the speed table).
MODULES = ("visual_dynamics.train", "visual_dynamics.predictor", "visual_dynamics.data.pipeline",
           "visual_dynamics.evaluation.scene_fit", "visual_dynamics.evaluation.flow_baseline",
           "tfds_builders.shapes.shapes_dataset_builder", "jax", "flax", "optax", "orbax.checkpoint",
           "tensorflow_datasets", "array_record", "grain", "ml_collections", "tensorboardX", "portpicker",
           "cv2", "scipy", "h5py", "PIL", "matplotlib", "torch")


def main() -> None:
    missing = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            missing.append(f"{name} ({e})")
            continue
        if "." not in name:
            print(f"{name} {getattr(module, '__version__', '')}", flush=True)
    if missing:
        sys.exit(f"error: missing: {'; '.join(missing)}. Fetch the wheels here (python "
                 f"experiments/device/carried_wheels.py fetch) and carry .whl in the device call.")
    import jax

    print(f"devices: {jax.devices()}", flush=True)


if __name__ == "__main__":
    main()
