# Environments: lock each environment's spec (or record `current`) and register it.
# The stage's code: src/snakeyard/environments/stage.py (lock).


rule lock:
    input:
        environment_file,
    output:
        "results/environments/{environment}.json",
    log:
        "logs/lock/{environment}.log",
    localrule: LOCAL_STAGES
    params:
        spec=environment_spec,
        spec_hash=environment_spec_hash,
        platforms=environment_setting("platforms"),
        channels=environment_setting("channels"),
        registry=REGISTRY,
    shell:
        stage(
            "lock --name {wildcards.environment} --spec-file {params.spec:q}"
            " --platforms={params.platforms:q} --channels={params.channels:q}"
            " --registry {params.registry:q} --out {output} --log {log}"
        )
