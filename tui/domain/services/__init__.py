"""Services: the only way anything changes.

Each mutating function checks the actor's permission, validates, runs in one
transaction and writes its audit event inside that same transaction.
"""
