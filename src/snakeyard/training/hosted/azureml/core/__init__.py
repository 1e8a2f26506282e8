"""The part of ``azureml.core`` that training and scoring scripts use.

``Run``, ``Experiment``, ``Workspace``, ``Dataset`` and ``Model``, backed by the
snakeyard registry in use; any other name says it is not provided by snakeyard.
"""

from ._missing import module_getattr
from .dataset import Dataset
from .experiment import Experiment
from .model import Model
from .run import Run
from .workspace import Workspace

__all__ = ["Dataset", "Experiment", "Model", "Run", "Workspace"]

__getattr__ = module_getattr("azureml.core")
