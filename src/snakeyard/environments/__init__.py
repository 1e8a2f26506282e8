"""Environments: conda specs, their locks, and pip-locked virtual environments.

The package behind ``workflow/rules/environments.smk`` (rule ``lock``).
"""
