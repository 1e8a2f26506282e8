"""Training: the runner, the Run API, source snapshots, the batch-scheduler record, and
the hosted-ML API for training scripts.

The package behind ``workflow/rules/training.smk`` (rules ``train``, ``collect``). It
imports nothing: a training script reaches :mod:`snakeyard.training.run_api` through
``import snakeyard`` and must start fast in any environment.
"""
