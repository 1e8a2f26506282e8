"""The Snakemake report of every experiment: its run, its pictures, its registered model."""
