"""Exercise (§5.3): the authors' real exercise videos, 128x128 frame pairs. The main job.

  python experiments/prepare_data.py --dataset=exercise --manual_dir=DIR   # once, see docs/datasets.md
  python experiments/train.py --dataset=exercise
"""

from visual_dynamics import config as configs


def get_config(variant: str = ""):
    c = configs.base_config("exercise", image_size=128)
    c.builder_config = "size_128"
    return configs.apply_variant(c, variant, tiny_builder_config="size_64")
