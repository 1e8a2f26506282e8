"""The error for what snakeyard's stand-in of ``azureml.core`` does not provide.

A script that uses such a method gets an error naming it and saying where the stand-in
is described, rather than a bare ``AttributeError`` that reads like a bug in the script.
"""

from __future__ import annotations

GUIDE = "see docs/migrating-from-azureml.md for what it provides"


def _message(owner: str, name: str) -> str:
    return f"{owner}.{name} is not provided by snakeyard's stand-in for azureml.core ({GUIDE})"


class NotProvidedError(AttributeError):
    """An attribute or method of the hosted SDK that the stand-in does not provide."""


class NotProvidedImport(ImportError):
    """A name of the hosted SDK's modules that the stand-in does not provide."""


def not_provided(owner: str, name: str) -> AttributeError:
    """The error for ``owner.name``; private names stay a plain AttributeError, which
    copying, pickling and ``hasattr`` probes rely on."""
    if name.startswith("_"):
        return AttributeError(name)
    return NotProvidedError(_message(owner, name))


def module_getattr(module: str):  # noqa: ANN201 - a module's __getattr__
    """A module ``__getattr__`` for ``from module import Name`` of a name not provided."""

    def __getattr__(name: str):  # noqa: ANN202, N807
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotProvidedImport(_message(module, name), name=name)

    return __getattr__


class _StrictClass(type):
    """Names a class attribute the stand-in lacks (``Dataset.Tabular``) as not provided."""

    def __getattr__(cls, name: str):  # noqa: ANN204
        raise not_provided(f"azureml.core.{cls.__name__}", name)


class Strict(metaclass=_StrictClass):
    """Base of the stand-in's classes: an attribute they lack is named as not provided."""

    def __getattr__(self, name: str):  # noqa: ANN204
        raise not_provided(f"azureml.core.{type(self).__name__}", name)
