"""The core: one facade under every front-end (facade.py), operations as intent
(ops.py), callers and secrets."""
