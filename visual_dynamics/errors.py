"""Problems a user can fix, said in one line."""

import functools
import importlib.util
import sys
from typing import Callable

# The top-level modules of setup.cfg's `train` extra (training, data preparation, evaluation).
TRAINING_MODULES = ("tensorflow_datasets", "array_record", "grain", "tensorboardX", "h5py", "scipy",
                    "matplotlib", "cv2")


class OneLineError(Exception):
    """A problem the user can fix, said in one line (the message names it and the fix): entry points
    print it as `error: <message>` and exit with status 1, without a traceback."""


def short_reason(error: BaseException, limit: int = 80) -> str:
    """The first line of an error's message, cut to `limit` characters (for one-line reports)."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    reason = lines[0]
    return reason if len(reason) <= limit else reason[:limit - 3] + "..."


def exit_on_one_line_errors(main: Callable) -> Callable:
    """An entry point's `main` that prints a `OneLineError` as `error: <message>` and exits with status 1."""
    @functools.wraps(main)
    def checked(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except OneLineError as e:
            sys.exit(f"error: {e}")
    return checked


def require_training_extra(command: str) -> None:
    """Exits with one line naming the extra to install when a package of the `train` extra is missing
    (the light install has only what using a trained model needs)."""
    missing = [name for name in TRAINING_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(f"error: {command} needs the training extra ({', '.join(missing)} not installed): "
                 f"pip install 'visual-dynamics[train]' (in a checkout: pip install -e '.[train]' -c "
                 f"constraints.txt)")
