# snakeyard: fetch -> upload -> lock -> train -> collect -> register.
# Every stage is a rule in workflow/rules/; what the rules run lives in src/snakeyard/.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/environments.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/registry.smk"


rule all:
    input:
        registered_models(),
    default_target: True
