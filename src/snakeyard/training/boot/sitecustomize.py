"""Run at the start of every training script snakeyard launches (the runner puts this
folder first on ``PYTHONPATH``).

It makes ``snakeyard`` and the hosted-ML shim (``azureml.core.run``) importable without
letting them shadow anything: they are found by a finder placed *last* on
``sys.meta_path``, so a package of the same name installed in the training environment
(a real Azure ML SDK, another snakeyard) wins, and no other folder of the workflow's
interpreter is added to ``sys.path``. Then the environment's own ``sitecustomize``, if
it has one, runs as it would have.

On Linux it also ties the script to the stage process that started it: if that process
dies without a chance to stop the script (SIGKILL, the out-of-memory killer), the kernel
kills the script too (``prctl(PR_SET_PDEATHSIG)``, see prctl(2)), so that no orphan goes
on training, writing into a run that is already reported ``Lost``, next to the retry.

As the script exits, it learns the signature of the model the run registers, when the
train stage asks for it (see ``snakeyard/training/model_signature.py``).

Inside a run, when the environment has the real SDK, what the script logs through its
offline run is recorded too (see ``snakeyard/training/sdk_capture.py``).
In a run with ``distributed: {backend: dask}`` it connects the script to the run's Dask
cluster and makes that joblib's default backend (see ``training/distributed/``).
"""

import importlib.machinery
import importlib.util
import os
import sys

# name=folder pairs: the top-level packages this finder may provide, and where
_ROOTS = dict(
    item.split("=", 1)
    for item in os.environ.get("SNAKEYARD_PROVIDES", "").split(os.pathsep)
    if "=" in item
)


class _LastResortFinder:
    """Finds the provided packages only when nothing earlier on sys.meta_path did."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        parts = name.split(".")
        root = _ROOTS.get(parts[0])
        if root is None:
            return None
        # a submodule the environment's package of that name lacks (azureml.core when
        # only another azureml-* distribution is installed) comes from the shim too
        folder = os.path.join(root, *parts[:-1])
        return importlib.machinery.PathFinder.find_spec(name, [folder])


sys.meta_path.append(_LastResortFinder)


class _CaptureOfflineRun:
    """Inside a snakeyard run, when the real SDK's ``azureml.core.run`` is imported,
    make its offline run also record what it is given (snakeyard.training.sdk_capture);
    the shim's own ``azureml.core.run`` records already and is left alone."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "azureml.core.run":
            return None
        for finder in sys.meta_path:
            if finder in (cls, _LastResortFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            from snakeyard.training.sdk_capture import capture

            capture(module)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("SNAKEYARD_RUN_DIR"):
    sys.meta_path.insert(0, _CaptureOfflineRun)


def _die_with_the_stage():
    # only the script the stage started, not the processes the script starts in turn
    stage = os.environ.pop("SNAKEYARD_STAGE_PID", None)
    if stage is None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return  # no prctl to be had: the script may outlive a killed stage, as before
    if os.getppid() != int(stage):  # the stage died before the line above took effect
        os._exit(128 + int(signal.SIGKILL))


_die_with_the_stage()


def _answer_the_signature_request_at_exit():
    # the train stage asks the script's own process, which has the model's libraries in
    # memory, to learn the model's signature as it exits (snakeyard/training/
    # model_signature.py); only this process, not those the script starts in turn
    request = os.environ.pop("SNAKEYARD_SIGNATURE_REQUEST", None)
    if not request:
        return
    import atexit

    pid = os.getpid()

    def answer():
        if os.getpid() != pid:  # a forked child leaving through Python's exit
            return
        try:
            from snakeyard.training.model_signature import answer_request
        except ImportError:  # the environment's own, older snakeyard: register learns it
            return
        answer_request(request)

    # registered before the script runs, so it runs after the script's own exit handlers
    atexit.register(answer)


_answer_the_signature_request_at_exit()

if os.environ.get("SNAKEYARD_DASK_SCHEDULER_FILE"):
    # a run with distributed: backend dask: joblib's default backend is the run's cluster
    from snakeyard.training.distributed.dask_client import connect_from_environment

    connect_from_environment()

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
)
if _spec is not None and _spec.loader is not None:
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["sitecustomize"] = _module
    _spec.loader.exec_module(_module)
