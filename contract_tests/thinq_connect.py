"""LG's own ThinQ Connect SDK (``thinqconnect``), pointed at a sandbox and nothing else changed.

The SDK builds every URL in one method, ``ThinQApi._get_url_from_endpoint``
(``https://api-<region>.lgthinq.com/<endpoint>``); ``sdk_api_class`` returns a subclass
that overrides that one method with the sandbox's ThinQ Connect base URL. Headers,
message ids, envelopes and error handling stay the SDK's own, so what passes here is
what the SDK does against LG's cloud.

``thinqconnect`` is an optional dependency (the ``connect`` extra): it is imported only
when a binding is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contract_tests.contracts import mount

if TYPE_CHECKING:
    from aiohttp import ClientSession
    from thinqconnect import ThinQApi

INSTALL_HINT = "pip install 'lgmock[connect]' (LG's thinqconnect SDK)"
# The key every copy of the SDK sends (``thinqconnect.const.API_KEY``, public in its
# source), and the client id the kit's own ThinQ Connect calls use.
SDK_API_KEY = "v6GFvkweNo7DK7yD3ylIZ9w52aKBU0eJ7wLXkSR3"
CONNECT_CLIENT_ID = "lgmock-contract-client"


def connect_url(base_url: str) -> str:
    """The ThinQ Connect base URL of a sandbox: what the SDK's endpoints are joined to."""
    return f"{base_url.rstrip('/')}{mount('connect').prefix}"


def sdk_api_class(base_url: str) -> type[ThinQApi]:
    """``thinqconnect.ThinQApi`` with only its host-bound method aimed at ``base_url``."""
    try:
        from thinqconnect import ThinQApi
    except ImportError as exc:  # the extra is not installed: say how to get it
        raise ImportError(f"the thinq_connect_api fixture needs {INSTALL_HINT}") from exc
    root = connect_url(base_url)

    class SandboxThinQApi(ThinQApi):
        """LG's ThinQApi talking to an lgmock sandbox."""

        sandbox_url = root

        def _get_url_from_endpoint(self, endpoint: str) -> str:
            return f"{self.sandbox_url}/{endpoint}"

    return SandboxThinQApi


def sdk_api(
    base_url: str,
    user: dict[str, Any],
    *,
    client_id: str = CONNECT_CLIENT_ID,
    session: ClientSession | None = None,
) -> ThinQApi:
    """A ThinQApi for a scenario ``user`` (its ``pat`` and ``countryCode``) on a sandbox.

    Without ``session`` the SDK makes its own aiohttp session on its first call, in the
    event loop that call runs in.
    """
    pat = user.get("pat")
    if not pat:
        raise ValueError(
            f"user {user.get('userNumber')} has no pat (personal access token) in the "
            "scenario: give it one to use ThinQ Connect"
        )
    cls = sdk_api_class(base_url)
    return cls(
        session=session,  # type: ignore[arg-type]
        access_token=pat,
        country_code=user["countryCode"],
        client_id=client_id,
    )


def close_sdk_session(api: ThinQApi) -> None:
    """Close the aiohttp session the SDK made for itself, if it made one.

    It belongs to the event loop of the SDK's first call. While that loop is open (an
    async test's), the session is closed in it. Once the loop has ended (``asyncio.run``
    returned) nothing can be awaited in it any more: the session is marked closed
    (``detach``) and its idle keep-alive socket goes with the garbage collector.
    """
    session = getattr(api, "_session", None)
    if session is None or session.closed:
        return
    loop = getattr(session, "_loop", None)
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.run_until_complete(session.close())
    else:
        session.detach()
