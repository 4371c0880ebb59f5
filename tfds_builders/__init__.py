"""One TFDS builder a dataset; importing a builder module registers its dataset name."""
