"""What a script logs through the real Azure ML SDK's offline run, kept in the run record.

When the training environment has the real ``azureml-core`` (hosted environment files
list ``azureml-defaults``, which pulls it in), ``Run.get_context()`` outside the hosted
service gives its ``_OfflineRun``, which only prints what it is given. Inside a snakeyard
run, ``boot/sitecustomize.py`` calls :func:`capture` right after ``azureml.core.run`` is
imported: each logging method of ``_OfflineRun`` then also records its call through
snakeyard's own stand-in (``hosted/azureml/core/run.py``), so metrics, tags, images,
uploads and properties land in the run record. Only those methods of that one class
change, and each still runs the SDK's own code first; the rest of the SDK is untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

# the offline run's methods whose calls are recorded, as the stand-in names them
RECORDED = (
    "log", "log_list", "log_row", "log_table", "log_image", "tag", "set_tags",
    "upload_file", "upload_folder", "add_properties",
)  # fmt: skip

_recorder: Any = None


def recorder() -> Any:
    """The stand-in's run for the current snakeyard run, which writes ``events.jsonl``."""
    global _recorder
    if _recorder is None:
        # the stand-in's module under snakeyard's name: azureml.core is the real SDK here
        from .hosted.azureml.core.run import Run

        _recorder = Run.get_context()
    return _recorder


def capture(module: ModuleType) -> None:
    """Make ``module._OfflineRun`` (the real SDK's ``azureml.core.run``) also record
    the calls of :data:`RECORDED` into the current snakeyard run."""
    offline = getattr(module, "_OfflineRun", None)
    if offline is None or getattr(offline, "_snakeyard_captured", False):
        return
    for name in RECORDED:
        original = getattr(offline, name, None)
        if callable(original):
            setattr(offline, name, _also_recorded(name, original))
    offline._snakeyard_captured = True


def _also_recorded(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        getattr(recorder(), name)(*args, **kwargs)
        return result

    return method
