"""The Typer app (``shieldkit`` console script)."""
