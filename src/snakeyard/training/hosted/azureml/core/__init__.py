"""The part of ``azureml.core`` that training scripts use: :class:`Run`."""

from .run import Run

__all__ = ["Run"]
