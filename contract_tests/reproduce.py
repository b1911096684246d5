"""A curl line that replays one request of a check, with no credential in it.

A finding is pasted into CI logs and tickets, so the command names each credential by
the environment variable the kit reads it from (``$LGMOCK_API_KEY``...) and fetches a
fresh API token first, instead of printing them. Run it in a shell where those
variables are set and it sends the same request.
"""

from __future__ import annotations

import re
import shlex

import httpx

from contract_tests.credentials import ENVIRONMENT, Credentials

TOKEN_VARIABLE = "TOKEN"
# The credentials a command must not show; each is printed as its environment variable.
SECRET_FIELDS = ("api_key", "api_secret", "user_token", "service_key")
# Headers every request carries that say nothing about the failure.
_LEFT_OUT = {"accept", "accept-encoding", "connection", "content-length", "host", "user-agent"}


def curl(request: httpx.Request, credentials: Credentials, *, token_url: str = "") -> str:
    """``curl`` replaying ``request``; its X-Api-Token is fetched first from ``token_url``."""
    hidden = {
        value: f"${ENVIRONMENT[field]}"
        for field in SECRET_FIELDS
        if len(value := getattr(credentials, field)) >= 4  # "" or "x" would hide everything
    }
    lines = []
    token = request.headers.get("x-api-token")
    if token:
        hidden[token] = f"${TOKEN_VARIABLE}"
        if token_url:
            read = "import json, sys; print(json.load(sys.stdin)['access_token'])"
            key = _word(f"X-Api-Key: {credentials.api_key}", hidden)
            secret = _word(f"X-Api-Secret: {credentials.api_secret}", hidden)
            lines.append(
                f"{TOKEN_VARIABLE}=$(curl -sS -X POST {shlex.quote(token_url)} -H {key} "
                f"-H {secret} | python3 -c {shlex.quote(read)})"
            )
    words = ["curl", "-sS", "-i", "-X", request.method, shlex.quote(str(request.url))]
    for name, value in request.headers.items():
        if name.lower() not in _LEFT_OUT:
            words += ["-H", _word(f"{name}: {value}", hidden)]
    if request.content:
        words += ["--data-binary", _word(request.content.decode("utf-8", "replace"), hidden)]
    lines.append(" ".join(words))
    return "\n".join(lines)


def _word(text: str, hidden: dict[str, str]) -> str:
    """One shell word: the literal parts single-quoted, each secret as "$ITS_VARIABLE"."""
    if not hidden:
        return shlex.quote(text)
    pattern = re.compile("|".join(re.escape(v) for v in sorted(hidden, key=len, reverse=True)))
    parts, position = [], 0
    for match in pattern.finditer(text):
        if match.start() > position:
            parts.append(shlex.quote(text[position : match.start()]))
        parts.append(f'"{hidden[match.group()]}"')
        position = match.end()
    if position < len(text) or not parts:
        parts.append(shlex.quote(text[position:]))
    return "".join(parts)
