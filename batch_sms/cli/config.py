"""`config`: the options in force for a command, and where each comes from."""

from __future__ import annotations

import click

from batch_sms.cli import defaults


@click.command(name="config")
@click.argument("command_name", metavar="[COMMAND]", default="run")
@click.pass_context
def config_command(context: click.Context, command_name: str) -> None:
    """Show the options in force for COMMAND (default: run) and where each comes from: the
    environment (BATCH_SMS_...), the config file (batch-sms.toml here, else in your config
    folder) or the built-in default.

    Example:

        batch-sms config run
    """
    group = context.parent
    assert group is not None and isinstance(group.command, click.Group)
    command = group.command.commands.get(command_name)
    if command is None:
        raise click.BadParameter(
            f"'{command_name}' is not a batch-sms command.", param_hint="COMMAND"
        )
    config: defaults.ConfigFile = group.meta[defaults.CONFIG]
    click.echo(f"Config file: {config.path or 'none'} (searched: {defaults.search_path()})")
    shown = command.make_context(command_name, [], parent=group, resilient_parsing=True)
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in defaults.SECRETS:
            continue
        value = shown.params.get(param.name or "")
        source = defaults.describe_source(shown, param, config)
        click.echo(f"  {param.opts[0]:<24} {_shown(value):<28} {source}")


def _shown(value: object) -> str:
    if value is None or value == ():
        return "-"
    if isinstance(value, tuple):
        return " ".join(str(item) for item in value)
    return str(value)
