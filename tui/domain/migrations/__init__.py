"""Numbered schema migrations, run in order by ``database.open_database``.

Each file declares frozen copies of the tables as they were at that step,
never the live models, so an old database always upgrades the same way.
"""
