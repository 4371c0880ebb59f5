"""A trained run, its AE baseline and the dataset it was trained on, loaded for the evaluation commands."""

from typing import Optional

from visual_dynamics import checkpointing
from visual_dynamics.config import as_autoencoder
from visual_dynamics.data import pipeline
from visual_dynamics.predictor import Predictor

# What `load_run_and_dataset` raises for bad input, each with a message naming the problem and the fix.
LOAD_ERRORS = (checkpointing.NoCheckpointError, FileNotFoundError, ValueError,
               pipeline.DatasetNotPreparedError)


def load_run_and_dataset(workdir: Optional[str], ae_workdir: Optional[str] = None,
                         dataset: Optional[str] = None, pretrained: Optional[str] = None,
                         data_dir: Optional[str] = None):
    """(the run in `workdir` or the shipped model `pretrained`, its AE baseline in `ae_workdir` or
    None, the prepared TFDS builder of the model's dataset).

    Args:
      dataset: if given, the dataset the model must have been trained on.
      data_dir: where the dataset is (default: the run's own data_dir, else TFDS's default).
    Raises:
      One of LOAD_ERRORS: no run in a workdir; the AE run's model is not the run's with
      `config.as_autoencoder`; the model is of another dataset; the dataset is not prepared.
    """
    predictor = Predictor.from_pretrained(pretrained) if pretrained else Predictor.from_checkpoint(workdir)
    config = predictor.config
    ae = Predictor.from_checkpoint(ae_workdir, config=as_autoencoder(config)) if ae_workdir else None
    if dataset is not None and config.dataset != dataset:
        raise ValueError(f"{workdir or pretrained} is a {config.dataset!r} model; this evaluation needs "
                         f"{dataset!r}")
    builder = pipeline.prepared_builder(config.dataset, config.get("builder_config"),
                                        data_dir or config.get("data_dir"))
    return predictor, ae, builder
