"""Sprites rendered from the Universal LPC spritesheet (§5.2; tfds_builders/lpc_sprites).

  python experiments/prepare_data.py --dataset=lpc_sprites --builder_config=size_64   # once, 1.5 min
  python experiments/train.py --dataset=lpc_sprites:cpu     # the shipped sprites_cpu: Reed's split sizes
  python experiments/train.py --dataset=lpc_sprites         # paper size on the paper's 652 / 20 split

`cpu`: the `shapes:cpu` network for 12,000 steps: two seeds side by side took 73 minutes on 2 cores;
one run alone trained at about 4.9 steps/s there (so about 41 minutes, estimated from that rate).

`cpu_<lever>`: the Sprites study's variants (docs/results.md), each `cpu` with one thing changed, scored
on the validation characters (experiments/diagnose_sprites.py, evaluate_sprites.py --split=validation):
  python experiments/train.py --dataset=lpc_sprites:cpu_wide --workdir=W
"""

from visual_dynamics import config as configs

CPU_TRAIN_STEPS = 12_000

# lever -> (what it changes, the overrides of `cpu`): one variable each, from the fixed `cpu` baseline.
STUDY_LEVERS = {
    "48k": ("training length: four times the steps", {"num_train_steps": 48_000}),
    "cosine": ("learning-rate schedule: cosine decay to 0", {"lr_schedule": "cosine"}),
    "wide": ("width: twice the image encoder's maps per scale and the motion decoder's channels",
             {"model.image_encoder_channels": (32, 32, 32, 32), "model.decoder_channels": (64, 64)}),
    "k9": ("kernel size 9 (reach 4 / 8 / 16 / 32 px at the four scales, from 2 / 4 / 8 / 16); z, still of "
           "800, reaches the kernel decoder through a dense layer (the 5 x 5 grid fits size 5 only)",
           {"model.kernel_size": 9, "model.z_size": 800}),
    "lambda400": ("the loss normalised at 64 px: λ = 400 keeps the paper's per-pixel weight at 4x its pixels",
                  {"recon_weight": 400.0}),
    "klwarmup": ("a KL warm-up: the KL weight rises from 0 to 1 over the first 3,000 steps",
                 {"kl_warmup_steps": 3_000}),
    "bs32": ("batch size 32 (from 16)", {"batch_size": 32}),
}


def get_config(variant: str = ""):
    c = configs.base_config("lpc_sprites", image_size=64)
    c.builder_config = "paper"  # all 21 animations, the paper's 652 / 20 characters
    lever = variant[len("cpu_"):] if variant.startswith("cpu_") else None
    if lever is not None and lever not in STUDY_LEVERS:
        raise ValueError(f"unknown config variant {variant!r}; the study's are "
                         f"{', '.join('cpu_' + name for name in STUDY_LEVERS)}")
    c = configs.apply_variant(c, "cpu" if lever else variant, tiny_builder_config="tiny")
    if variant == "cpu" or lever:
        # Validation characters to choose on, and Table 2's test characters never trained on.
        c.builder_config = "size_64"
        c.num_train_steps = CPU_TRAIN_STEPS
    if lever:
        for key, value in STUDY_LEVERS[lever][1].items():
            parent, _, name = key.rpartition(".")
            (c[parent] if parent else c)[name] = value
    return c
