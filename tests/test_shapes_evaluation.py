"""The Fig. 5 metric, the Flow baseline, latent statistics, the toy example on known answers; the
ablation command end to end."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from visual_dynamics.data import shapes
from visual_dynamics.evaluation import (flow_baseline, latent_stats, motion_metric, scene_fit, shapes_motion,
                                        toy)
from visual_dynamics.metrics_log import curve, read_metrics


def test_kl_of_identical_histograms_is_zero():
    points = np.random.default_rng(0).normal(size=(5000, 2))
    counts = motion_metric.histogram(points)
    assert motion_metric.kl_divergence(counts, counts) == 0.0
    assert counts.sum() == np.sum(np.all(np.abs(points) <= 5, axis=1))


def test_kl_of_a_shifted_gaussian_matches_the_analytic_value():
    """KL(N(0, I) || N(m, I)) = |m|^2 / 2, up to binning (bins 0.24 px wide) and sampling."""
    rng = np.random.default_rng(1)
    shift = np.array([0.8, -0.6])  # |m|^2 / 2 = 0.5
    truth = motion_metric.histogram(rng.normal(size=(400_000, 2)))
    shifted = motion_metric.histogram(rng.normal(size=(400_000, 2)) + shift)
    assert motion_metric.kl_divergence(truth, shifted, smoothing=0.5) == pytest.approx(0.5, abs=0.05)


def test_flow_measures_a_rendered_shape_moved_by_a_known_amount():
    spec = shapes.ShapesSpec(image_size=64)
    errors = []
    for index in range(40):
        pair = shapes.generate_pair(spec, shapes.example_rng(7, "test", index))
        measured = motion_metric.object_motions(pair["image"], pair["next_image"], pair["visible_mask"])
        visible = pair["visible_mask"].sum(axis=(1, 2)) > 100  # objects not mostly hidden
        errors.append(np.abs(measured - pair["displacement"])[visible])
    errors = np.concatenate(errors)
    assert np.median(errors) < 0.15 and np.mean(errors) < 0.4  # pixels; displacements span +-4


def _generated(count: int, seed: int = 3) -> dict:
    spec = shapes.ShapesSpec(image_size=64)
    pairs = [shapes.generate_pair(spec, shapes.example_rng(seed, "test", i)) for i in range(count)]
    return {k: np.stack([p[k] for p in pairs]) for k in pairs[0]}


@pytest.mark.parametrize("measure,count", [("flow", 300), ("scene_fit", 40)])
def test_motions_measured_in_parallel_equal_those_measured_one_by_one(measure, count):
    pairs = _generated(count)
    scenes = {k: pairs[k] for k in shapes_motion.SCENE_KEYS}
    seen = []
    parallel = shapes_motion.measured_motions(pairs["image"], pairs["next_image"], scenes, measure,
                                              lambda done, total: seen.append(done))
    if measure == "flow":
        one = [motion_metric.object_motions(*p) for p in zip(pairs["image"], pairs["next_image"],
                                                             pairs["visible_mask"])]
    else:
        one = [scene_fit.object_motions(*p) for p in zip(pairs["image"], pairs["next_image"],
                                                         *(pairs[k] for k in shapes_motion.SCENE_KEYS))]
    np.testing.assert_array_equal(parallel, np.stack(one))  # same order, same values, NaNs included
    assert seen == ([256, 300] if count == 300 else [40])


def test_scene_fit_recovers_the_generators_displacements():
    """Circles move only vertically and squares only horizontally: their other axis comes out exactly 0;
    the rest is within what the 4 x 4 coverage sampling of the generator leaves of a motion."""
    pairs = _generated(150, seed=11)
    measured = np.stack([scene_fit.object_motions(*p) for p in zip(
        pairs["image"], pairs["next_image"], *(pairs[k] for k in shapes_motion.SCENE_KEYS))])
    visible = pairs["visible_mask"].sum(axis=(2, 3)) > 0
    assert np.isnan(measured[~visible]).all() and not np.isnan(measured[visible]).any()
    still = np.concatenate([measured[:, shapes.CIRCLE, 0][visible[:, shapes.CIRCLE]],
                            measured[:, shapes.SQUARE, 1][visible[:, shapes.SQUARE]]])
    assert np.mean(still == 0.0) > 0.9
    error = np.abs(measured - pairs["displacement"])[visible]
    assert np.median(error) < 0.02 and np.percentile(error, 90) < 0.12  # pixels


@pytest.mark.parametrize("kind", [shapes.CIRCLE, shapes.SQUARE, shapes.TRIANGLE])
def test_scene_fit_coverage_table_equals_the_generators_rendering_at_every_shift(kind):
    """The fit's table of coverage counts, read at shifts that are multiples of 1/FINE px, is the
    generator's own coverage of the shape moved by that shift (`shapes._coverage`, 4 x 4 samples); on a
    triangle's slanted edges a sample can fall on the edge itself, where the two compute its position
    with different roundings: there a pixel may differ by a sample or two."""
    rng = np.random.default_rng(kind)
    centre, half, size = np.array([30.3, 27.8]), 7.4, 64
    start = np.array([1.0, -2.0])
    coverage = scene_fit._Coverage(kind, centre, half, size, start)
    shifts = start + np.round(rng.uniform(-2, 2, (12, 2)) * scene_fit.FINE) / scene_fit.FINE
    window = (slice(coverage.y0, coverage.y1), slice(coverage.x0, coverage.x1))
    samples = scene_fit.SUPERSAMPLE ** 2
    for shift, table in zip(shifts, coverage.at(shifts)):
        rendered = shapes._coverage(shapes._INSIDE[kind], centre + shift, half, size, scene_fit.SUPERSAMPLE)
        difference = np.abs(table - rendered[window])
        if kind == shapes.TRIANGLE:
            assert difference.max() <= 2 / samples + 1e-6 and np.mean(difference > 1e-6) < 0.03
        else:
            np.testing.assert_allclose(table, rendered[window], atol=1e-6)


def test_scene_fit_of_an_unmoved_frame_is_zero():
    pairs = _generated(10, seed=5)
    for i in range(10):
        scene = [pairs[k][i] for k in shapes_motion.SCENE_KEYS]
        motions = scene_fit.object_motions(pairs["image"][i], pairs["image"][i], *scene)
        visible = pairs["visible_mask"][i].sum(axis=(1, 2)) > 0
        np.testing.assert_array_equal(motions[visible], 0.0)


def test_warping_by_a_uniform_flow_translates_the_image():
    image = np.zeros((32, 32, 3), np.uint8)
    image[10:16, 8:14] = 200
    flow = np.zeros((32, 32, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0
    warped = motion_metric.warp_by_flow(image, flow)
    np.testing.assert_array_equal(warped[8:14, 11:17], image[10:16, 8:14])


def test_flow_baseline_retrieves_nearest_training_images():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (30, 16, 16, 3), dtype=np.uint8)
    baseline = flow_baseline.FlowBaseline(train, train, k=3)
    noise = rng.integers(-3, 4, (2, 16, 16, 3))
    queries = np.clip(train[[4, 17]].astype(int) + noise, 0, 255).astype(np.uint8)
    neighbours = baseline.neighbours(queries)
    assert neighbours[:, 0].tolist() == [4, 17]
    brute = ((train.reshape(30, 1, -1).astype(float) - queries.reshape(1, 2, -1)) ** 2).sum(-1)
    np.testing.assert_array_equal(neighbours, np.argsort(brute, axis=0)[:3].T)
    frames = baseline.sample(queries, 2, np.random.default_rng(1))
    assert frames.shape == (2, 2, 16, 16, 3)


def test_latent_statistics_count_active_dimensions_and_components():
    rng = np.random.default_rng(0)
    z_mean = np.zeros((1000, 50))
    z_mean[:, :3] = rng.normal(size=(1000, 3)) * [3.0, 2.0, 1.0]  # 3 active, independent
    z_mean[:, 3] = 0.5 * z_mean[:, 0]  # a 4th active one, spanned by the first
    stats = latent_stats.latent_statistics(z_mean, np.zeros_like(z_mean))
    assert stats["active_dims"] == 4 and stats["dims"] == 50
    assert stats["pca_components_95"] == 3  # variances 11.25, 4, 1: 2 cover 94 %, 3 cover all


def test_toy_example_conditional_vae_is_closest_to_the_truth():
    labels, motions = toy.toy_data(20_000, np.random.default_rng(0))
    kl = {kind: toy.kl_to_truth(kind, toy.train(kind, labels, motions, steps=1200), n=20_000)
          for kind in toy.MODELS}
    for label in toy.LABELS:
        assert kl["conditional_vae"][label] < kl["prior_vae"][label] < kl["deterministic"][label], kl


def test_ablation_command_trains_each_setting_once_and_reports_both_studies(data_dir, tmp_path):
    """ablate_shapes.py on the tiny config: the λ = 100 grid run is in both studies, trained once."""
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "ablate_shapes.py"), f"--workdir={tmp_path}",
         f"--config={os.path.join(ROOT, 'experiments', 'configs', 'shapes.py')}:tiny",
         f"--config.data_dir={data_dir}", "--config.num_train_steps=10", "--config.eval_every_steps=5",
         "--config.z_bank_size=32", "--lambdas=100", "--z_sizes=8,grid"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["z8_lambda100", "zgrid_lambda100"]
    with open(tmp_path / "ablations.json") as f:
        results = json.load(f)
    assert [(r["z_size"], r["lambda"]) for r in results["lambda"]] == [(200, 100.0)]
    assert [(r["z_size"], r["lambda"]) for r in results["z_size"]] == [(8, 100.0), (200, 100.0)]
    for row in results["z_size"]:
        assert row["step"] == 10 and row["latents"]["pairs"] == 32
        steps, values = curve(read_metrics(row["workdir"]), "eval/recon")
        assert steps == [0, 5, 10] and values[-1] == pytest.approx(row["test_recon"])
    assert (tmp_path / "fig11_lambda.png").stat().st_size > 0
    assert (tmp_path / "fig12_z_size.png").stat().st_size > 0


def test_fig5_ablation_scores_each_row_on_validation_pairs(data_dir, tmp_path):
    """ablate_fig5.py on the tiny config: each training row trained and scored, the table written."""
    command = [sys.executable, os.path.join(ROOT, "experiments", "ablate_fig5.py"), f"--workdir={tmp_path}",
               f"--config={os.path.join(ROOT, 'experiments', 'configs', 'shapes.py')}:tiny",
               f"--data_dir={data_dir}", "--config.num_train_steps=5", "--config.z_bank_size=16",
               "--num_images=4", "--samples_per_image=3", "--num_truth=500"]
    done = subprocess.run(command + ["--rows=base"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "fig5_ablation.json") as f:
        rows = json.load(f)["rows"]
    assert list(rows) == ["base"]
    for row in rows.values():
        assert set(row["fig5_kl"]) == set(motion_metric.COLUMNS) and min(row["fig5_kl"].values()) > 0
        assert row["steps"] == 5 and row["parameters"] > 0 and row["train_seconds"] > 0
    table = (tmp_path / "fig5_ablation.md").read_text()
    assert table.count("\n| `") == 1 and "shapes:small as shipped" in table
    assert (tmp_path / "fig5_ablation_histograms.png").stat().st_size > 0
    # A later call adds its rows to the table; the earlier call's rows stay as they were scored.
    later = subprocess.run(command + ["--rows=lambda_10"], capture_output=True, text=True, timeout=600)
    assert later.returncode == 0, later.stderr[-3000:]
    with open(tmp_path / "fig5_ablation.json") as f:
        both = json.load(f)["rows"]
    assert list(both) == ["base", "lambda_10"] and both["base"] == rows["base"]
    assert both["lambda_10"]["overrides"] == {"recon_weight": "10.0"}
    assert (tmp_path / "fig5_ablation.md").read_text().count("\n| `") == 2
    wrong = subprocess.run(command + ["--rows=base,prior"], capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 1 and "leave them out of --rows" in wrong.stderr.strip().splitlines()[-1]
