"""A team's defaults: every option can come from the command line, an environment variable
(`BATCH_SMS_TIMEZONE`) or a config file (`batch-sms.toml`), in that order of precedence,
before the built-in default.

The config file is `batch-sms.toml` in the current folder, else in the user's config folder
(as `platformdirs` names it for this system). Top-level keys apply to every command that has
the option; a table named after a command (`[run]`) to that command only. Keys are spelled
like the options, without the dashes in front (`default-region` or `default_region`).

The API key never comes from a config file: config files are shared in team folders and
committed to version control, where a key would leak. It stays in `CLOSE_API_KEY` or
`--api-key`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import platformdirs

FILE_NAME = "batch-sms.toml"
CONFIG = "batch_sms.config"  # where the group keeps the config file read, for `config`
ENV_PREFIX = "BATCH_SMS"
SECRETS = frozenset({"api_key", "oauth_token"})


@dataclass(frozen=True)
class ConfigFile:
    path: Path | None
    """None: no config file was found."""
    values: Mapping[str, Any]
    """Top-level keys and command tables, keys with underscores."""


def search_path(folder: Path | None = None) -> str:
    return ", ".join(str(path) for path in _candidates(folder))


def _candidates(folder: Path | None) -> tuple[Path, Path]:
    return (
        (folder or Path.cwd()) / FILE_NAME,
        Path(platformdirs.user_config_dir("batch-sms")) / FILE_NAME,
    )


def find_config(folder: Path | None = None) -> Path | None:
    """The config file in force: in `folder` (the current one), else the user's."""
    return next((path for path in _candidates(folder) if path.is_file()), None)


def read_config(path: Path | None) -> ConfigFile:
    if path is None:
        return ConfigFile(None, {})
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise click.UsageError(f"cannot read the config file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise click.UsageError(f"the config file {path} is not valid TOML: {error}") from None
    return ConfigFile(path, _underscored(raw))


def _underscored(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key.replace("-", "_"): _underscored(value) if isinstance(value, dict) else value
        for key, value in raw.items()
    }


def default_map(group: click.Group, config: ConfigFile) -> dict[str, dict[str, Any]]:
    """Click's default_map for every command of `group`: what the config file sets for it.
    Refuses secrets, unknown keys and unknown commands, naming the file and the key."""
    commands = group.commands
    tables = {key: value for key, value in config.values.items() if isinstance(value, dict)}
    shared = {key: value for key, value in config.values.items() if key not in tables}
    for name in tables:
        if name not in commands:
            raise click.UsageError(
                f"{config.path}: [{name}] is not a batch-sms command "
                f"({', '.join(sorted(commands))})."
            )
    known = {param.name for command in commands.values() for param in _options(command)}
    result: dict[str, dict[str, Any]] = {}
    for name, command in commands.items():
        options = {param.name for param in _options(command)}
        values = {key: value for key, value in shared.items() if key in options}
        values.update(tables.get(name, {}))
        _refuse(config.path, values, options, name)
        result[name] = values
    _refuse(config.path, shared, known, None)
    return result


def _options(command: click.Command) -> list[click.Option]:
    return [param for param in command.params if isinstance(param, click.Option)]


def _refuse(
    path: Path | None,
    values: Mapping[str, Any],
    options: AbstractSet[str | None],
    command: str | None,
) -> None:
    for key in values:
        if key in SECRETS:
            raise click.UsageError(
                f"{path} sets {key.replace('_', '-')}: keys and tokens never come from a config "
                "file, which ends up in shared folders and version control. Remove it, and set "
                "CLOSE_API_KEY (or CLOSE_OAUTH_TOKEN) in the environment instead."
            )
        if key not in options:
            where = f" for batch-sms {command}" if command else ""
            raise click.UsageError(f"{path}: '{key}' is not an option{where}.")


def describe_source(context: click.Context, param: click.Parameter, config: ConfigFile) -> str:
    """Where an option's value in force comes from, in words."""
    assert param.name is not None
    source = context.get_parameter_source(param.name)
    if source is click.core.ParameterSource.COMMANDLINE:
        return "command line"
    if source is click.core.ParameterSource.ENVIRONMENT:
        assert isinstance(param, click.Option)
        return f"environment {param.resolve_envvar_value(context) and _envvar(context, param)}"
    if source is click.core.ParameterSource.DEFAULT_MAP:
        return f"config file {config.path}"
    return "default"


def _envvar(context: click.Context, param: click.Option) -> str:
    if isinstance(param.envvar, str):
        return param.envvar
    return f"{context.auto_envvar_prefix}_{(param.name or '').upper()}"
