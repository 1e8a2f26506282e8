"""snakeyard's stand-in for the Azure ML SDK's ``azureml`` package (see ``core.run``).

Only found when the training environment has no ``azureml.core`` of its own.
"""
