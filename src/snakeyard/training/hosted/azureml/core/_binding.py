"""What the stand-in is bound to: the snakeyard registry in use and the current run.

The runner tells a training script where these are through environment variables
(``SNAKEYARD_REGISTRY``, ``SNAKEYARD_INPUT_DATASETS``); a script run by hand uses the
registry ``snakeyard`` would use (``SNAKEYARD_REGISTRY`` or ``./registry``). The
registry's code is imported only when a script asks for a workspace, data set or model.
"""

from __future__ import annotations

import json
import os
from typing import Any

from snakeyard.training.run_extras import INPUT_DATASETS_VARIABLE


def registry() -> Any:
    """The :class:`snakeyard.registry.registry.Registry` in use."""
    from snakeyard.registry.registry import Registry, default_root

    return Registry(default_root())


def input_datasets() -> dict[str, dict[str, Any]]:
    """The run's data sets as the runner hands them over: ``{key: receipt}``."""
    text = os.environ.get(INPUT_DATASETS_VARIABLE)
    return json.loads(text) if text else {}
