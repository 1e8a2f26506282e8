# Training: one run per job (on whatever executor the profile picks), then collection.


rule train:
    input:
        dataset=dataset_receipt,
        environment=environment_receipt,
        sources=source_files,
    output:
        "results/{experiment}/run.json",
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "results/{experiment}/train.benchmark.tsv"
    threads: resource("cpus")
    resources:
        **trial_slots(),
        mem_mb=resource("mem_mb"),
        runtime=resource("runtime"),
    params:
        spec=train_spec,
        registry=REGISTRY,
    shell:
        stage(
            "train --experiment {wildcards.experiment} --spec {params.spec:q}"
            " --dataset {input.dataset} --environment {input.environment}"
            " --registry {params.registry:q} --out {output} --log {log}"
        )


rule collect:
    input:
        "results/{experiment}/run.json",
    output:
        metrics="results/{experiment}/metrics.tsv",
        outputs=directory("results/{experiment}/outputs"),
    log:
        "logs/collect/{experiment}.log",
    localrule: True
    shell:
        stage(
            "collect --run {input} --outputs {output.outputs}"
            " --metrics {output.metrics} --log {log}"
        )
