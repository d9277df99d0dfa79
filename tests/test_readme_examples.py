"""Every `$ avp-migrate ...` example in the README is a command the CLI accepts as written (issue 13): the verb,
every option and its value parse, so a renamed flag or a removed verb breaks this test, not a reader's first hour.

The examples' outputs come from real runs (each section says where: the demo, `local up`, a test); running them
all here would need every account state they show, so this checks what drifts silently: the command lines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from migrate.cli.main import _join_relative_times, build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
SHELL_STOPS = {";", "|", "||", "&&", "&", "<", ">", "2>", "2>&1"}


def examples() -> list[str]:
    found = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(), re.S):
        lines = block.split("\n")
        index = 0
        while index < len(lines):
            line = lines[index]
            if line.startswith("$ avp-migrate "):
                command = line[2:]
                while command.endswith("\\"):
                    index += 1
                    command = command[:-1] + " " + lines[index].strip()
                found.append(command)
            index += 1
    return found


def arguments(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words = []
    for word in lexer:
        if word in SHELL_STOPS or word.startswith((">", "<", "2>")):
            break
        words.append(word)
    assert words[0] == "avp-migrate", command
    return words[1:]


def test_the_readme_has_examples():
    assert len(examples()) > 40


@pytest.mark.parametrize("command", examples())
def test_every_readme_example_parses(command):
    try:
        build_parser().parse_args(_join_relative_times(arguments(command)))
    except SystemExit as exc:  # argparse's usage error, or --help
        assert exc.code == 0, f"the CLI refuses the README's example: {command}"
