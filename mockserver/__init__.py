"""lgmock's server: a local, stateful sandbox of LG's partner cloud APIs."""

import warnings

# connexion 3.3 imports starlette's test client at start, which warns that it wants
# `httpx2`; nothing of ours uses that client, so the warning would only confuse users.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
