"""The Shapes generator: determinism, the motion rules of §5.1 on labels and on pixels, and
the TFDS builder's exact round trip."""

import numpy as np
import pytest

from visual_dynamics.data import shapes
from visual_dynamics.data.shapes import CIRCLE, SQUARE, TRIANGLE

SPEC = shapes.ShapesSpec(image_size=64)


def _examples(n, spec=SPEC, seed=0, split="train"):
    return [shapes.generate_pair(spec, shapes.example_rng(seed, split, i)) for i in range(n)]


@pytest.mark.parametrize("textured", [False, True])
def test_fixed_seed_gives_identical_data(textured):
    spec = shapes.ShapesSpec(image_size=32, textured=textured)
    a, b = _examples(5, spec), _examples(5, spec)
    for x, y in zip(a, b):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    other = _examples(1, spec, seed=1)[0]
    assert not np.array_equal(other["image"], a[0]["image"])
    assert not np.array_equal(_examples(1, spec, split="test")[0]["image"], a[0]["image"])
    validation = _examples(3, spec, split="validation")  # the held-out stream: in neither stored split
    stored = [e["image"] for e in _examples(3, spec) + _examples(3, spec, split="test")]
    assert not any(np.array_equal(v["image"], s) for v in validation for s in stored)


def test_labels_follow_the_motion_rules():
    d = np.stack([e["displacement"] for e in _examples(400)])  # [N, 3, 2] as (dx, dy)
    np.testing.assert_array_equal(d[:, CIRCLE, 0], 0.0)        # circles: vertical only
    np.testing.assert_array_equal(d[:, SQUARE, 1], 0.0)        # squares: horizontal only
    np.testing.assert_array_equal(d[:, TRIANGLE, 0], d[:, TRIANGLE, 1])   # triangles: diagonal
    np.testing.assert_array_equal(d[:, TRIANGLE, 1], -d[:, CIRCLE, 1])    # up <=> circle down
    assert abs(np.corrcoef(d[:, CIRCLE, 1], d[:, SQUARE, 0])[0, 1]) < 0.15  # independent
    assert np.all(np.abs(d) <= SPEC.max_displacement)
    assert d[:, CIRCLE, 1].std() > 1.5                           # the motions are not trivial


def _object_centroid(image: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Intensity-weighted (x, y) centroid of a window of an image on a black background."""
    window = image[lo[1]:hi[1], lo[0]:hi[0]].astype(np.float64).sum(-1)
    ys, xs = np.mgrid[lo[1]:hi[1], lo[0]:hi[0]] + 0.5
    return np.array([(window * xs).sum(), (window * ys).sum()]) / window.sum()


def test_pixels_move_as_the_labels_say():
    """Where the three objects' windows are disjoint, each object's centroid moves by its label."""
    errors = []
    for e in _examples(1500):
        reach = e["half_size"][:, None] + SPEC.max_displacement + 1
        lo = np.floor(e["centre"] - reach).astype(int).clip(0, 64)
        hi = np.ceil(e["centre"] + reach).astype(int).clip(0, 64)
        overlap = any(np.all(np.maximum(lo[i], lo[j]) < np.minimum(hi[i], hi[j]))
                      for i in range(3) for j in range(i + 1, 3))
        if overlap:
            continue
        for k in range(3):
            shift = (_object_centroid(e["next_image"], lo[k], hi[k])
                     - _object_centroid(e["image"], lo[k], hi[k]))
            errors.append(np.abs(shift - e["displacement"][k]))
    errors = np.array(errors)
    assert len(errors) >= 30
    # Coverage is sampled 4 x 4 per pixel and stored as uint8: centroids are good to ~0.1 px.
    assert errors.max() < 0.2 and np.median(errors) < 0.05


def test_occlusion_and_visible_masks():
    examples = _examples(200)
    occluded = 0
    for e in examples:
        mask = e["visible_mask"].astype(bool)
        assert not np.any(mask.sum(0) > 1)                         # one front-most object a pixel
        assert np.all(e["image"][mask.any(0)].max(-1) > 0)         # masks lie on drawn pixels
        for k in range(3):
            # An object is hidden only behind objects drawn after it (greater depth).
            full_area = {CIRCLE: np.pi, SQUARE: 4.0, TRIANGLE: 2.0}[k] * e["half_size"][k] ** 2
            # Pixels on the outline may be under half covered: unoccluded objects keep > 80 %.
            if mask[k].sum() < 0.75 * full_area:
                occluded += 1
                assert e["depth"][k] < 2
    assert occluded > 20                                            # heavy occlusion happens


def test_texture_moves_with_the_object_over_a_static_background():
    spec = shapes.ShapesSpec(image_size=64, textured=True)
    e = _examples(1, spec)[0]
    assert e["image"].reshape(-1, 3).std(0).min() > 5              # textured, not flat
    # Pixels far from every object are background and do not change between frames.
    yy, xx = np.mgrid[:64, :64] + 0.5
    far = np.ones((64, 64), bool)
    for c, h in zip(e["centre"], e["half_size"]):
        far &= np.maximum(abs(xx - c[0]), abs(yy - c[1])) > h + spec.max_displacement + 1.5
    assert far.sum() > 100
    np.testing.assert_array_equal(e["image"][far], e["next_image"][far])


@pytest.mark.parametrize("dataset,textured", [("shapes", False), ("shapes_texture", True)])
def test_builder_round_trip(tmp_path, dataset, textured):
    """What the TFDS builder writes and grain reads back is exactly what the generator makes."""
    from tfds_builders.shapes.shapes_dataset_builder import ShapesConfig
    from visual_dynamics.data import pipeline

    config = ShapesConfig(name="test_small", image_size=32, num_train=12, num_test=4)
    builder = pipeline.load_builder(dataset, config, str(tmp_path))
    pipeline.prepare(builder)
    train = builder.as_data_source(split="train")
    assert len(train) == 12 and len(builder.as_data_source(split="test")) == 4
    spec = shapes.ShapesSpec(image_size=32, textured=textured)
    assert sorted(int(train[i]["index"]) for i in range(12)) == list(range(12))
    for i in (0, 7):
        stored = train[i]
        expected = shapes.generate_pair(spec, shapes.example_rng(0, "train", int(stored["index"])))
        for key, value in expected.items():
            np.testing.assert_array_equal(stored[key], value)
    batches = pipeline.train_batches(train, batch_size=4, seed=0)
    batch = next(batches)
    assert batch["image"].shape == (4, 32, 32, 3) and batch["image"].dtype == np.uint8
    resumed = next(pipeline.train_batches(train, batch_size=4, seed=0, start_step=1))
    np.testing.assert_array_equal(next(batches)["image"], resumed["image"])
