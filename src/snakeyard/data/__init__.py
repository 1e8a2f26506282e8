"""Data sets: sources, downloads, file formats and the datastore.

The package behind ``workflow/rules/data.smk`` (rules ``fetch``, ``upload``).
"""
