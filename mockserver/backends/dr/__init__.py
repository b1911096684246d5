"""The DR (demand response) family of Business Connect: one backend, as moto keeps a
service, and the modules it is made of.

- ``backend``: ``DrBackend``, the state and the operations (groups, users, events,
  targets, data files); what handlers call.
- ``checks``: the request bodies read into the model, with the prose rules OpenAPI
  cannot state.
- ``model``: the plain objects (groups, users, events, targets, series, data files).
- ``windows``: an event's window on devices: opening, sampling, closing.
- ``signals``: what a CONTROL signal does to one device (its profile's bounds).
- ``zip``: the data zip of an event (CSVs, deflate) and its presigned URL.
- ``pieces``: the family split into pieces for the state file, and put back together.
"""
