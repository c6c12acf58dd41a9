"""The domain core: the article, the knowledge base, the clinic, the replies
and the reply contract.

Both processes (the Rasa server with its channels and triage component, and
the action server) stand on this package. It imports no adapter: nothing from
rasa, rasa_sdk, sanic, channels, triage, actions, review or scripts
(`scripts/check_imports.py`, run by `make lint`, enforces it).
"""
