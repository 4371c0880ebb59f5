"""Sprites rendered from the Universal LPC spritesheet (§5.2; tfds_builders/lpc_sprites).

  python experiments/prepare_data.py --dataset=lpc_sprites --builder_config=size_64   # once, 1.5 min
  python experiments/train.py --dataset=lpc_sprites:cpu     # the shipped sprites_cpu: Reed's split sizes
  python experiments/train.py --dataset=lpc_sprites         # paper size on the paper's 652 / 20 split

`cpu`: the `shapes:cpu` network for 12,000 steps: two seeds side by side took 73 minutes on 2 cores;
one run alone trained at about 4.9 steps/s there (so about 41 minutes, estimated from that rate).
"""

from visual_dynamics import config as configs

CPU_TRAIN_STEPS = 12_000


def get_config(variant: str = ""):
    c = configs.base_config("lpc_sprites", image_size=64)
    c.builder_config = "paper"  # all 21 animations, the paper's 652 / 20 characters
    c = configs.apply_variant(c, variant, tiny_builder_config="tiny")
    if variant == "cpu":
        # Validation characters to choose on, and Table 2's test characters never trained on.
        c.builder_config = "size_64"
        c.num_train_steps = CPU_TRAIN_STEPS
    return c
