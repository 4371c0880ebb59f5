"""A web page to try a trained model in the browser: sample, transfer, extrapolate, traverse, layers.

  pip install 'visual-dynamics[demo]'           # the light install plus Gradio
  python experiments/app.py                     # shapes_cpu preselected; prints the page's URL
  python experiments/app.py --pretrained=sprites_cpu --port=7861
  python experiments/app.py --workdir=workdirs/run1   # a training run (its newest checkpoint)

The page is served on 127.0.0.1 only. Each tab does what the `demo.py` subcommand of its name does, with
the library's functions (visual_dynamics.showcase, Predictor); bad input (no image, a file that is not
an image, one too large, a workdir without a checkpoint) is a message in the page, and the app goes on.
"""

import argparse
import functools
import os
import sys
import tempfile
from typing import Optional

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local demo

try:
    import gradio as gr
except ImportError:
    gr = None

from visual_dynamics import preprocessing, pretrained, showcase  # noqa: E402
from visual_dynamics import visualization as vis  # noqa: E402
from visual_dynamics.errors import OneLineError  # noqa: E402
from visual_dynamics.predictor import Predictor  # noqa: E402

# An upload larger than this is refused before it is decoded (a 64 px model needs far less).
MAX_PIXELS = 40_000_000
WORKDIR_CHOICE = "a training run (the workdir below)"
TRAVERSE_VALUES = np.linspace(-10.0, 10.0, 21)  # the Torch release's sweep, as demo.py traverse


class InputError(ValueError):
    """Input the page cannot use, said to the person in one sentence (shown in the page)."""


@functools.lru_cache(maxsize=4)
def _load(model: str, workdir: str) -> Predictor:
    if model != WORKDIR_CHOICE:
        return Predictor.from_pretrained(model)
    if not workdir.strip():
        raise InputError("type the path of a training workdir (or pick a shipped model)")
    return Predictor.from_checkpoint(workdir.strip())


def load_model(model: str, workdir: str = "") -> Predictor:
    """The shipped model `model`, or the run in `workdir` when `model` is WORKDIR_CHOICE.

    Raises:
      InputError: no such model, or a workdir without a run or a readable checkpoint.
    """
    try:
        return _load(model, workdir)
    except (OneLineError, ValueError, OSError) as e:  # no run or checkpoint, a version mismatch
        raise InputError(str(e)) from None


def read_upload(path: Optional[str], size: int, what: str = "image") -> np.ndarray:
    """An uploaded file as uint8 [size, size, 3].

    Raises:
      InputError: nothing uploaded, a file that is not an image, or one over MAX_PIXELS.
    """
    if not path:
        raise InputError(f"upload an {what} first (or press 'example')")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            width, height = opened.size
    except (UnidentifiedImageError, OSError):
        raise InputError(f"the {what} is not an image file Pillow can read (PNG, JPEG, GIF, ...)") from None
    if width * height > MAX_PIXELS:
        raise InputError(f"the {what} is {width} x {height} pixels; upload one under "
                         f"{MAX_PIXELS // 1_000_000} megapixels (the model sees {size} x {size})")
    try:
        return preprocessing.load_image(path, size)[0]
    except preprocessing.ImageFileError as e:
        raise InputError(f"the {what} cannot be used: {e}") from None


def _written(frames: list, name: str) -> str:
    """A GIF of `frames` in a new temporary folder (Gradio serves files from there); its path."""
    path = os.path.join(tempfile.mkdtemp(prefix="visual_dynamics_app_"), name)
    vis.save_gif(frames, path)
    return path


