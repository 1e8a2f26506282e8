# Registration: the run's model becomes the next version in the registry.


rule register:
    input:
        run="results/{experiment}/run.json",
        environment=environment_receipt,
        metrics="results/{experiment}/metrics.tsv",
    output:
        "results/{experiment}/model.json",
    params:
        model=model_spec,
        registry=REGISTRY,
    log:
        "logs/register/{experiment}.log",
    localrule: True
    shell:
        STAGE + " register --run {input.run} --environment {input.environment}"
        " --model {params.model:q} --registry {params.registry:q}"
        " --out {output} --log {log}"
