# Sweeps: every trial of an experiment's sweep is a train job of its own (same command,
# threads and resources as train), then the best run stands for the experiment: collect
# and register take it like any other run. See docs/sweeps.md. The stages' code:
# src/snakeyard/sweeps/stage.py (sweep, sweep_report); a trial runs training's train.


wildcard_constraints:
    trial="[0-9a-f]{12}",


use rule train as trial with:
    output:
        "results/{experiment}/trials/{trial}/run.json",
    log:
        "logs/train/{experiment}/{trial}.log",
    benchmark:
        "results/{experiment}/trials/{trial}/train.benchmark.tsv"
    wildcard_constraints:
        experiment=_alternatives(SWEPT) or "(?!)",
    group:
        trial_group
    params:
        spec=trial_spec,


# a Bayesian sweep proposes its trials a wave at a time, each wave after the trials of
# the waves before it have run (docs/sweeps.md, "Bayesian sampling")
checkpoint sweep_wave:
    input:
        wave_trial_runs,
    output:
        "results/{experiment}/waves/{plan}/{wave}-{size}.json",
    log:
        "logs/sweep_wave/{experiment}/{plan}/{wave}-{size}.log",
    wildcard_constraints:
        experiment=_alternatives(BAYESIAN) or "(?!)",
        plan="[0-9a-f]{12}",
        wave="[0-9]+",
        size="[0-9]+",
    localrule: LOCAL_STAGES
    params:
        settings=wave_settings,
        study=lambda wildcards: sweep_folder(wildcards.experiment),
    shell:
        stage(
            "sweep-wave --experiment {wildcards.experiment} --wave {wildcards.wave}"
            " --count {wildcards.size} --settings {params.settings:q} --study {params.study}"
            " --trials {input} --out {output} --log {log}"
        )


# for a sweep, results/<experiment>/run.json is its best trial's run, not a train job's
ruleorder: sweep > train


# a grouping sweep (cluster_group > 1): the mark of one bucket of trials, in their group
rule trials_done:
    input:
        bucket_trials,
    output:
        "results/{experiment}/trial-groups/{bucket}.done",
    log:
        "logs/trials_done/{experiment}/{bucket}.log",
    wildcard_constraints:
        experiment=_alternatives(SWEPT) or "(?!)",
        bucket="[0-9]+x[0-9]+",
    group:
        trial_group
    shell:
        "touch {output} 2> {log}"


rule sweep:
    input:
        trials=trial_runs,
        buckets=bucket_marks,
    output:
        run="results/{experiment}/run.json",
        table="results/{experiment}/sweep.tsv",
        summary="results/{experiment}/sweep.json",
    log:
        "logs/sweep/{experiment}.log",
    wildcard_constraints:
        experiment=_alternatives(SWEPT) or "(?!)",
    localrule: LOCAL_STAGES
    params:
        metric=sweep_setting("primary_metric"),
        goal=sweep_setting("goal"),
        registry=REGISTRY,
    shell:
        stage(
            "sweep --experiment {wildcards.experiment} --trials {input.trials}"
            " --metric {params.metric:q} --goal {params.goal} --table {output.table}"
            " --summary {output.summary} --registry {params.registry:q}"
            " --out {output.run} --log {log}"
        )


# the sweep's own part of the report; the registered model's part is every
# experiment's (rule experiment_report, reports.smk)
rule sweep_report:
    input:
        summary="results/{experiment}/sweep.json",
        model=model_receipt,
    output:
        table=report(
            "results/{experiment}/report/sweep.html",
            caption="../report/sweep.rst",
            category="{experiment}",
            subcategory="Sweep",
            labels={"figure": "trials"},
        ),
        plot=report(
            "results/{experiment}/report/primary-metric.svg",
            caption="../report/primary-metric.rst",
            category="{experiment}",
            subcategory="Sweep",
            labels={"figure": "primary metric by parameter"},
        ),
    log:
        "logs/sweep_report/{experiment}.log",
    localrule: LOCAL_STAGES
    shell:
        stage(
            "sweep-report --summary {input.summary} --model {input.model}"
            " --table {output.table} --plot {output.plot} --log {log}"
        )
