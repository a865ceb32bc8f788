"""Helpers shared by the CLI tests: invoke the Typer app, read its one error line."""

from typer.testing import CliRunner

from shieldkit.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(result):
    out = result.output.strip()
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert errors, out
    return " ".join(lines[errors[0]:])  # a long line may wrap in the terminal rendering
