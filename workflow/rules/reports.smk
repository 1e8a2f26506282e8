# Reports: every experiment's part of `snakemake --report` (a sweep adds its own, in
# sweeps.smk), drawn once its model is registered, or once its run is collected for an
# experiment that registers none (model: null). The stage's code:
# src/snakeyard/reports/stage.py (experiment_report). The report's overview page is
# workflow/report/workflow.rst.


rule experiment_report:
    input:
        run="results/{experiment}/run.json",
        model=model_receipt,
    output:
        metrics=report(
            "results/{experiment}/report/model-metrics.html",
            caption="../report/model-metrics.rst",
            category="{experiment}",
            subcategory="Run and model",
            labels={"figure": "lineage and metrics"},
        ),
        curves=report(
            "results/{experiment}/report/curves.svg",
            caption="../report/curves.rst",
            category="{experiment}",
            subcategory="Run and model",
            labels={"figure": "list metrics by step"},
        ),
        confusion=report(
            "results/{experiment}/report/confusion-matrix.svg",
            caption="../report/confusion-matrix.rst",
            category="{experiment}",
            subcategory="Run and model",
            labels={"figure": "confusion matrix"},
        ),
        images=report(
            "results/{experiment}/report/images.html",
            caption="../report/images.rst",
            category="{experiment}",
            subcategory="Run and model",
            labels={"figure": "logged images"},
        ),
    log:
        "logs/experiment_report/{experiment}.log",
    localrule: LOCAL_STAGES
    shell:
        stage(
            "experiment-report --run {input.run} --model {input.model}"
            " --metrics {output.metrics} --curves {output.curves}"
            " --confusion {output.confusion} --images {output.images} --log {log}"
        )
