# Environments: lock (or, without conda, record) each environment and register it.


rule lock:
    input:
        environment_file,
    output:
        "results/environments/{environment}.json",
    log:
        "logs/lock/{environment}.log",
    localrule: LOCAL_STAGES
    params:
        lockfile="results/environments/{environment}.conda-lock.yml",
        registry=REGISTRY,
    shell:
        stage(
            "lock --name {wildcards.environment} --spec-file {input:q}"
            " --lockfile {params.lockfile} --registry {params.registry:q}"
            " --out {output} --log {log}"
        )
