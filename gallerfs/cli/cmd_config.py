"""gallerfs config list / get / set."""

from __future__ import annotations

import argparse

from gallerfs import config
from gallerfs.cli.context import Context, add_json_flag


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show or change settings",
                       description="Settings live in a TOML file (see 'gallerfs config path').")  # fmt: skip
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    q = csub.add_parser("list", help="every setting with its value and description")
    add_json_flag(q)
    q.set_defaults(func=run_list)
    q = csub.add_parser("get", help="print one setting")
    q.add_argument("key", metavar="KEY")
    q.set_defaults(func=run_get)
    q = csub.add_parser("set", help="change one setting")
    q.add_argument("key", metavar="KEY")
    q.add_argument("value", metavar="VALUE")
    q.set_defaults(func=run_set)
    q = csub.add_parser("path", help="print the settings file's path")
    q.set_defaults(func=run_path)


def run_list(ctx: Context) -> int:
    values = ctx.settings.as_dict()
    data = [{"key": k.name, "value": values[k.name], "help": k.help} for k in config.KEYS]
    ctx.emit(data, lambda rows: "\n".join(f"{r['key']} = {r['value']!r}\n    {r['help']}" for r in rows))
    return 0


def run_get(ctx: Context) -> int:
    print(ctx.settings.as_dict()[config.key_spec(ctx.args.key).name])
    return 0


def run_set(ctx: Context) -> int:
    value = config.parse_value(ctx.args.key, ctx.args.value)
    config.save_value(ctx.paths.config_file, ctx.args.key, value)
    print(f"{ctx.args.key} = {value!r}")
    return 0


def run_path(ctx: Context) -> int:
    print(ctx.paths.config_file)
    return 0
