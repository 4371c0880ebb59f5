"""Configs as code: the paper's model (§4) and training defaults, and the `tiny` shrink.

Dataset configs in experiments/configs/ start from `base_config()` and override a few fields.
"""

import importlib.util
import re
import sys
from typing import Optional

import ml_collections
from absl import flags

# Motion-encoder layer specs (channels, padding, pool after) that reach the paper's 5 x 5 grid.
PAPER_ENCODER_128 = (
    (96, "VALID", True), (96, "VALID", True), (128, "VALID", False),
    (128, "VALID", True), (256, "SAME", True), (256, "SAME", False))
# 128 -> 124 -> 62 -> 58 -> 29 -> 25 -> 21 -> 10 -> 10 -> 5 -> 5
PAPER_ENCODER_64 = (
    (96, "VALID", True), (96, "VALID", True), (128, "VALID", False),
    (128, "VALID", False), (256, "SAME", False), (256, "SAME", False))
# 64 -> 60 -> 30 -> 26 -> 13 -> 9 -> 5 -> 5 -> 5

# The per-channel mean that the original release subtracts from every image (RGB in [0, 1]).
ORIGINAL_IMAGE_MEAN = (129.67 / 255.0, 114.43 / 255.0, 107.26 / 255.0)


def model_config(image_size: int) -> ml_collections.ConfigDict:
    """The paper's network for a square input of `image_size` (64 or 128)."""
    layers = {64: PAPER_ENCODER_64, 128: PAPER_ENCODER_128}
    if image_size not in layers:
        raise ValueError(f"no paper motion-encoder layout for {image_size}px; set "
                         f"config.model.motion_encoder_layers by hand")
    return ml_collections.ConfigDict(dict(
        motion_encoder_layers=layers[image_size],
        # None: z is the encoder's 5 x 5 grid (paper: 3,200); a number: the z-size ablation (§6.3).
        z_size=ml_collections.config_dict.placeholder(int),
        kernel_size=5,
        kernel_decoder_channels=128,
        # The paper's text: 256, 128, 64, 32 from a 128 input (the Torch release: 1, 1/2, 1/4, 1/8).
        pyramid_scales=(2.0, 1.0, 0.5, 0.25),
        image_encoder_channels=(64, 64, 64, 32),
        image_encoder_pool_after=(1, 3),
        decoder_size=image_size // 2,
        decoder_channels=(128, 128),
        decoder_conv_sizes=(9, 1),
        conv_size=5,
        variational=True,
        cross_conv_impl="auto",     # 'reference' (vmapped lax conv), 'shift_add', or by backend
        compute_dtype="float32",    # or 'bfloat16'; parameters and optimizer state stay float32
        bn_momentum=0.9,
    ))


def base_config(dataset: str, image_size: int) -> ml_collections.ConfigDict:
    """Every config key with its default; dataset configs override a few."""
    c = ml_collections.ConfigDict()
    c.dataset = dataset
    c.image_size = image_size
    c.data_dir = ml_collections.config_dict.placeholder(str)  # None: TFDS's default folder.
    c.model = model_config(image_size)

    # Data conventions of the original release.
    c.image_mean = ORIGINAL_IMAGE_MEAN
    c.diff_scale = 100.0            # target v = (J - I) * diff_scale; frame = I + v_hat / diff_scale

    # Loss (Eq. 5): KL + recon_weight * ||v - v_hat||, per example, then batch mean.
    c.recon_norm = "l2"             # 'l2': mean squared error over pixels; 'l1': mean absolute error
    # lambda. With 'l2' over P target values this is the Gaussian likelihood of Eq. 3 with
    # sigma^2 = P / (2 lambda): 100 gives sigma ~ 4 (in diff_scale units) for a 32px target.
    c.recon_weight = 100.0

    c.seed = 0
    c.batch_size = 32               # global, split over all devices
    c.learning_rate = 1e-3
    c.lr_schedule = "constant"      # or 'cosine': from learning_rate down to 0 at num_train_steps
    c.kl_warmup_steps = 0           # > 0: the KL term's weight rises linearly from 0 to 1 over these steps
    c.grad_clip_norm = 10.0
    c.num_train_steps = 20_000
    c.log_every_steps = 50
    c.eval_every_steps = 1000
    c.checkpoint_every_steps = 1000
    c.max_checkpoints_to_keep = 3
    c.num_eval_batches = 8          # test batches for the reconstruction error
    c.z_bank_size = 1000            # training pairs whose z make the empirical sampling bank
    c.grid_images = 6               # rows in the sample grid written at each evaluation
    c.grid_samples = 5              # sampled next frames per row
    return c


