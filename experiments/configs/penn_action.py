"""Penn Action (§5.3): person-centred frame pairs from the Penn Action videos.

  python experiments/prepare_data.py --dataset=penn_action --manual_dir=DIR   # once, see docs/datasets.md
  python experiments/train.py --dataset=penn_action
"""

from visual_dynamics import config as configs


def get_config(variant: str = ""):
    c = configs.base_config("penn_action", image_size=128)
    c.builder_config = "size_128"
    return configs.apply_variant(c, variant, tiny_builder_config="size_64")
