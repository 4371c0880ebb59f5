"""Shapes (§5.1): the paper's network on generated 64x64 pairs.

  python experiments/train.py --dataset=shapes          # paper size (slow on CPU)
  python experiments/train.py --dataset=shapes:small    # a CPU-sized network, minutes
  python experiments/train.py --dataset=shapes:cpu      # small, 64 px decoder, 20,000 steps: < 2 h on 2 cores
  python experiments/train.py --dataset=shapes:tiny     # tests and smoke runs
"""

from visual_dynamics import config as configs


def get_config(variant: str = ""):
    c = configs.base_config("shapes", image_size=64)
    c.builder_config = "size_64"
    return configs.apply_variant(c, variant, tiny_builder_config="tiny")
