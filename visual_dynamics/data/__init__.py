"""Datasets: the Shapes generator and the TensorFlow-free training input pipeline."""
