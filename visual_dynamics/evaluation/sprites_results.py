"""The paper's Sprites results (§5.2, §6) from a model and a sprites test split: Table 2 as a table
beside the published rows, and the figures (Fig. 6, 8, 15a, 16, latent traversals)."""

import os
from collections import defaultdict

import numpy as np

from visual_dynamics import preprocessing
from visual_dynamics import visualization as vis
from visual_dynamics.evaluation import analogy

PAPER_TABLE2 = {  # Table 2 of the paper: Reed et al.'s three models and the paper's
    "Add": (41.0, 53.8, 55.7, 52.1, 77.6, 56.0), "Dis": (40.8, 55.8, 52.6, 53.5, 79.8, 56.5),
    "Dis+Cls": (13.3, 24.6, 17.2, 18.9, 40.8, 23.0), "Ours (paper)": (9.5, 11.5, 11.1, 28.2, 19.0, 15.9)}
PAPER_TABLE1 = {"active_dims": 54, "pca_components_95": 5}
COLUMNS = ("spellcast", "thrust", "walk", "slash", "shoot", "average")


def animations_of(examples: list[dict]) -> list[list[np.ndarray]]:
    """The frames of each (character, action, viewpoint) animation in the examples, in frame order."""
    pairs = defaultdict(dict)
    for e in examples:
        pairs[(int(e["character"]), int(e["action"]), int(e["viewpoint"]))][int(e["frame"])] = e
    frames = []
    for key in sorted(pairs):
        ordered = [pairs[key][t] for t in sorted(pairs[key])]
        frames.append([e["image"] for e in ordered] + [ordered[-1]["next_image"]])
    return frames


def mean_and_spread(values: list[float]) -> tuple[float, float]:
    """(mean, half the range) of a statistic over runs."""
    return float(np.mean(values)), float((np.max(values) - np.min(values)) / 2)


def table_markdown(runs: list[dict], published: bool = True) -> str:
    """Table 2 as docs/results.md shows it from runs' {'table2': ...}: the published rows (if
    `published`), then ours, our Add, copying, and the ratios ours ÷ Add."""
    def row(name, values):
        return f"| {name} | " + " | ".join(values) + " |"

    lines = [row("Model", COLUMNS), row("---", ["---"] * len(COLUMNS))]
    if published:
        lines += [row(name, [f"{v:.1f}" for v in values]) for name, values in PAPER_TABLE2.items()]
    for method, name in (("ours", "**Ours (this code)**"), ("add", "Add on our rendering"),
                         ("copy", "Copy the target")):
        cells = []
        for column in COLUMNS:
            mean, spread = mean_and_spread([r["table2"][method][column] for r in runs])
            cells.append(f"{mean:.1f}" + (f" ± {spread:.1f}" if len(runs) > 1 else ""))
        lines.append(row(name, cells))
    ratios = [np.mean([r["table2"]["ours"][c] / r["table2"]["add"][c] for r in runs]) for c in COLUMNS]
    lines.append(row("Ours ÷ Add (this code)", [f"{v:.3f}" for v in ratios]))
    if published:
        paper = [o / a for o, a in zip(PAPER_TABLE2["Ours (paper)"], PAPER_TABLE2["Add"])]
        lines.append(row("Ours ÷ Add (paper)", [f"{v:.3f}" for v in paper]))
    return "\n".join(lines)


def write_figures(predictor, examples: list[dict], out: str, n: int = 6, num_samples: int = 5,
                  seed: int = 0) -> list[str]:
    """Writes the figures of a model from test examples into `out`; returns their paths.

    fig6_samples.png: rows of input, truth, reconstruction, `num_samples` samples, a 2x zoom of the
    first sample's centre; fig8_layers.png: the first 8 maps of each scale of the image encoder;
    fig15a_analogies.png: source I, source J, target, ours, truth; fig16_extrapolation.png: pairs of
    rows, 8 true frames of an animation, then our frames from its first with the motion of its first
    pair; traversals.png: the 4 dimensions of z that vary most over the bank, each swept.
    """
    size = predictor.image_size
    if examples[0]["image"].shape[0] != size:  # a model of another size: show what it sees
        examples = [dict(e, **{k: preprocessing.resize_image(e[k], size) for k in ("image", "next_image")})
                    for e in examples]
    rng = np.random.default_rng(seed)
    picked = [examples[i] for i in rng.choice(len(examples), n, replace=False)]
    images = np.stack([e["image"] for e in picked])
    truths = np.stack([e["next_image"] for e in picked])
    reconstructions = predictor.transfer(predictor.encode(images, truths), images)
    samples = predictor.sample(images, num_samples, rng=seed)
    centre = slice(size // 4, 3 * size // 4)
    zooms = [s[0, centre, centre].repeat(2, 0).repeat(2, 1) for s in samples]
    figures = {"fig6_samples": [[i, t, r, *s, z] for i, t, r, s, z in
                                zip(images, truths, reconstructions, samples, zooms)]}

    maps = predictor.feature_maps(images[0])
    rows = [[vis.feature_map_tile(m[..., c], size // m.shape[0]) for c in range(min(8, m.shape[-1]))]
            for m in maps]
    figures["fig8_layers"] = [[images[0], *rows[0]]] + [[np.full_like(images[0], 255), *r] for r in rows[1:]]

    items = analogy.sprites_analogies(examples, "random", seed)
    chosen = rng.choice(len(items["target"]), n, replace=False)
    ours = predictor.transfer(predictor.encode(items["source"][chosen], items["source_next"][chosen]),
                              items["target"][chosen])
    figures["fig15a_analogies"] = [[items["source"][i], items["source_next"][i], items["target"][i], o,
                                    items["target_next"][i]] for i, o in zip(chosen, ours)]

    long = [a for a in animations_of(examples) if len(a) >= 8]
    rows = []
    for i in rng.choice(len(long), min(n // 2, len(long)), replace=False):
        truth = long[i][:8]
        z = predictor.encode(truth[0], truth[1])
        rows += [truth, [truth[0], *predictor.extrapolate(truth[0], z, len(truth) - 1)]]
    figures["fig16_extrapolation"] = rows

    dims = [int(d) for d in np.argsort(-predictor.z_bank.z_mean.var(axis=0))[:4]]
    spread = float(np.abs(predictor.z_bank.z_mean[:, dims]).max())
    swept = predictor.traverse(images[0], predictor.encode(images[0], truths[0]), dims,
                               np.linspace(-spread, spread, 7))
    figures["traversals"] = [[images[0], *row] for row in swept]
    paths = [os.path.join(out, f"{name}.png") for name in figures]
    for path, grid in zip(paths, figures.values()):
        vis.save_png(vis.image_grid(grid, upscale=2), path)
    return paths


