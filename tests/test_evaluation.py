"""Image metrics against analytic cases; analogy sets against their definitions; scores after training."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import dummy_releases
from conftest import ROOT, tiny_config
from visual_dynamics.data import pipeline, shapes
from visual_dynamics.evaluation import analogy, image_metrics, sample_quality
from visual_dynamics.predictor import Predictor


def test_psnr_and_ssim_known_cases():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    assert np.all(np.isinf(image_metrics.psnr(x, x)))
    np.testing.assert_allclose(image_metrics.ssim(x, x), 1.0)
    # Uniform error of 16 grey levels: MSE 256, PSNR = 10 log10(255^2 / 256).
    y = x.astype(np.int32)
    y = np.where(y < 128, y + 16, y - 16).astype(np.uint8)
    np.testing.assert_allclose(image_metrics.psnr(x, y), 10 * np.log10(255 ** 2 / 256))
    # Constant images a and b: zero variances, so SSIM = (2ab + C1) / (a^2 + b^2 + C1).
    a, b = np.full((1, 16, 16, 3), 100, np.uint8), np.full((1, 16, 16, 3), 140, np.uint8)
    c1 = (0.01 * 255) ** 2
    np.testing.assert_allclose(image_metrics.ssim(a, b), (2 * 100 * 140 + c1) / (100 ** 2 + 140 ** 2 + c1))
    # Independent noise images are structurally unrelated.
    z = rng.integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    assert abs(float(image_metrics.ssim(x, z).mean())) < 0.1
    np.testing.assert_allclose(image_metrics.ssim(x, z), image_metrics.ssim(z, x))


def test_best_of_n_and_diversity():
    truth = np.zeros((1, 8, 8, 3), np.uint8)
    samples = np.stack([np.full((8, 8, 3), v, np.uint8) for v in (40, 10, 20)])[None]  # [1, 3, ...]
    scores = image_metrics.best_of_n(samples, truth, ns=(1, 3))
    assert scores["psnr@1"] == pytest.approx(10 * np.log10(255 ** 2 / 40 ** 2))
    assert scores["psnr@3"] == pytest.approx(10 * np.log10(255 ** 2 / 10 ** 2))  # the closest sample
    # Pairwise RMS distances 30, 20, 10 -> mean 20.
    assert image_metrics.diversity(samples) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="best of 10 needs 10 samples"):
        image_metrics.best_of_n(samples, truth, ns=(10,))


def test_shapes_analogies_move_the_target_like_the_source():
    spec = shapes.ShapesSpec(image_size=32)
    items = analogy.shapes_analogies(spec, seed=0, count=5)
    assert items["target"].shape == (5, 32, 32, 3)
    for i in range(5):
        source = shapes.generate_pair(spec, shapes.example_rng(0, "test", 2 * i))
        target = shapes.generate_pair(spec, shapes.example_rng(0, "test", 2 * i + 1))
        np.testing.assert_array_equal(items["source_next"][i], source["next_image"])
        np.testing.assert_array_equal(items["target"][i], target["image"])  # the same scene ...
        moved = shapes.generate_pair(spec, shapes.example_rng(0, "test", 2 * i + 1),
                                     motion=(source["displacement"][0, 1], source["displacement"][1, 0]))
        np.testing.assert_array_equal(items["target_next"][i], moved["next_image"])  # ... source's motion
        assert not np.array_equal(moved["next_image"], target["next_image"])


def test_sprites_analogies_pair_characters_in_the_same_animation_frame(tmp_path):
    root = str(tmp_path / "release")
    dummy_releases.write_sprites(root)
    builder = pipeline.load_builder("sprites", "size_64", str(tmp_path / "data"))
    pipeline.prepare(builder, root)
    test = builder.as_data_source(split="test")
    examples = [test[i] for i in range(len(test))]
    items = analogy.sprites_analogies(examples)
    # Test characters 4 and 5: each pair of the one is the source of an analogy onto the other.
    assert len(items["target"]) == len(examples)
    index = {e["image"].tobytes(): e for e in examples}
    for k in range(len(items["target"])):
        source, target = index[items["source"][k].tobytes()], index[items["target"][k].tobytes()]
        assert source["character"] != target["character"]
        for key in ("action", "viewpoint", "frame"):
            assert source[key] == target[key]
        np.testing.assert_array_equal(items["target_next"][k], target["next_image"])
    # Table 2 numbers: a perfect prediction scores 0, copying scores the summed squared change.
    predicted = {"ours": items["target_next"], "copy": items["target"], "truth": items["target_next"]}
    table = analogy.sprites_table(predicted, items["action"])
    assert all(v == 0 for v in table["ours"].values())
    change = (items["target"] / 255.0 - items["target_next"] / 255.0) ** 2
    expected = change.sum(axis=(1, 2, 3)) * 3600 / 64 ** 2
    spellcast = items["action"] == 0
    assert table["copy"]["spellcast"] == pytest.approx(expected[spellcast].mean())
    assert set(table["copy"]) == {"spellcast", "thrust", "walk", "slash", "shoot", "average"}


def test_tiny_model_transfers_shapes_motion_better_than_add(tiny_run, data_dir):
    predictor = Predictor.from_checkpoint(tiny_run[0])
    builder = pipeline.load_builder("shapes", "tiny", data_dir)
    spec = shapes.ShapesSpec(image_size=builder.builder_config.image_size)
    items = analogy.shapes_analogies(spec, builder.builder_config.seed, count=96)
    errors = analogy.mean_squared_errors(analogy.predictions(predictor, items))
    assert errors["ours"] < errors["add"] and errors["ours"] < errors["copy"], errors


def test_sample_quality_scores_of_the_tiny_model(tiny_run, data_dir):
    predictor = Predictor.from_checkpoint(tiny_run[0])
    source = pipeline.load_builder("shapes", "tiny", data_dir).as_data_source(split="test")
    batch = pipeline.eval_batches(source, 16, 1)[0]
    ours = sample_quality.model_scores(predictor, batch["image"], batch["next_image"], num_samples=10,
                                       ns=(1, 10))
    copy = sample_quality.copy_scores(batch["image"], batch["next_image"], 32, ns=(1, 10))
    assert ours["psnr@10"] >= ours["psnr@1"] and ours["ssim@10"] >= ours["ssim@1"]
    assert ours["diversity"] > 0 and copy["diversity"] == 0
    assert copy["psnr@10"] == copy["psnr@1"]


@pytest.fixture(scope="module")
def tiny_ae_workdir(data_dir, tmp_path_factory) -> str:
    """The tiny config as the AE baseline (variational=False), trained for a few steps."""
    from visual_dynamics import train

    workdir = str(tmp_path_factory.mktemp("tiny_ae"))
    config = tiny_config(data_dir, num_train_steps=20, eval_every_steps=20, checkpoint_every_steps=20,
                         z_bank_size=32)
    config.model.variational = False
    train.train_and_evaluate(config, workdir)
    return workdir


@pytest.mark.parametrize("script,args,output,methods", [
    ("evaluate_shapes.py", ["--num_test_images=6", "--samples_per_image=3", "--num_truth=2000",
                            "--num_check=50", "--num_flow_train=40", "--num_latent_pairs=32"],
     "shapes_eval/results.json", lambda r: r["fig5_kl"]),
    ("evaluate_applications.py", ["--num_pairs=6", "--num_samples=10", "--num_analogies=12",
                                  "--num_flow_train=40"], "applications.json", lambda r: r["sample_quality"]),
])
def test_evaluation_commands_write_their_json(tiny_run, tiny_ae_workdir, tmp_path, script, args, output,
                                              methods):
    """The commands end to end on the tiny run and its AE; a run that is not an AE is refused as
    --ae_workdir."""
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run[0], workdir)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", script), f"--workdir={workdir}",
                           f"--ae_workdir={tiny_ae_workdir}", *args], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(os.path.join(workdir, output)) as f:
        results = json.load(f)
    assert results["workdir"] == workdir
    assert {"ours", "ae", "flow"} <= set(methods(results))
    if script == "evaluate_shapes.py":  # the AE twice: z from its bank, and from the prior
        assert "ae_prior" in methods(results)
    refused = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", script),
                              f"--workdir={workdir}", f"--ae_workdir={workdir}", *args],
                             capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "model.variational" in refused.stderr


def _labelled_examples(characters: int) -> list[dict]:
    """Fake sprite pairs whose pixels name their (character, action, viewpoint, frame)."""
    examples = []
    for c in range(characters):
        for action, viewpoint, frame in [(0, 0, 0), (0, 0, 1), (3, 2, 0)]:
            label = np.array([c, action, viewpoint, frame], np.uint8)
            examples.append(dict(character=c, action=action, viewpoint=viewpoint, frame=frame,
                                 image=np.broadcast_to(label[:3], (4, 4, 3)).copy(),
                                 next_image=np.broadcast_to(label[1:], (4, 4, 3)).copy() + 100))
    return examples


def test_random_pairing_draws_seeded_sources_among_the_other_characters_of_the_frame():
    examples = _labelled_examples(characters=6)
    items = analogy.sprites_analogies(examples, "random", seed=0, sources_per_target=3)
    assert len(items["target"]) == 6 * 3 * 3  # 6 targets in each of 3 frames, 3 sources each
    sources, targets = items["source"][:, 0, 0], items["target"][:, 0, 0]
    assert np.all(sources[:, 0] != targets[:, 0])               # never the target itself
    assert np.array_equal(sources[:, 1:], targets[:, 1:])       # same action and viewpoint
    per_target = {}  # (character, action, viewpoint, frame + 100) of each target -> its sources
    for s, t, t_next in zip(sources, targets, items["target_next"][:, 0, 0]):
        per_target.setdefault((*t, t_next[2]), set()).add(int(s[0]))
    assert len(per_target) == 6 * 3
    assert all(len(v) == 3 for v in per_target.values())        # drawn without replacement
    again = analogy.sprites_analogies(examples, "random", seed=0, sources_per_target=3)
    np.testing.assert_array_equal(again["source"], items["source"])
    other = analogy.sprites_analogies(examples, "random", seed=1, sources_per_target=3)
    assert not np.array_equal(other["source"], items["source"])
    everyone = analogy.sprites_analogies(examples, "random", seed=0, sources_per_target=99)
    assert len(everyone["target"]) == 6 * 5 * 3                 # capped at the other 5 characters


def test_id_order_and_self_pairings():
    examples = _labelled_examples(characters=4)
    ordered = analogy.sprites_analogies(examples, "id_order")
    pairs = {(int(s[0, 0, 0]), int(t[0, 0, 0])) for s, t in zip(ordered["source"], ordered["target"])}
    assert pairs == {(0, 1), (1, 2), (2, 3), (3, 0)}
    own = analogy.sprites_analogies(examples, "self")
    np.testing.assert_array_equal(own["source"], own["target"])
    np.testing.assert_array_equal(own["source_next"], own["target_next"])
    with pytest.raises(ValueError, match="pairing must be one of"):
        analogy.sprites_analogies(examples, "nearest")


def test_patch_displacement_of_a_shifted_texture_is_the_shift():
    from visual_dynamics.evaluation import sprites_diagnosis

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    moved = np.zeros_like(image)
    moved[:, 3:, :-2] = image[:, :-3, 2:]                  # J(y, x) = I(y - 3, x + 2): a shift of (3, -2)
    lengths = sprites_diagnosis.patch_displacements(image, moved, max_shift=6)
    assert lengths.shape == (2, 32, 32)
    # Every pixel whose 3 x 3 patch of J lies inside the copied texture (and the frame) moved by
    # max(|3|, |-2|) = 3; none is matched better at a shorter shift.
    assert np.all(lengths[:, 4:31, 1:29] == 3)
    assert np.all(sprites_diagnosis.patch_displacements(image, image, max_shift=6) == 0)


def test_error_split_into_moving_and_static_pixels_adds_up_to_table2():
    from visual_dynamics.evaluation import sprites_diagnosis

    rng = np.random.default_rng(1)
    target = rng.integers(0, 256, (10, 8, 8, 3)).astype(np.uint8)
    truth = target.copy()
    truth[:, :2] = rng.integers(0, 256, (10, 2, 8, 3))     # the top two rows move
    ours = np.clip(truth.astype(int) + rng.integers(-20, 21, truth.shape), 0, 255).astype(np.uint8)
    actions = np.array([0] * 5 + [2] * 5)
    predicted = {"ours": ours, "copy": target, "truth": truth}
    split = sprites_diagnosis.error_by_region(predicted, target, actions)
    table = analogy.sprites_table(predicted, actions)
    for method in ("ours", "copy"):
        for name in ("spellcast", "walk"):
            parts = split[method][name]
            assert parts["moving"] + parts["static"] == pytest.approx(table[method][name])
    assert split["copy"]["spellcast"]["static"] == 0       # copying is exact where nothing moves
    moving = np.any(target != truth, axis=-1)
    assert split["moving_share"]["walk"] == pytest.approx(moving[5:].mean())
    maps = sprites_diagnosis.error_maps(predicted, actions)
    assert maps["copy"]["walk"][2:].max() == 0 and maps["copy"]["walk"][:2].min() > 0
