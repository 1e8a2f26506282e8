# Training: one run per job (on whatever executor the profile picks), then collection.
# The stages' code: src/snakeyard/training/stage.py (train, collect).


rule train:
    input:
        # dataset, environment, sources, spec
        unpack(train_inputs),
    output:
        "results/{experiment}/run.json",
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "results/{experiment}/train.benchmark.tsv"
    conda:
        conda_environment
    threads: train_resource("cpus")
    resources:
        **trial_slots(),
        mem_mb=train_resource("mem_mb"),
        # a distributed experiment's allocation: one task per process
        # (src/snakeyard/training/distributed/resources.py)
        nodes=distributed_setting("nodes"),
        tasks=distributed_setting("tasks"),
        cpus_per_task=distributed_setting("cpus_per_task"),
        mpi=distributed_setting("mpi"),
        runtime=resource("runtime"),
        slurm_partition=resource("slurm_partition", "partition"),
        slurm_extra=resource("slurm_extra"),
    params:
        spec=train_spec,
        registry=REGISTRY,
        conda_active=CONDA_ACTIVE,
    shell:
        stage(
            "train --experiment {wildcards.experiment} --spec {params.spec:q}"
            " --dataset {input.dataset} --environment {input.environment}"
            " --registry {params.registry:q} --conda-active {params.conda_active}"
            " --out {output} --log {log}"
        )


rule collect:
    input:
        "results/{experiment}/run.json",
    output:
        metrics="results/{experiment}/metrics.tsv",
        outputs=directory("results/{experiment}/outputs"),
    log:
        "logs/collect/{experiment}.log",
    localrule: LOCAL_STAGES
    shell:
        stage(
            "collect --run {input} --outputs {output.outputs}"
            " --metrics {output.metrics} --log {log}"
        )