def example_images(model: str, workdir: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images to try the model on, uint8 [S, S, 3] each: a pair (I, J) and another image (a target for
    transfer): shipped test pairs, or the example input, a sampled next frame and another sample;
    black images for a training run (which ships no examples)."""
    predictor = load_model(model, workdir)
    if model == WORKDIR_CHOICE:
        black = np.zeros((predictor.image_size,) * 2 + (3,), np.uint8)
        return black, black, black
    try:
        pairs = pretrained.example_pairs(model)
        return pairs["image"][0], pairs["next_image"][0], pairs["image"][1]
    except FileNotFoundError:
        image = read_upload(os.path.join(pretrained.folder(model), "example_input.png"), predictor.image_size)
        next_image, other = predictor.sample(image, 2, rng=0)
        return image, next_image, other


def sample(model: str, workdir: str, image_path: Optional[str], num_samples: int, from_prior: bool,
           seed: int) -> tuple[str, list, list[str]]:
    """(the animated grid's GIF, the sampled frames [S, S, 3] as a gallery, one GIF per sample)."""
    predictor = load_model(model, workdir)
    image = read_upload(image_path, predictor.image_size)
    frames = predictor.sample(image, int(num_samples), rng=int(seed), from_prior=from_prior)
    gifs = [_written([image, f], f"sample_{k:02d}.gif") for k, f in enumerate(frames, start=1)]
    return _written(showcase.moving_grid([image] * len(frames), frames), "samples.gif"), list(frames), gifs


def transfer(model: str, workdir: str, source: Optional[str], source_next: Optional[str],
             targets: list[Optional[str]]) -> tuple[str, list]:
    """The motion of (source, source_next) applied to each target: (a GIF of every target moving, the
    predicted next frames)."""
    predictor = load_model(model, workdir)
    size = predictor.image_size
    z = predictor.encode(read_upload(source, size, "source image"),
                         read_upload(source_next, size, "source's next image"))
    images = [read_upload(t, size, "target image") for t in targets if t]
    if not images:
        raise InputError("upload at least one target image")
    moved = predictor.transfer(z, np.stack(images))
    return _written(showcase.moving_grid(images, moved), "transfer.gif"), list(moved)


def extrapolate(model: str, workdir: str, image_path: Optional[str], next_path: Optional[str],
                steps: int) -> tuple[str, list]:
    """The motion of (I, J) applied again and again: (the GIF, the frames)."""
    predictor = load_model(model, workdir)
    image = read_upload(image_path, predictor.image_size)
    z = predictor.encode(image, read_upload(next_path, predictor.image_size, "next image"))
    frames = list(predictor.extrapolate(image, z, int(steps)))
    return _written([image, *frames], "extrapolation.gif"), frames


def traverse(model: str, workdir: str, image_path: Optional[str], next_path: Optional[str], dim: int,
             value: float) -> np.ndarray:
    """The next frame with dimension `dim` of z set to `value` (z of (I, J), or 0 without J): [S, S, 3]."""
    predictor = load_model(model, workdir)
    image = read_upload(image_path, predictor.image_size)
    z = (predictor.encode(image, read_upload(next_path, predictor.image_size, "next image")) if next_path
         else np.zeros(predictor.latent_size, np.float32))
    if not 0 <= int(dim) < predictor.latent_size:
        raise InputError(f"z has dimensions 0 to {predictor.latent_size - 1}; got {int(dim)}")
    return predictor.traverse(image, z, [int(dim)], [float(value)])[0, 0]


def layers(model: str, workdir: str, image_path: Optional[str]) -> list:
    """Fig. 8: one tiled grid of feature maps per pyramid scale."""
    predictor = load_model(model, workdir)
    return showcase.feature_map_grids(predictor, read_upload(image_path, predictor.image_size))


def _in_page(function):
    """`function`, its InputError shown in the page as an error message (the app goes on serving)."""
    @functools.wraps(function)
    def shown(*args):
        try:
            return function(*args)
        except InputError as e:
            raise gr.Error(str(e)) from None
    return shown


def _example_files(model: str, workdir: str) -> tuple[str, str, str]:
    """`example_images` as PNG paths (for the image inputs)."""
    folder = tempfile.mkdtemp(prefix="visual_dynamics_app_")
    paths = tuple(os.path.join(folder, f"example_{k}.png") for k in range(3))
    for image, path in zip(example_images(model, workdir), paths):
        vis.save_png(image, path)
    return paths


def build(default_model: str, workdir: str = "") -> "gr.Blocks":
    """The page: a model picker, then one tab per demo."""
    choices = pretrained.available() + [WORKDIR_CHOICE]
    with gr.Blocks(title="visual-dynamics") as page:
        gr.Markdown("# visual-dynamics\nGiven one image, a Layered Cross Convolutional Network samples "
                    "possible next frames (Xue et al., *Visual Dynamics*). Pick a model, drop an image.")
        with gr.Row():
            model = gr.Dropdown(choices, value=default_model, label="model", elem_id="model")
            run = gr.Textbox(workdir, label="training workdir (for the last choice)", elem_id="workdir")
        models = [model, run]

        def example_button(*image_inputs):
            """A button that fills `image_inputs` with the model's example images."""
            def fill(model_name: str, workdir_path: str):
                paths = _example_files(model_name, workdir_path)[:len(image_inputs)]
                return paths[0] if len(paths) == 1 else paths
            gr.Button("example", size="sm").click(_in_page(fill), models, list(image_inputs))

        with gr.Tab("sample", elem_id="tab_sample"):
            with gr.Row():
                image = gr.Image(type="filepath", label="input image", elem_id="sample_image")
                with gr.Column():
                    count = gr.Slider(1, 16, value=8, step=1, label="samples")
                    prior = gr.Checkbox(label="z from the prior N(0, I), not the bank of training z")
                    seed = gr.Number(0, precision=0, label="seed")
                    example_button(image)
                    go = gr.Button("sample", variant="primary", elem_id="sample_button")
            moving = gr.Image(label="the input, then each sample (animated)", elem_id="sample_moving")
            gallery = gr.Gallery(label="sampled next frames", columns=8, elem_id="sample_gallery")
            gifs = gr.File(label="one GIF per sample", file_count="multiple")
            go.click(_in_page(sample), models + [image, count, prior, seed], [moving, gallery, gifs])
        with gr.Tab("transfer", elem_id="tab_transfer"):
            with gr.Row():
                source = gr.Image(type="filepath", label="source image")
                source_next = gr.Image(type="filepath", label="source's next image")
                targets = [gr.Image(type="filepath", label=f"target {k}") for k in (1, 2)]
            with gr.Row():
                example_button(source, source_next, targets[0])
                go = gr.Button("transfer the source's motion", variant="primary")
            moved = gr.Image(label="each target, then its prediction (animated)", elem_id="transfer_output")
            predictions = gr.Gallery(label="predicted next frames", columns=4)
            go.click(_in_page(lambda m, w, s, n, *t: transfer(m, w, s, n, list(t))),
                     models + [source, source_next, *targets], [moved, predictions])
        with gr.Tab("extrapolate", elem_id="tab_extrapolate"):
            with gr.Row():
                first = gr.Image(type="filepath", label="image")
                second = gr.Image(type="filepath", label="its next image (defines the motion)")
                with gr.Column():
                    steps = gr.Slider(1, 16, value=8, step=1, label="steps")
                    example_button(first, second)
                    go = gr.Button("extrapolate", variant="primary")
            movie = gr.Image(label="extrapolation (animated)", elem_id="extrapolate_output")
            frames = gr.Gallery(label="frames", columns=8)
            go.click(_in_page(extrapolate), models + [first, second, steps], [movie, frames])
        with gr.Tab("traverse", elem_id="tab_traverse"):
            with gr.Row():
                base = gr.Image(type="filepath", label="image")
                base_next = gr.Image(type="filepath", label="next image (optional: z = 0 without it)")
                with gr.Column():
                    dim = gr.Number(0, precision=0, label="dimension of z")
                    value = gr.Slider(float(TRAVERSE_VALUES[0]), float(TRAVERSE_VALUES[-1]), value=0.0,
                                      step=float(TRAVERSE_VALUES[1] - TRAVERSE_VALUES[0]), label="value")
                    example_button(base, base_next)
            frame = gr.Image(label="next frame with that dimension set", elem_id="traverse_output")
            for trigger in (value.change, dim.submit, base.change, base_next.change):
                trigger(_in_page(traverse), models + [base, base_next, dim, value], frame,
                        trigger_mode="always_last")
        with gr.Tab("layers", elem_id="tab_layers"):
            with gr.Row():
                picture = gr.Image(type="filepath", label="image")
                with gr.Column():
                    example_button(picture)
                    go = gr.Button("show the feature maps", variant="primary")
            maps = gr.Gallery(label="the image encoder's feature maps, one grid per pyramid scale", columns=2,
                              elem_id="layers_output")
            go.click(_in_page(layers), models + [picture], maps)
    return page


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=7860, help="Port on 127.0.0.1 (default 7860).")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--pretrained", default="shapes_cpu",
                       help=f"Shipped model to preselect: {', '.join(pretrained.available())}.")
    model.add_argument("--workdir", help="A training run to preselect (its newest checkpoint).")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if gr is None:
        sys.exit("error: app.py needs the demo extra (gradio not installed): pip install "
                 "'visual-dynamics[demo]' (in a checkout: pip install -e '.[demo]' -c constraints.txt)")
    if args.pretrained not in pretrained.available():
        sys.exit(f"error: no shipped model named {args.pretrained!r}; the package ships "
                 f"{', '.join(pretrained.available())}")
    page = build(WORKDIR_CHOICE if args.workdir else args.pretrained, args.workdir or "")
    print(f"Serving visual-dynamics on http://127.0.0.1:{args.port} (Ctrl-C stops)", flush=True)
    page.launch(server_name="127.0.0.1", server_port=args.port, show_error=True, quiet=True)


if __name__ == "__main__":
    main()
