"""The table of the art's layers the builder renders from: `layers.tsv`, one `path<TAB>sha256` a layer
(the SHA-256 of its visible pixels, `lpc.pixel_digest`).

  python -m tfds_builders.lpc_sprites.layer_digests ART_ROOT   # rewrites layers.tsv from that art
"""

import os
import sys

from visual_dynamics.data import lpc

TABLE = os.path.join(os.path.dirname(__file__), "layers.tsv")


def read(path: str = TABLE) -> dict[str, str]:
    """{layer path relative to the art's root: sha256 of its visible pixels}."""
    with open(path) as f:
        return dict(line.rstrip("\n").split("\t") for line in f if line.strip() and not line.startswith("#"))


def write(root: str, path: str = TABLE) -> None:
    """Writes the table of every layer of the character grid, read from the art at `root`."""
    lines = [f"{relative}\t{lpc.pixel_digest(lpc.read_layer(root, relative))}\n"
             for relative in lpc.layers_of(range(lpc.NUM_CHARACTERS))]
    with open(path, "w") as f:
        f.write(f"# Visible pixels of the layers of {lpc.REPOSITORY} at {lpc.COMMIT} (lpc.pixel_digest)\n")
        f.writelines(lines)


if __name__ == "__main__":
    write(sys.argv[1])
