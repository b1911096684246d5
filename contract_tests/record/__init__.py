"""`lgmock record`: a validating proxy between a partner's client and LG's service.

Every call is forwarded unchanged to the upstream; every answer is checked against
the spec of its API by the contract kit's own checks (a mismatch is a *drift finding*)
and learned into a scenario the sandbox can serve. The modules, in the order a call
meets them:

- ``proxy``: the aiohttp server the client points at, the forwarding, the callback relay;
- ``drift``: an answer judged by the kit's response checks, the findings and their files;
- ``learn``: what the answers say about partners, users, devices, subscriptions, DR;
- ``scenario_file``: the learned state written in the scenario format, checked by lgmock;
- ``redact``: the one place secrets are recognised, so none is written or printed.
"""
