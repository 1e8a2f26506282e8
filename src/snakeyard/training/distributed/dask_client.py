"""Connect a training script to its run's Dask cluster, before the script starts.

Imported by ``boot/sitecustomize.py`` only when the train stage started a cluster for
the run (``SNAKEYARD_DASK_SCHEDULER_FILE`` is set), so other runs never load Dask.
"""

from __future__ import annotations

import os
import sys

SCHEDULER_FILE_VARIABLE = "SNAKEYARD_DASK_SCHEDULER_FILE"


def connect_from_environment() -> None:
    """Make the run's cluster joblib's default backend in this process.

    The variable is removed first: processes the script starts in turn are not the
    run's client. joblib's ``dask`` backend sends each ``Parallel`` batch (the trees of
    a forest, the candidates of a search) to the cluster's workers; code that asks joblib
    for shared memory (``require="sharedmem"``) still runs in threads here.
    """
    scheduler_file = os.environ.pop(SCHEDULER_FILE_VARIABLE, None)
    if not scheduler_file:
        return
    try:
        import joblib
        from distributed import Client

        Client(scheduler_file=scheduler_file, set_as_default=True, timeout=60)
        # without a `with`, parallel_config sets the main thread's configuration for good
        joblib.parallel_config(backend="dask")
    except Exception as error:  # noqa: BLE001 - any reason: the run must not go on alone
        # Python reports an exception in sitecustomize and runs the script anyway, which
        # would then fit in one process: end here, with one line saying why (the last
        # line of the run's log, which the Failed run's message quotes)
        print(
            f"snakeyard: the training script could not connect to its run's Dask cluster "
            f"({type(error).__name__}: {error})",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)
