"""The project's own Rasa channels (see docs/telegram.md)."""
