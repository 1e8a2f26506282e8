# Registration: the run's model becomes the next version in the registry.
# The stage's code: src/snakeyard/registry/stage.py (register).


rule register:
    input:
        run="results/{experiment}/run.json",
        environment=environment_receipt,
        metrics="results/{experiment}/metrics.tsv",
    output:
        "results/{experiment}/model.json",
    log:
        "logs/register/{experiment}.log",
    localrule: LOCAL_STAGES
    params:
        model=model_spec,
        registry=REGISTRY,
    shell:
        stage(
            "register --run {input.run} --environment {input.environment}"
            " --model {params.model:q} --registry {params.registry:q}"
            " --out {output} --log {log}"
        )
