# Registration: the run's model becomes the next version in the registry.
# The stage's code: src/snakeyard/registry/stage.py (register).
# It reads the run record, not collect's metrics.tsv: the two start side by side as
# soon as the run record exists (a failed collect still fails the call).


rule register:
    input:
        run="results/{experiment}/run.json",
        environment=environment_receipt,
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
