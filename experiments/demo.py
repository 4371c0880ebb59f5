"""What a trained model can show, one subcommand each; PNGs, GIFs and grids in an output folder.

  python experiments/demo.py sample      --pretrained=shapes_cpu --image=a.png     # the shipped model
  python experiments/demo.py sample      --workdir=W --image=a.png [--image=b.png] [--num_samples=8]
  python experiments/demo.py transfer    --workdir=W --source=s0.png --source_next=s1.png --image=t.png
  python experiments/demo.py extrapolate --workdir=W --image=a.png --next_image=a1.png [--steps=8]
  python experiments/demo.py traverse    --workdir=W --image=a.png [--next_image=a1.png] [--dims=3,17]
  python experiments/demo.py layers      --workdir=W --image=a.png

Every subcommand takes a training run (--workdir) or a model shipped with the package (--pretrained).
Images are files of any size and format Pillow reads; grayscale, palette, RGBA (composited on white)
and 16-bit images are converted to 8-bit RGB, with a line saying so; all are resized to the model's
input. Output: --output_dir (default WORKDIR/demo/<subcommand>, or demo/<pretrained>/<subcommand>).
`python experiments/demo.py SUBCOMMAND --help` explains each. A file that is not a readable image
stops the command with one line naming it (exit code 2).
"""

import argparse
import os
import sys

import numpy as np

from visual_dynamics import preprocessing, showcase
from visual_dynamics import visualization as vis

