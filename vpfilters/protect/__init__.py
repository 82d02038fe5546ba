"""Protectors, one module per technique of T/AI 110.2."""
