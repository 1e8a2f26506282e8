# snakeyard: fetch -> upload -> lock -> train (or a sweep of trials) -> collect -> register,
# then deploy and score when configured.
# Every stage is a rule in workflow/rules/; what the rules run lives in src/snakeyard/,
# each use of a Snakemake name that Snakemake does not document in
# src/snakeyard/snakemake_internals.py.

from snakeyard.snakemake_internals import configfiles_given

# the default experiment, unless --configfile names a whole configuration of its own
if not configfiles_given(workflow):

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


# the first page of `snakemake --report`: what this workflow did
report: "workflow/report/workflow.rst"


# first rule, hence the default target; no `default_target:` so that a workflow
# importing snakeyard as a module keeps its own default
rule all:
    input:
        experiment_chains(),
        sweep_reports(),
        experiment_reports(),
        deployment_targets(),
        scoring_targets(),
        bayesian_trial_runs,


include: "workflow/rules/data.smk"
include: "workflow/rules/environments.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/registry.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/reports.smk"
include: "workflow/rules/serving.smk"