HELP = {
    "sample": "Many possible next frames of each input image (§5), z drawn from the run's bank of "
              "training z (or N(0, I) with --from_prior). Writes <name>/sample_NN.png, a 2-frame GIF "
              "per sample and grid.png (a row per input: the input, then its samples).",
    "transfer": "Zero-shot visual analogy (§6.4): the motion of the pair (--source, --source_next) "
                "applied to each --image. Writes <name>.png, a GIF and grid.png (source, source next, "
                "then each target and its prediction).",
    "extrapolate": "Video extrapolation (§6.4): the motion z of (--image, --next_image) applied again "
                   "and again, each prediction feeding the next. Writes frame_NN.png, "
                   "extrapolation.gif and grid.png.",
    "traverse": "One latent dimension at a time swept over --values (default linspace(-10, 10, 21), "
                "as the Torch release), the rest of z kept (§6.3, Fig. 13). z is the motion of "
                "(--image, --next_image), or 0 without --next_image. Default --dims: the 4 dimensions "
                "whose z_mean varies most in the run's z bank. Writes dim_D.png and dim_D.gif per "
                "dimension.",
    "layers": "The image encoder's feature maps at every pyramid scale (§6.1, Fig. 8): scale_K.png "
              "tiles the maps of scale K, each normalised to [0, 1].",
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    sub = {}
    for name, text in HELP.items():
        sub[name] = commands.add_parser(name, help=text.split(" (")[0].split(":")[0], description=text)
        model = sub[name].add_mutually_exclusive_group(required=True)
        model.add_argument("--workdir", help="A training workdir (config.json, checkpoints/, z_bank.npz).")
        model.add_argument("--pretrained", help="A model shipped with the package, e.g. shapes_cpu.")
        sub[name].add_argument("--output_dir", help="Default: WORKDIR/demo/SUBCOMMAND, or "
                               "demo/PRETRAINED/SUBCOMMAND.")
        sub[name].add_argument("--step", type=int, help="Checkpoint step of --workdir (default: the newest).")
    sub["sample"].add_argument("--image", action="append", required=True, help="Repeat for several.")
    sub["sample"].add_argument("--num_samples", type=int, default=8)
    sub["sample"].add_argument("--seed", type=int, default=0, help="Seed of the z draws.")
    sub["sample"].add_argument("--from_prior", action="store_true", help="Draw z from N(0, I).")
    sub["transfer"].add_argument("--source", required=True, help="First frame of the source pair.")
    sub["transfer"].add_argument("--source_next", required=True, help="Its next frame.")
    sub["transfer"].add_argument("--image", action="append", required=True, help="Target; repeatable.")
    sub["extrapolate"].add_argument("--image", required=True)
    sub["extrapolate"].add_argument("--next_image", required=True, help="Defines the motion z.")
    sub["extrapolate"].add_argument("--steps", type=int, default=8)
    sub["traverse"].add_argument("--image", required=True)
    sub["traverse"].add_argument("--next_image", help="Defines the base z (default: z = 0).")
    sub["traverse"].add_argument("--dims", help="Comma-separated dimensions of z.")
    sub["traverse"].add_argument("--values", default="-10:10:21", help="START:STOP:COUNT (linspace).")
    sub["layers"].add_argument("--image", required=True)
    return parser.parse_args(argv)


def linspace(spec: str) -> np.ndarray:
    try:
        start, stop, count = spec.split(":")
        return np.linspace(float(start), float(stop), int(count))
    except ValueError as e:
        raise ValueError(f"--values must be START:STOP:COUNT, e.g. -10:10:21; got {spec!r}") from e


def name_of(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def sample(args, predictor, out: str, load) -> list:
    rows = []
    for path in args.image:
        image = load(path)
        frames = predictor.sample(image, args.num_samples, rng=args.seed, from_prior=args.from_prior)
        folder = os.path.join(out, name_of(path))
        os.makedirs(folder, exist_ok=True)
        vis.save_png(image, os.path.join(folder, "input.png"))
        for j, frame in enumerate(frames, start=1):
            vis.save_png(frame, os.path.join(folder, f"sample_{j:02d}.png"))
            vis.save_gif([image, frame], os.path.join(folder, f"sample_{j:02d}.gif"))
        rows.append([image, *frames])
    return rows


def transfer(args, predictor, out: str, load) -> list:
    source, source_next = load(args.source), load(args.source_next)
    z = predictor.encode(source, source_next)
    rows = []
    for path in args.image:
        target = load(path)
        predicted = predictor.transfer(z, target)
        vis.save_png(predicted, os.path.join(out, f"{name_of(path)}.png"))
        vis.save_gif([target, predicted], os.path.join(out, f"{name_of(path)}.gif"))
        rows.append([source, source_next, target, predicted])
    return rows


def extrapolate(args, predictor, out: str, load) -> list:
    image = load(args.image)
    frames = predictor.extrapolate(image, predictor.encode(image, load(args.next_image)), args.steps)
    for k, frame in enumerate(frames, start=1):
        vis.save_png(frame, os.path.join(out, f"frame_{k:02d}.png"))
    vis.save_gif([image, *frames], os.path.join(out, "extrapolation.gif"))
    return [[image, *frames]]


def traverse(args, predictor, out: str, load) -> list:
    image = load(args.image)
    z = (predictor.encode(image, load(args.next_image)) if args.next_image
         else np.zeros(predictor.latent_size, np.float32))
    dims = [int(d) for d in args.dims.split(",")] if args.dims else showcase.most_varying_dims(predictor, 4)
    frames = predictor.traverse(image, z, dims, linspace(args.values))
    for d, row in zip(dims, frames):
        vis.save_png(vis.image_grid([list(row)], upscale=2), os.path.join(out, f"dim_{d}.png"))
        vis.save_gif(list(row), os.path.join(out, f"dim_{d}.gif"))
    return [[image, *row] for row in frames]


def layers(args, predictor, out: str, load) -> list:
    """Writes scale_K.png per pyramid scale; returns no grid rows."""
    for k, grid in enumerate(showcase.feature_map_grids(predictor, load(args.image))):
        vis.save_png(grid, os.path.join(out, f"scale_{k}.png"))
    return []


COMMANDS = {"sample": sample, "transfer": transfer, "extrapolate": extrapolate, "traverse": traverse,
            "layers": layers}


def load_image(path: str, size: int) -> np.ndarray:
    """The image file at `path` as uint8 [size, size, 3]; says so when it had to be converted."""
    image, converted = preprocessing.load_image(path, size)
    if converted:
        print(f"{path}: {converted}; converted to 8-bit RGB", flush=True)
    return image


def run(args, predictor, out: str) -> str:
    """Writes the subcommand's files into `out`; returns the one to look at first."""
    rows = COMMANDS[args.command](args, predictor, out, lambda path: load_image(path, predictor.image_size))
    if not rows:
        return os.path.join(out, "scale_0.png")
    grid_path = os.path.join(out, "grid.png")
    vis.save_png(vis.image_grid(rows, upscale=2), grid_path)
    return grid_path


def main(argv=None):
    args = parse_args(argv)
    from absl import logging

    from visual_dynamics.errors import OneLineError
    from visual_dynamics.predictor import Predictor

    logging.set_verbosity(logging.WARNING)
    source = args.workdir or f"the shipped model {args.pretrained!r}"
    out = args.output_dir or (os.path.join(args.workdir, "demo", args.command) if args.workdir
                              else os.path.join("demo", args.pretrained, args.command))
    try:
        predictor = (Predictor.from_checkpoint(args.workdir, args.step) if args.workdir
                     else Predictor.from_pretrained(args.pretrained))
        os.makedirs(out, exist_ok=True)
        print(f"{args.command}: {source} ({predictor.image_size} px, z of {predictor.latent_size}); "
              f"writing to {out}", flush=True)
        first = run(args, predictor, out)
    except preprocessing.ImageFileError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (OneLineError, FileNotFoundError, ValueError) as e:  # no run, a version mismatch, bad values
        sys.exit(f"error: {e}")
    print(f"Done; look at {first}")


if __name__ == "__main__":
    main()
