"""Statistics of the learned z (Table 1, Fig. 10): sparsity of z_mean and its PCA dimensionality."""

import numpy as np

from visual_dynamics import visualization

ACTIVE_THRESHOLD = 0.1  # a dimension is "not ~0" when its mean |z_mean| over the pairs exceeds this
VARIANCE_COVERED = 0.95


def latent_statistics(z_mean: np.ndarray, z_logvar: np.ndarray) -> dict:
    """Table 1's numbers from posteriors of N pairs, z_mean and z_logvar [N, Z].

    Returns:
      {'dims': Z, 'active_dims': dimensions with mean |z_mean| > ACTIVE_THRESHOLD,
       'pca_components_95': principal components of z_mean covering 95 % of its variance,
       'active_dims_logvar_below_-1': active dimensions whose mean z_logvar is below -1 (posterior
       clearly narrower than the prior)}.
    """
    active = np.abs(z_mean).mean(axis=0) > ACTIVE_THRESHOLD
    centred = z_mean - z_mean.mean(axis=0)
    variances = np.linalg.svd(centred, compute_uv=False) ** 2
    covered = np.cumsum(variances) / variances.sum() if variances.sum() > 0 else np.ones(1)
    return {"pairs": int(len(z_mean)), "dims": int(z_mean.shape[1]), "active_dims": int(active.sum()),
            "pca_components_95": int(np.searchsorted(covered, VARIANCE_COVERED) + 1),
            "active_dims_logvar_below_-1": int((active & (z_logvar.mean(axis=0) < -1)).sum())}


def plot_latents(panels: dict[str, tuple[np.ndarray, np.ndarray]], path: str) -> None:
    """Fig. 10 / Fig. 11: one column per titled (z_mean, z_logvar) pair of [N, Z] arrays; in each,
    one vertical line per dimension spanning its values over the N pairs."""
    fig, axes = visualization.subplots(2, len(panels), figsize=(3 + 5 * len(panels), 4.5), squeeze=False)
    for column, (title, (z_mean, z_logvar)) in enumerate(panels.items()):
        dims = np.arange(z_mean.shape[1])
        for ax, values, name in ((axes[0, column], z_mean, "z_mean"),
                                 (axes[1, column], z_logvar, "z_logvar")):
            ax.vlines(dims, values.min(axis=0), values.max(axis=0), linewidth=0.6)
            ax.set_ylabel(name)
        axes[0, column].set_title(title)
        axes[1, column].set_xlabel("dimension of z")
    visualization.save_figure(fig, path)
