"""Where a train step's time goes: forward+backward of each part of the network, timed alone.

  python benchmarks/step_breakdown.py                  # the paper-size Shapes config (64 px, batch 32)
  python benchmarks/step_breakdown.py --variant=small

Each part (motion encoder, kernel decoder, image encoder and cross convolution per pyramid scale,
motion decoder) is differentiated with respect to its inputs and parameters on inputs of the shapes
it sees in training; the whole train step is measured in the same run for comparison.
"""

import argparse

import jax
import jax.numpy as jnp

from common import device_description, median_seconds, print_table

from configs import shapes
from train_step import step_and_inputs
from visual_dynamics import compilation
from visual_dynamics.cross_conv import get_implementation
from visual_dynamics.model import latent_size, model_from_config, pyramid_sizes


def backward_seconds(part, variables, inputs, repeats):
    """Median time of the gradient of sum(part(...)) w.r.t. parameters and inputs."""
    def loss(params, *args):
        out, _ = part({"params": params, "batch_stats": variables["batch_stats"]}, *args)
        return sum(jnp.sum(o.astype(jnp.float32)) for o in jax.tree.leaves(out))

    grad = compilation.jit(jax.grad(loss, argnums=tuple(range(len(inputs) + 1))))
    return median_seconds(grad, variables["params"], *inputs, repeats=repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="paper")
    parser.add_argument("--impl", default="auto", help="cross_conv_impl to time.")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = shapes.get_config("" if args.variant == "paper" else args.variant)
    config.model.cross_conv_impl = args.impl
    model = model_from_config(config)
    b, s = config.batch_size, config.image_size
    key = jax.random.PRNGKey(0)
    image = jax.random.normal(key, (b, s, s, 3))
    z = jax.random.normal(key, (b, latent_size(model)))
    variables = model.init(key, image, image, z, train=False)

    def run(method):
        return lambda v, *a: model.apply(v, *a, train=True, method=method, mutable=["batch_stats"])

    rows = [["motion encoder", backward_seconds(run(lambda m, i, d, train: m.motion_encoder(
        i, d, train=train)), variables, (image, image), args.repeats)],
            ["kernel decoder", backward_seconds(run(lambda m, z, train: m.kernel_decoder(
                z, train=train)), variables, (z,), args.repeats)]]
    cross = get_implementation(args.impl)
    maps = []
    for index, side in enumerate(pyramid_sizes(s, config.model.pyramid_scales)):
        scaled = jax.random.normal(key, (b, side, side, 3))
        encoder = run(lambda m, x, train, i=index: m.image_encoders[i](x, train=train))
        rows.append([f"image encoder, {side} px", backward_seconds(encoder, variables, (scaled,),
                                                                   args.repeats)])
        fmap = jax.random.normal(key, (b, side // 4, side // 4, config.model.image_encoder_channels[-1]))
        kernels = jax.random.normal(key, (b, 5, 5, fmap.shape[-1]))
        rows.append([f"cross conv ({args.impl}), {side // 4} px maps",
                     median_seconds(compilation.jit(jax.grad(lambda m, k: jnp.sum(cross(m, k)),
                                                     argnums=(0, 1))), fmap, kernels,
                                    repeats=args.repeats)])
        maps.append(fmap)
    rows.append(["motion decoder", backward_seconds(run(lambda m, x, train: m.motion_decoder(
        x, train=train)), variables, (maps,), args.repeats)])
    total = sum(r[1] for r in rows)
    step, state, batch, rng = step_and_inputs(config)
    whole = median_seconds(lambda: step(state, batch, rng)[1], repeats=args.repeats)
    print(f"Train step parts ({args.variant}, batch {b}) on {device_description()}; "
          f"whole step {whole:.3g} s, parts add up to {total:.3g} s")
    print_table(["part", "fwd+bwd s", "share of parts"],
                [[name, t, f"{100 * t / total:.1f} %"] for name, t in rows])


if __name__ == "__main__":
    main()
