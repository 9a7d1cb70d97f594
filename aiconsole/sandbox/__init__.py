"""A local, seeded, in-memory APIM for demos and tests.

``state`` holds the world (``SandboxState``), ``seed`` builds it, ``arm`` serves the management
REST API, ``server`` runs every sandbox app on loopback ports. Nothing here is imported by the
CLI until ``aiconsole sandbox`` (or ``demo``) runs.
"""
