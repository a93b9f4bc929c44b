"""What counts as an action: the one rule the env and the harness both apply."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_action(action: Any, n_actions: int) -> int | None:
    """``action`` as a plain int when it is one of ``n_actions`` discrete actions, taken as
    Gymnasium's ``Discrete.contains`` takes them (an int or a numpy integer, or a 0-d integer
    array; never a bool), else ``None``."""
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        action = action.item()
    if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)) and 0 <= action < n_actions:
        return int(action)
    return None
