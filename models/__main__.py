"""``python -m models list``: every registered model with its inputs (modality, transform, steps x features) and
outputs, built from its default config."""

from __future__ import annotations

import argparse
import sys

from models import registry
from models.transforms import get_transform, n_steps


def describe(name: str) -> str:
    """Lines for one model: name and description, then its inputs and targets."""
    spec = registry.build(name).spec()
    inputs = ", ".join(f"{m} ({i.transform}, {n_steps(i)} x {get_transform(i.transform).feature_dim(i)}"
                       f"{'' if i.required else ', optional'})" for m, i in spec.inputs.items())
    targets = ", ".join(f"{t} ({kind})" for t, kind in spec.targets.items())
    return f"{name}: {registry.get(name).description}\n  inputs: {inputs}\n  outputs: {targets}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["list"])
    parser.parse_args(argv)
    print("\n".join(describe(name) for name in registry.names()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
