"""The domain: models, database, configuration, validation, permissions, services.

Nothing here imports Textual: the CLI, the TUI and the tests share it.
"""
