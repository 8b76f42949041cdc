"""The core: one facade under every front-end (facade.py, implemented by
service.py's Core), operations as intent (ops.py) and their executors
(executors.py), callers, secrets and the one error type (errors.py)."""
