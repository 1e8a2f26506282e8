"""Distributed training of one model: a Dask cluster under joblib, or MPI ranks.

An experiment's ``distributed:`` configuration picks the backend. ``resources.py`` turns
it into the Snakemake resources the executor plugins understand; ``launch.py`` is what
the runner calls around the training script; ``dask_backend.py`` starts and stops the
Dask cluster from the train stage, ``dask_cluster.py`` is the cluster's own processes
(run with the environment's interpreter), ``dask_client.py`` connects the script to it
at start-up, and ``mpi.py`` launches the script's ranks. Importing this package imports
nothing: runs without ``distributed:`` never load Dask.
"""
