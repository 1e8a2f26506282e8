# Data: fetch a data set's files, then upload them into the datastore as a version.
# The stages' code: src/snakeyard/data/stage.py (fetch, upload).


rule fetch:
    input:
        dataset_source_input,
    output:
        files=directory("results/data/{dataset}/files"),
        manifest="results/data/{dataset}/manifest.json",
    log:
        "logs/fetch/{dataset}.log",
    localrule: LOCAL_STAGES
    params:
        source=dataset_source,
        spec=dataset_spec,
    shell:
        stage(
            "fetch --name {wildcards.dataset} --source {params.source:q}"
            " --spec {params.spec:q}"
            " --files {output.files} --manifest {output.manifest} --log {log}"
        )


rule upload:
    input:
        files="results/data/{dataset}/files",
        manifest="results/data/{dataset}/manifest.json",
    output:
        "results/datasets/{dataset}.json",
    log:
        "logs/upload/{dataset}.log",
    localrule: LOCAL_STAGES
    params:
        source=dataset_source,
        description=lambda wildcards: CFG["datasets"][wildcards.dataset]["description"],
        registry=REGISTRY,
        datastore=DATASTORE,
    shell:
        stage(
            "upload --name {wildcards.dataset} --files {input.files}"
            " --manifest {input.manifest} --description={params.description:q}"
            " --origin={params.source:q} --registry {params.registry:q}"
            " --datastore={params.datastore:q} --out {output} --log {log}"
        )
