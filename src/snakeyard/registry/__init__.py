"""The registry: versioned models, data sets, environments and run records on disk.

The package behind ``workflow/rules/registry.smk`` (rule ``register``).
"""
