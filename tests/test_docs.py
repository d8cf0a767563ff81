"""Help is documentation: every command and option explains itself, and the README covers every
column, outcome and exit code that the code knows."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from batch_sms.cli import ExitCode, cli
from batch_sms.files import columns
from batch_sms.models import Outcome

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.commands.items())


@pytest.mark.parametrize(("name", "command"), COMMANDS)
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    assert command.help, f"{name} has no docstring"
    assert "Example:" in command.help, f"{name}'s help shows no example"
    assert f"batch-sms {name} " in command.help


@pytest.mark.parametrize(("name", "command"), COMMANDS)
def test_every_option_has_help(name: str, command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts[0]} has no help"


@pytest.mark.parametrize("column", [columns.ID, *columns.FIELDS, *columns.RESULTS])
def test_readme_documents_every_column(column: str) -> None:
    assert f"`{column}`" in README


@pytest.mark.parametrize("outcome", list(Outcome))
def test_readme_documents_every_outcome(outcome: Outcome) -> None:
    assert f"| `{outcome.value}` |" in README


@pytest.mark.parametrize("code", list(ExitCode))
def test_readme_documents_every_exit_code(code: ExitCode) -> None:
    assert f"| {code.value} |" in README


def test_readme_set_up_commands_are_the_ones_ci_runs() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install . && batch-sms run samples/campaign.csv --sandbox" in README
    assert "pip install '.[dev]' && python -m pytest" in README
    assert "\npip install '.[dev]' && python -m pytest\n" in ci
