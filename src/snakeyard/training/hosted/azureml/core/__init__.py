"""The part of ``azureml.core`` that training and entry scripts use: :class:`Run`,
:class:`Model`."""

from .model import Model
from .run import Run

__all__ = ["Model", "Run"]
