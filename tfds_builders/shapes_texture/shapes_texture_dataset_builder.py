"""Textured Shapes: the Shapes motions, textured objects over a static textured background."""

from tfds_builders.shapes import shapes_dataset_builder


class Builder(shapes_dataset_builder.Builder):
    """Generated pairs of textured shapes whose motion disoccludes the textured background."""

    TEXTURED = True
