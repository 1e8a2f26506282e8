"""Sweeps: parameter expressions and trials, the ranking of trials, the report.

The package behind ``workflow/rules/sweeps.smk`` (rules ``trial``, ``sweep``,
``sweep_report``).
"""
