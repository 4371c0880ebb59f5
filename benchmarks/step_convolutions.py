"""The convolutions of a train step, alone: how much of the step XLA's convolutions take.

  python benchmarks/step_convolutions.py                      # paper-size Shapes config (64 px, batch 32)
  python benchmarks/step_convolutions.py --variant=small --pytorch

The convolutions are read from the train step's jaxpr (forward passes and the input and weight
gradients that differentiation adds). All of them, each on inputs of its own shapes and none waiting
for another, are compiled as one program, with XLA's default options and with ours
(`visual_dynamics.compilation`). The train step does the same convolutions and more (BatchNorm,
pooling, the optimizer, ...) under more ordering constraints, so this program's time estimates what the
step would take if all else were free (estimates: memory and caches are not used exactly as in the
step). The whole train step is measured in the same run; with --pytorch so is the same network's step
in PyTorch (benchmarks/vs_pytorch.py), first. Each convolution is also timed alone, to list the slowest
and to sum, also with the faster of the two options for each: a choice XLA offers only per
compilation, so that sum estimates what choosing per convolution could give (each alone time includes
a call's dispatch, which outweighs the small layers of `:small` and `:tiny`).
"""

import argparse
import functools

import jax
import jax.numpy as jnp
from jax.extend import core as jex_core

from common import device_description, median_seconds, print_table

from configs import shapes
from train_step import step_and_inputs
from visual_dynamics import compilation, train
from visual_dynamics.model import latent_size, model_from_config
from visual_dynamics.train_state import abstract_train_state


def _subjaxprs(value):
    """The jaxprs inside one equation parameter (pjit, custom_vjp, scan, ... carry them)."""
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, jex_core.ClosedJaxpr):
            yield item.jaxpr
        elif isinstance(item, jex_core.Jaxpr):
            yield item


def convolutions(jaxpr: jex_core.Jaxpr) -> list:
    """Every conv_general_dilated equation in `jaxpr` and the jaxprs nested in it, in order."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            found.append(eqn)
        for value in eqn.params.values():
            for sub in _subjaxprs(value):
                found += convolutions(sub)
    return found


def train_step_convolutions(config) -> list:
    """The convolutions of one train step of `config` (one device's share of the batch)."""
    state = abstract_train_state(config)  # shapes only: tracing needs no values
    size = config.image_size
    batch = {k: jax.ShapeDtypeStruct((config.batch_size, size, size, 3), jnp.uint8)
             for k in ("image", "next_image")}
    step = functools.partial(train.train_step, config=config, z_size=latent_size(model_from_config(config)))
    # train_step reduces over the pmap axis; a one-element vmap provides that axis for tracing.
    on_axis = jax.vmap(step, in_axes=None, out_axes=None, axis_size=1, axis_name=train.AXIS)
    return convolutions(jax.make_jaxpr(on_axis)(state, batch, jax.random.PRNGKey(1)).jaxpr)


def role(eqn) -> str:
    """'forward', 'input gradient' or 'weight gradient', from the dimension numbers JAX gives each
    (our layers are NHWC * HWIO): a weight gradient's lhs batch dimension is the channels (axis 3),
    an input gradient's kernel output dimension is HWIO's input axis (2)."""
    spec = eqn.params["dimension_numbers"]
    if spec.lhs_spec[0] != 0:
        return "weight gradient"
    return "forward" if spec.rhs_spec[0] == 3 else "input gradient"


def describe(eqn) -> str:
    """'[32, 128, 128, 64] * [5, 5, 64, 64], forward'."""
    lhs, rhs = (list(v.aval.shape) for v in eqn.invars)
    return f"{lhs} * {rhs}, {role(eqn)}"


def arguments(eqn) -> list:
    """Inputs of the shapes and dtypes of this convolution's."""
    return [jnp.ones(v.aval.shape, v.aval.dtype) for v in eqn.invars]


def compiled(fn, options: str):
    """`fn` jitted with XLA's 'default' options or with 'ours'."""
    return compilation.jit(fn) if options == "ours" else jax.jit(fn)


def time_alone(eqn, options: str, repeats: int) -> float:
    """Median seconds of this convolution compiled alone."""
    return median_seconds(compiled(functools.partial(eqn.primitive.bind, **eqn.params), options),
                          *arguments(eqn), repeats=repeats, warmup=1)


def time_together(eqns: list, options: str, repeats: int) -> float:
    """Median seconds of one program that computes all these convolutions, independently."""
    def program(args):
        return [eqn.primitive.bind(*a, **eqn.params) for eqn, a in zip(eqns, args)]

    return median_seconds(compiled(program, options), [arguments(e) for e in eqns], repeats=repeats,
                          warmup=1)


def pytorch_step_seconds(variant: str, batch_size: int) -> float:
    """Seconds per step of the same network in PyTorch, measured by benchmarks/vs_pytorch.py."""
    import vs_pytorch

    args = argparse.Namespace(steps=2, repeats=5, warmup=1)
    result = vs_pytorch.measure(args, {"": "paper64", "small": "small", "tiny": "tiny"}[variant],
                                "torch", "float32", [batch_size])[0]
    if "error" in result:
        raise SystemExit(f"the PyTorch step failed: {result['error']}")
    return batch_size / result["samples_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="paper", choices=["paper", "small", "tiny"],
                        help="Shapes config variant ('paper' = the paper's sizes).")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=12, help="The slowest convolutions to list.")
    parser.add_argument("--pytorch", action="store_true",
                        help="Also time the same network's step in PyTorch (needs the bench extra).")
    args = parser.parse_args()
    variant = "" if args.variant == "paper" else args.variant
    config = shapes.get_config(variant)
    # First, before this process starts JAX's runtime and its threads, so nothing of ours runs beside it.
    theirs = pytorch_step_seconds(variant, config.batch_size) if args.pytorch else None
    eqns = train_step_convolutions(config)
    rows = [[describe(e)] + [time_alone(e, o, args.repeats) * 1e3 for o in ("default", "ours")]
            for e in eqns]
    together = {o: time_together(eqns, o, args.repeats) for o in ("default", "ours")}
    step, state, batch, rng = step_and_inputs(config)
    whole = median_seconds(lambda: step(state, batch, rng)[1], repeats=args.repeats, warmup=1)
    print(f"The {len(eqns)} convolutions of one train step ({args.variant}, batch {config.batch_size}) on "
          f"{device_description()}. The slowest {args.rows}, each compiled alone (ms):")
    print_table(["convolution", "XLA's defaults", "ours"], sorted(rows, key=lambda r: -r[2])[:args.rows])
    alone = [sum(r[i] for r in rows) / 1e3 for i in (1, 2)] + [sum(min(r[1:]) for r in rows) / 1e3]
    summary = [[f"all {len(eqns)} convolutions in one program, XLA's defaults", together["default"]],
               [f"all {len(eqns)} convolutions in one program, ours", together["ours"]],
               ["the sum of each timed alone, XLA's defaults", alone[0]],
               ["the sum of each timed alone, ours", alone[1]],
               ["the sum of each timed alone, the faster option for each", alone[2]],
               ["the whole train step (ours)", whole]]
    if args.pytorch:
        summary.append(["the whole train step in PyTorch", theirs])
    print_table(["", "seconds", "of our whole step"], [r + [r[1] / whole] for r in summary])
    if args.pytorch:
        print(f"Our convolutions alone take {together['ours'] / theirs:.2f}x PyTorch's whole step in one "
              f"program, {alone[1] / theirs:.2f}x timed one by one, {alone[2] / theirs:.2f}x with the "
              f"faster option for each.")


if __name__ == "__main__":
    main()
