"""Serving registered models: over HTTP (``models serve``), as deployment bundles,
in bulk (the ``scoring`` rules), and in other tools' formats (``models export``).

FastAPI and uvicorn (the ``serve`` extra) are imported only by :mod:`.app` and
:mod:`.server`, never by ``import snakeyard`` or a training job.
"""
