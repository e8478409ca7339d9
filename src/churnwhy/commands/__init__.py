"""CLI commands: each module defines functions and a `register(app)`; cli.py wires them together."""
