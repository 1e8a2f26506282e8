"""``Workspace``: the snakeyard registry a script's data sets and models come from."""

from __future__ import annotations

from typing import Any

from ._binding import registry
from ._missing import Strict, module_getattr


class Workspace(Strict):
    """The registry in use, under the hosted SDK's name for it.

    ``from_config()``, ``get(...)`` and ``run.experiment.workspace`` all give the same
    registry (``$SNAKEYARD_REGISTRY``, which the runner sets, else ``./registry``): the
    hosted arguments (subscription, resource group, auth, config file) are accepted and
    ignored, as there is no service to reach.
    """

    def __init__(self, subscription_id: str | None = None, resource_group: str | None = None,
                 workspace_name: str | None = None, **_: Any):  # fmt: skip
        self._registry = registry()
        self.name = workspace_name or self._registry.root.name
        self.subscription_id = subscription_id
        self.resource_group = resource_group

    @classmethod
    def from_config(cls, path: str | None = None, **_: Any) -> Workspace:
        """The registry in use (``config.json`` is not read: there is no service)."""
        return cls()

    @classmethod
    def get(cls, name: str | None = None, **kwargs: Any) -> Workspace:
        """The registry in use, named ``name``."""
        kwargs.pop("workspace_name", None)
        return cls(workspace_name=name, **kwargs)

    @property
    def datasets(self) -> dict[str, Any]:
        """The latest version of every registered data set, by name."""
        from .dataset import Dataset

        return {name: Dataset.get_by_name(self, name) for name in self._registry.datasets.names()}

    @property
    def models(self) -> dict[str, Any]:
        """The latest version of every registered model, by name."""
        from .model import Model

        return {name: Model(self, name) for name in self._registry.models.names()}

    def __repr__(self) -> str:
        return f"Workspace.create(name={self.name!r}, registry={str(self._registry.root)!r})"


__getattr__ = module_getattr("azureml.core.workspace")
