"""Where the command line meets the library: every error becomes one line and an exit code.

Exit codes of `smets-hil` (docs/cli.md): 0 when everything the command checked
holds, 1 when something it checked failed or it could not do its job (a file
it cannot read, a broker it cannot reach), 2 for a usage error (a bad option or
argument, including an argument that names a file whose content is unusable).
A Python traceback is never shown unless SMETS_HIL_TRACEBACK=1 asks for it.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from emulator.errors import EmulatorError
from emulator.gbcs.eui import Eui64
from hil.errors import HilError

PROG = "smets-hil"
EXIT_FAILED = 1
EXIT_USAGE = 2
TRACEBACK_ENV = "SMETS_HIL_TRACEBACK"


def one_line(text: str) -> str:
    """YAML and parser messages span lines; a terminal error is one."""
    return " ".join(text.split())


def fail(message: object, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr and a non-zero exit: what every bad input of ours gives."""
    text = one_line(str(message)) or type(message).__name__
    click.echo(f"{PROG}: error: {text}", err=True)
    sys.exit(code)


def describe(exc: BaseException) -> str:
    """A message for an error the commands did not translate themselves."""
    if isinstance(exc, HilError | EmulatorError):
        return str(exc)
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else ""
        reason = exc.strerror or str(exc)
        return f"{where}: {reason}" if where else reason
    if isinstance(exc, UnicodeError):
        return f"not text in the expected encoding: {exc}"
    if isinstance(exc, ValueError):
        return str(exc) or type(exc).__name__
    return f"internal error: {type(exc).__name__}: {exc} ({TRACEBACK_ENV}=1 shows where)"


class Cli(click.Group):
    """The root group: runs click without its own error printing and prints one line instead."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            fail(exc.format_message() + hint, EXIT_USAGE)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            fail("interrupted", 130)
        except Exception as exc:
            if os.environ.get(TRACEBACK_ENV) == "1":
                raise
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                sys.exit(EXIT_FAILED)  # the reader went away: nothing to tell it
            fail(describe(exc))
        # Without standalone mode click returns the exit code of --help, --version, ctx.exit.
        sys.exit(result if isinstance(result, int) else 0)


if TYPE_CHECKING:  # click 8.2+ types ParamType by its value; older click cannot subscript it
    _EuiBase = click.ParamType[Eui64]
else:
    _EuiBase = click.ParamType


class EuiType(_EuiBase):
    """An EUI-64 option: a bad value is a usage error that names the option."""

    name = "EUI-64"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Eui64:
        if isinstance(value, Eui64):
            return value
        try:
            return Eui64(str(value))
        except EmulatorError:
            self.fail(f"{value!r} is not an EUI-64 (8 bytes, e.g. 00-DB-12-34-56-78-90-A0)")


EUI64 = EuiType()
