"""The training script's side of a trial's early termination: each value of the primary
metric the script logs goes to the trial's stage, which answers go on or stop.

Called by the Run API (``Run.log``, and so the hosted ``azureml`` stand-in) only in a
sweep trial that has a policy or a time budget, where the stage passes two pipe ends
to the script. Standard library only: it runs in the script's environment, which may
have neither Optuna nor anything else of the workflow's (the stage decides, see
:mod:`.monitor`). The call waits for the answer, so a policy decides on exactly the
values logged so far; a trial told to stop ends at once, inside ``log``, after
flushing its output, so its logs and the metrics it logged are kept.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

# "<read fd>,<write fd>": the pipe ends of the stage's monitor, in the script's process
from ..training.run_api import TRIAL_CHANNEL_VARIABLE as CHANNEL_VARIABLE

METRIC_VARIABLE = "SNAKEYARD_PRIMARY_METRIC"
# the exit code of a script its trial's policy stopped (the record says Canceled)
CANCELED_EXIT = 3

_pipes: tuple[Any, Any] | None = None


def report(name: str, value: Any) -> None:
    """Pass one logged metric to the trial's monitor if it is the primary metric, and end
    the process if the monitor says the trial is canceled."""
    channel = os.environ.get(CHANNEL_VARIABLE)
    if not channel or name != os.environ.get(METRIC_VARIABLE):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return  # not a value a policy can compare: not an interval either
    global _pipes
    try:
        if _pipes is None:
            answers, requests = (int(fd) for fd in channel.split(","))
            _pipes = (os.fdopen(answers, "r", encoding="utf-8"),
                      os.fdopen(requests, "w", encoding="utf-8"))  # fmt: skip
        _pipes[1].write(json.dumps({"value": float(value)}) + "\n")
        _pipes[1].flush()
        answer = json.loads(_pipes[0].readline() or "{}")
    except (OSError, ValueError):
        return  # the monitor is gone (or this is a forked worker): nothing decides
    reason = answer.get("cancel")
    if reason:
        print(f"snakeyard: trial canceled: {reason}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(CANCELED_EXIT)
