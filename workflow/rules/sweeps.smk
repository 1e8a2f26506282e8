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
    shell:
        stage(
            "sweep --experiment {wildcards.experiment} --trials {input.trials}"
            " --metric {params.metric:q} --goal {params.goal} --table {output.table}"
            " --summary {output.summary} --out {output.run} --log {log}"
        )


rule sweep_report:
    input:
        summary="results/{experiment}/sweep.json",
        run="results/{experiment}/run.json",
        model="results/{experiment}/model.json",
    output:
        table=report(
            "results/{experiment}/report/sweep.html",
            caption="../report/sweep.rst",
            category="Sweep",
            labels={"experiment": "{experiment}", "figure": "trials"},
        ),
        plot=report(
            "results/{experiment}/report/primary-metric.svg",
            caption="../report/primary-metric.rst",
            category="Sweep",
            labels={
                "experiment": "{experiment}",
                "figure": "primary metric by parameter",
            },
        ),
        confusion=report(
            "results/{experiment}/report/confusion-matrix.svg",
            caption="../report/confusion-matrix.rst",
            category="Registered model",
            labels={"experiment": "{experiment}", "figure": "confusion matrix"},
        ),
        metrics=report(
            "results/{experiment}/report/model-metrics.html",
            caption="../report/model-metrics.rst",
            category="Registered model",
            labels={"experiment": "{experiment}", "figure": "metrics"},
        ),
    log:
        "logs/sweep_report/{experiment}.log",
    localrule: LOCAL_STAGES
    shell:
        stage(
            "sweep-report --summary {input.summary} --run {input.run} --model {input.model}"
            " --table {output.table} --plot {output.plot} --confusion {output.confusion}"
            " --metrics {output.metrics} --log {log}"
        )
