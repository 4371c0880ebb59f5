"""Sprites (§5.2): Liberated Pixel Cup characters of Reed et al. (NIPS 2015).

  python experiments/prepare_data.py --dataset=sprites --builder_config=paper --manual_dir=DIR   # once
  python experiments/train.py --dataset=sprites
"""

from visual_dynamics import config as configs


def get_config(variant: str = ""):
    c = configs.base_config("sprites", image_size=64)
    c.builder_config = "paper"  # the paper's 21 animations and 652 / 20 characters; size_64: Reed's split
    return configs.apply_variant(c, variant, tiny_builder_config="size_64")
