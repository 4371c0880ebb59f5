"""visual-dynamics: a JAX/Flax Layered Cross Convolutional Network (Xue et al., TPAMI).

Given one image, the model samples many possible next frames. See README.md and docs/.
"""

__version__ = "0.1.0"
