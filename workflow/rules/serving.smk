# Serving: deployment bundles of registered models, and bulk scoring of data sets.
# The stages' code: src/snakeyard/serving/stage.py (deploy, score_features, score_chunk,
# score_gather). Model references are resolved in common.smk when the jobs are planned:
# a job runs again when its reference resolves to another version, or its data changes.


rule deploy:
    input:
        deployment_inputs,
    output:
        bundle=directory("results/deployments/{deployment}/bundle"),
        receipt="results/deployments/{deployment}/deployment.json",
    log:
        "logs/deploy/{deployment}.log",
    localrule: LOCAL_STAGES
    params:
        model=deployment_model,
        spec=deployment_spec,
        registry=REGISTRY,
    shell:
        stage(
            "deploy --name {wildcards.deployment} --model {params.model:q}"
            " --spec {params.spec:q} --registry {params.registry:q}"
            " --bundle {output.bundle} --out {output.receipt} --log {log}"
        )


rule score_features:
    input:
        scoring_dataset,
    output:
        "results/scoring/{scoring}/features.npy",
    log:
        "logs/scoring/{scoring}/features.log",
    localrule: LOCAL_STAGES
    shell:
        stage("score-features --dataset {input} --out {output} --log {log}")


# one job per chunk: on a cluster, each scores its rows on its own node
rule score_chunk:
    input:
        scoring_model_receipts,
        features="results/scoring/{scoring}/features.npy",
    output:
        "results/scoring/{scoring}/chunks/{chunk}.npz",
    log:
        "logs/scoring/{scoring}/chunk-{chunk}.log",
    params:
        model=scoring_model,
        chunks=scoring_setting("chunks"),
        method=scoring_setting("method"),
        registry=REGISTRY,
    shell:
        stage(
            "score-chunk --features {input.features} --model {params.model:q}"
            " --chunk {wildcards.chunk} --chunks {params.chunks} --method {params.method}"
            " --registry {params.registry:q} --out {output} --log {log}"
        )


rule score:
    input:
        chunks=scoring_chunks,
        dataset=scoring_dataset,
    output:
        "results/scoring/{scoring}/predictions.{format}",
    log:
        "logs/scoring/{scoring}/predictions-{format}.log",
    wildcard_constraints:
        format="csv|parquet",
    localrule: LOCAL_STAGES
    shell:
        stage(
            "score-gather --chunks {input.chunks} --dataset {input.dataset}"
            " --format {wildcards.format} --out {output} --log {log}"
        )
