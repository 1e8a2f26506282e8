# Environments: lock (or, without conda, record) each environment and register it.


rule lock:
    input:
        environment_file,
    output:
        "results/environments/{environment}.json",
    params:
        lockfile="results/environments/{environment}.conda-lock.yml",
        registry=REGISTRY,
    log:
        "logs/lock/{environment}.log",
    localrule: True
    shell:
        STAGE + " lock --name {wildcards.environment} --spec-file {input:q}"
        " --lockfile {params.lockfile} --registry {params.registry:q}"
        " --out {output} --log {log}"
