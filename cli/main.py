"""The ``dualwrite`` command line."""

from __future__ import annotations

import typer

from cli.commands import migrate, ops, processes, stage

app = typer.Typer(
    name="dualwrite",
    help="Dual-write SQL -> MongoDB migration service: run it, watch it, repair it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
processes.register(app)
migrate.register(app)
stage.register(app)
ops.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
