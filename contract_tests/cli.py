"""`lgmock contract ...`: the contract test kit's commands (registered by mockserver.cli)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    contract = commands.add_parser("contract", help="contract test kit")
    contract.add_subparsers(dest="contract_command", required=True)
