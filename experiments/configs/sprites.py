"""Sprites (§5.2): Liberated Pixel Cup characters of Reed et al. (NIPS 2015).

  python experiments/prepare_data.py --dataset=sprites --manual_dir=DIR   # once, see README
  python experiments/train.py --dataset=sprites
"""

from visual_dynamics import config as configs


def get_config(variant: str = ""):
    c = configs.base_config("sprites", image_size=64)
    c.builder_config = "size_64"
    return configs.apply_variant(c, variant, tiny_builder_config="size_64")
