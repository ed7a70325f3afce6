"""``python -m core access hash-password [--user NAME]``: a salted password hash for ``[geocsp.users]`` in
``.streamlit/secrets.toml``; the password is read without echo (twice) or, for scripts, from standard input."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from core.access.passwords import hash_password


def add_access_parser(sub: argparse._SubParsersAction) -> None:
    """The ``access`` command and its ``hash-password`` action."""
    access = sub.add_parser("access", help="who may use a shared app (password hashes for secrets.toml)")
    actions = access.add_subparsers(dest="access_command", required=True)
    hashing = actions.add_parser(
        "hash-password", help="print a salted scrypt hash line for [geocsp.users] in .streamlit/secrets.toml",
        description="Reads the password without echo (asked twice), or one line from standard input when it is not a terminal.",
    )
    hashing.add_argument("--user", default="NAME", help="the user name to print the line for")


def run_access(args: argparse.Namespace) -> int:
    """Print ``NAME = "scrypt:…"`` for the password typed (or piped in)."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.user}: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    print(f"{json.dumps(args.user)} = {json.dumps(hash_password(password))}")
    return 0
