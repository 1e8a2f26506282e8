"""``Experiment``: the experiment a run belongs to, with its workspace."""

from __future__ import annotations

from typing import Any

from ._missing import Strict, module_getattr


class Experiment(Strict):
    """An experiment of the workflow's configuration, by ``name``, in ``workspace``."""

    def __init__(self, workspace: Any = None, name: str | None = None, **_: Any):
        self.name = name
        self._workspace = workspace

    @property
    def workspace(self) -> Any:
        """The registry in use, as a :class:`~azureml.core.Workspace`."""
        if self._workspace is None:
            from .workspace import Workspace

            self._workspace = Workspace()
        return self._workspace

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name})"


__getattr__ = module_getattr("azureml.core.experiment")