def make_small(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A CPU-sized network on 64px images (minutes, not hours, on 2 cores): the paper's layer
    structure with a quarter of the channels, the Torch release's pyramid (1, 1/2, 1/4, 1/8),
    a 800-d z and a 32px decoder."""
    c.image_size = 64
    c.model.motion_encoder_layers = tuple(
        (ch // 4, pad, pool) for ch, pad, pool in PAPER_ENCODER_64)
    c.model.kernel_decoder_channels = 32
    c.model.pyramid_scales = (1.0, 0.5, 0.25, 0.125)
    c.model.image_encoder_channels = (16, 16, 16, 16)
    c.model.decoder_size = 32
    c.model.decoder_channels = (32, 32)
    c.model.decoder_conv_sizes = (5, 1)
    c.batch_size = 16
    c.learning_rate = 2e-3
    c.num_train_steps = 2000
    c.eval_every_steps = 250
    c.checkpoint_every_steps = 250
    return c


def make_cpu(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """`small` with its motion decoder at the input's side (64 px, not 32), trained for the paper's
    20,000 steps: under two hours on 2 CPU cores. The decoder's resolution is what the Fig. 5 ablation
    found to limit the triangles (docs/results.md)."""
    c = make_small(c)
    c.model.decoder_size = c.image_size
    c.num_train_steps = 20_000
    c.eval_every_steps = 1000
    c.checkpoint_every_steps = 500
    return c


def make_tiny(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Shrinks a config for tests and smoke runs: 32px images, narrow layers, 200-d z."""
    c.image_size = 32
    c.model.motion_encoder_layers = ((8, "VALID", True), (16, "VALID", True), (16, "SAME", False))
    c.model.kernel_decoder_channels = 16
    c.model.pyramid_scales = (1.0, 0.5)
    c.model.image_encoder_channels = (8, 8)
    c.model.image_encoder_pool_after = (0,)
    c.model.decoder_size = 16
    c.model.decoder_channels = (16,)
    c.model.decoder_conv_sizes = (5,)
    c.batch_size = 16
    c.learning_rate = 3e-3
    c.num_train_steps = 300
    c.log_every_steps = 25
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 2
    c.z_bank_size = 64
    c.grid_images = 4
    c.grid_samples = 3
    return c


VARIANTS = {"": lambda c: c, "small": make_small, "cpu": make_cpu, "tiny": make_tiny}


def as_autoencoder(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The paper's AE baseline of a config (a copy): no KL term, no sampler (model.variational False)."""
    ae = c.copy_and_resolve_references()
    ae.model.variational = False
    return ae


def apply_variant(c: ml_collections.ConfigDict, variant: str,
                  tiny_builder_config: str) -> ml_collections.ConfigDict:
    """Applies a named variant ('' = the paper's sizes, 'small', 'cpu', 'tiny') to a dataset config.

    `tiny_builder_config` names the stored image size the tiny variant reads (images of another
    size are resized on the device to `image_size`).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown config variant {variant!r}; choose one of "
                         f"{', '.join(repr(v) for v in VARIANTS)}")
    c = VARIANTS[variant](c)
    if variant == "tiny":
        c.builder_config = tiny_builder_config
    return c


def config_error(e: Exception) -> str:
    """One line for a config mistake: an unknown key (with ml_collections' suggestion) or value."""
    if isinstance(e, (AttributeError, KeyError)):
        text = str(e).strip("'\"").replace("\\n", " ").replace("\\'", "'")
        return f"unknown config key {text}. Keys are listed in experiments/configs/ and " \
               f"visual_dynamics/config.py."
    return str(e)


def define_config_flag(default: str, help_text: str) -> None:
    """ml_collections' --config flag (a config file[:VARIANT], overridden by --config.KEY=VALUE), locked.

    Without --config on the command line the default file is loaded, and the overrides applied, here:
    a mistake in them stops the program with one line (`config_error`).
    """
    from ml_collections import config_flags

    try:
        config_flags.DEFINE_config_file("config", default, help_text, lock_config=True)
    except Exception as e:  # pylint: disable=broad-except
        sys.exit(f"error: {config_error(e)}")


def _is_uniform(sequence) -> bool:
    """Whether a tuple's entries are all of one kind (channels, scales), not a record (channels,
    padding, pool)."""
    return len({type_text(v) for v in sequence}) <= 1


def type_text(value) -> str:
    """What a config entry's value is, for messages: 'int', 'a tuple of float', 'a tuple of (int, str,
    bool)'."""
    if not isinstance(value, (tuple, list)):
        return type(value).__name__
    kind = type(value).__name__
    if _is_uniform(value):
        return f"a {kind} of {type_text(value[0])}" if value else f"a {kind}"
    return f"({', '.join(type_text(v) for v in value)})"


def _conforms(value, reference) -> bool:
    """Whether `value` has the type of `reference`: an int where a float is expected too; a tuple of one
    kind entry by entry against its first entry, a record (a tuple of several kinds) position by
    position."""
    if reference is None:  # a placeholder: ml_collections checks its type itself
        return True
    if isinstance(reference, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            return False
        if _is_uniform(reference):
            return not reference or all(_conforms(v, reference[0]) for v in value)
        return len(value) == len(reference) and all(map(_conforms, value, reference))
    if isinstance(reference, float) and isinstance(value, int) and not isinstance(value, bool):
        return True
    return type(value) is type(reference)


def check_types(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict,
                prefix: str = "config") -> None:
    """Raises ValueError naming the first entry of `config` whose value has another type than the same
    entry of `reference` (the config before overrides), and the type expected."""
    for key, expected in reference.items():
        value, name = config[key], f"{prefix}.{key}"
        if isinstance(expected, ml_collections.ConfigDict):
            check_types(value, expected, name)
        elif not _conforms(value, expected):
            raise ValueError(f"--{name}={value!r}: {name} takes {type_text(expected)}, e.g. {expected!r}")


def _value_error(e: flags.Error) -> Optional[str]:
    """One line for a --config.KEY=VALUE whose value does not parse: the key and the type it takes (None:
    `e` is another mistake)."""
    match = re.match(r"flag --(config\.[\w.]+)=(.*?): ", str(e))
    if not isinstance(e, flags.IllegalFlagValueError) or not match:
        return None
    name, value = match.groups()
    *parents, key = name.split(".")[1:]
    parent = flags.FLAGS["config"].value
    for part in parents:
        parent = parent[part]
    expected = parent[key]
    if expected is None:  # a placeholder: its declared type
        return f"--{name}={value}: {name} takes {parent.get_ref(key).get_type().__name__} or None"
    return f"--{name}={value}: {name} takes {type_text(expected)}, e.g. {expected!r}"


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing (`app.run(main, flags_parser=parse_flags)`) with config mistakes (an
    unknown --config.KEY, a value of the wrong type or a bad variant) as one-line errors instead of
    tracebacks."""
    try:
        remaining = flags.FLAGS(argv)
    except flags.Error as e:
        cause = e.__cause__ or e.__context__
        sys.exit(f"error: {_value_error(e) or (config_error(cause) if cause else e)}")
    if "config" in flags.FLAGS:
        from ml_collections import config_flags

        file = config_flags.get_config_filename(flags.FLAGS["config"])
        try:  # the values that parsed but are of another type (ml_collections takes any tuple)
            check_types(flags.FLAGS.config, load_config_file(file))
        except ValueError as e:
            sys.exit(f"error: {e}")
    return remaining


def load_config_file(spec: str) -> ml_collections.ConfigDict:
    """The config that a config file 'PATH[:VARIANT]' (what --config names) gives, without overrides."""
    path, _, variant = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("_config_file", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.get_config(variant) if variant else module.get_config()
