"""Textured Shapes (§5.1 variant with disocclusion): the paper's network on generated 64x64 pairs.

  python experiments/train.py --dataset=shapes_texture          # paper size (slow on CPU)
  python experiments/train.py --dataset=shapes_texture:small    # a CPU-sized network, minutes
  python experiments/train.py --dataset=shapes_texture:tiny     # tests and smoke runs
"""

from visual_dynamics import config as configs


def get_config(variant: str = ""):
    c = configs.base_config("shapes_texture", image_size=64)
    c.builder_config = "size_64"
    return configs.apply_variant(c, variant, tiny_builder_config="tiny")
