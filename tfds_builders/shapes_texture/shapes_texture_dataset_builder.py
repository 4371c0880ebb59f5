"""Textured Shapes: the Shapes motions, textured objects over a static textured background."""

from tfds_builders.shapes import shapes_dataset_builder


class Builder(shapes_dataset_builder.Builder):
    """Generated pairs of textured shapes whose motion disoccludes the textured background."""

    TEXTURED = True
    # TFDS reads README.md and CITATIONS.bib from the folder of `pkg_dir_path`, which a subclass inherits
    # once its parent's is set: None makes TFDS find this builder's own folder.
    pkg_dir_path = None
