"""The exact packages of the interpreter this runs in: ``{name: version}``, as JSON when run.

Standard library only: snakeyard imports it to list its own interpreter's packages, and
hands its source to another environment's interpreter (``python -c``) to list that one's.
Names are normalised as in PEP 503 (lower case, runs of ``-_.`` as one ``-``); the key
``python`` holds the interpreter's own version.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re


def interpreter_packages() -> dict[str, str]:
    """Exact versions of the distributions installed for this interpreter."""
    packages = {"python": platform.python_version()}
    for dist in importlib.metadata.distributions():
        name, version = _name_and_version(dist)
        if name and version:
            packages.setdefault(re.sub(r"[-_.]+", "-", name).lower(), version)
    return dict(sorted(packages.items()))


_HEADER_FIELD = re.compile(r"^(Name|Version):[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    """A distribution's name and version, read from the head of its metadata file.

    ``dist.metadata`` parses the whole file as an e-mail message, long description and
    all: for the ~200 distributions of a usual environment that took a tenth of a second
    at the start of every training job. Both fields sit in the header, before the first
    blank line.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    header = text.replace("\r\n", "\n").split("\n\n", 1)[0]
    fields = dict(_HEADER_FIELD.findall(header))
    return fields.get("Name"), fields.get("Version")


if __name__ == "__main__":
    print(json.dumps(interpreter_packages()))
