"""The LG specs as data, shared by the server (`mockserver`) and the contract kit.

Neither side owns them: the server serves what they say, the kit judges a server by
what they say, and neither imports the other (`tests/contract/test_independence.py`).

- `lgspecs.data`: where the shipped data lives (`openapi/`, `fixtures/`), in a checkout
  or an installed wheel
- `lgspecs.documents`: the spec documents (vendor + overlay -> repaired 3.1 spec -> the
  3.0 form connexion reads)
- `lgspecs.mounts`: the mount table (`MOUNTS`, `Api`): which API is served at which prefix
- `lgspecs.tables`: what a document promises per operation (statuses, vendor codes, push
  types), parsed from the documents themselves
"""
