"""Confirm or refuse: the one gate in front of every command that changes the account.

``deploy``, ``undeploy``, ``cutover``, ``rollback``, ``finalize`` and ``status --repair`` apply a change without
asking only when given ``--yes``. Without it, on a terminal, they show what they will do and ask; anywhere else
(standard input is not a terminal: CI, a pipe, ``nohup``) they refuse at once, with one line naming ``--yes``,
before reading or changing anything. The refusal comes first so that a script which forgot ``--yes`` fails the
same way whether or not there happens to be something to change. ``--dry-run`` never needs ``--yes``.

A Ctrl-C at the prompt is an interruption with nothing changed (exit 130), not an error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from migrate.errors import Interrupted, UserError

YES = frozenset({"y", "yes"})


def stdin_is_terminal() -> bool:
    stream = sys.stdin
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # no stdin at all, or a closed one
        return False


@dataclass
class Confirmation:
    """Made by :meth:`for_command` at the start of a verb; :meth:`confirm_or_refuse` before the first change."""

    verb: str
    yes: bool
    as_json: bool = False

    @classmethod
    def for_command(cls, verb: str, args: argparse.Namespace, *, applies: bool = True) -> Confirmation:
        """Refuse now, before anything is read, when this run would change the account (``applies``: false for
        ``--dry-run``) without ``--yes`` and there is no terminal to ask on."""
        confirmation = cls(verb=verb, yes=bool(getattr(args, "yes", False)),
                           as_json=getattr(args, "format", "text") == "json")
        if applies and not confirmation.yes and not stdin_is_terminal():
            confirmation.refuse_without_terminal()
        return confirmation

    def refuse_without_terminal(self) -> None:
        raise UserError(f"refused, nothing was changed: {self.verb} changes the account and standard input is not "
                        "a terminal to ask on: pass --yes to apply without a prompt (--dry-run shows what it would "
                        "do)", where=self.verb)

    @property
    def out(self) -> TextIO:
        # with --format json, stdout is for the JSON document only
        return sys.stderr if self.as_json else sys.stdout

    def confirm_or_refuse(self, lines: Iterable[str], question: str) -> None:
        """Return when the change may go ahead: ``--yes``, or "y" on a terminal after seeing ``lines``. Anything
        else raises (a UserError: nothing was changed)."""
        if self.yes:
            return
        if not stdin_is_terminal():  # for_command refused already; this guards a verb that forgot to call it
            self.refuse_without_terminal()
        out = self.out
        for line in lines:
            print(line, file=out)
        print(f"{question} [y/N] ", end="", file=out, flush=True)
        try:
            answer = sys.stdin.readline()
        except KeyboardInterrupt:
            print(file=out)
            raise Interrupted(f"at the {self.verb} prompt: nothing was changed") from None
        if answer.strip().lower() not in YES:
            raise UserError("not confirmed: nothing was changed (answer y, or pass --yes)", where=self.verb)


def command_line(args: argparse.Namespace, *words: str) -> str:
    """``avp-migrate <words>`` with the AWS options this run was given, quoted for a POSIX shell."""
    options: list[str] = []
    for option, name in (("--profile", "profile"), ("--region", "region"), ("--endpoint-url", "endpoint_url")):
        value = getattr(args, name, None)
        if value:
            options += [option, value]
    return shlex.join(["avp-migrate", *words, *options])


def this_command(args: argparse.Namespace) -> str:
    """The command line this run was started with (``main`` records it), for "to continue, run ..."."""
    argv = list(getattr(args, "command_line", None) or [])
    if not argv:
        return command_line(args, getattr(args, "command", "") or "")
    return shlex.join(["avp-migrate", *argv])
