"""The specs' code tables, parsed once for `lgmock spec lint` and the contract kit.

The server's catalogues (mockserver/errors.py) are written by hand; the kit reads the
tables in the specs. These tests hold the two to the same codes, statuses and titles,
so neither can drift without a failing test naming the code.
"""

from __future__ import annotations

from lgspecs import documents, tables
from mockserver.errors import BC_CODES, CONNECT_CODES, THINQ_CODES


def test_a_vendor_table_row_and_a_mention_are_both_read() -> None:
    table = "`4000`: Bad Request<br>\n`4101`: Missing or Invalid Parameter(s) in Request Header<br>"
    assert tables.code_rows(table) == {
        "4000": "Bad Request",
        "4101": "Missing or Invalid Parameter(s) in Request Header",
    }
    assert tables.codes_named("`4101` header, `4102` body, `4101` again") == ("4101", "4102")
    assert tables.codes_named(None) == ()


def test_refs_to_shared_responses_are_followed() -> None:
    thinq = tables.operations(documents.thinq_spec(), "thinq")
    control = next(op for op in thinq if op.operation_id == "controlAsync")
    assert control.responses[202] == ("0000",)
    assert "2304" in control.responses[400] and control.responses[504] == ("2209",)


def server_table(catalogue: dict) -> dict[str, tuple[int, str]]:
    return {code: (info.status, info.title) for code, info in catalogue.items()}


def spec_table(document: dict, api: str) -> dict[str, tuple[int, str]]:
    documented = tables.operations(document, api)
    titles = tables.code_titles(document)
    table = {}
    for code, statuses in tables.code_statuses(documented).items():
        assert len(statuses) == 1, f"{api} {code} is documented with {sorted(statuses)}"
        table[code] = (statuses.pop(), titles[code])
    return table


def test_the_business_connect_catalogue_is_the_specs_table() -> None:
    spec = spec_table(documents.repaired_spec(), "bc")
    assert spec == server_table(BC_CODES)


def test_the_thinq_catalogue_is_the_specs_table() -> None:
    spec = spec_table(documents.thinq_spec(), "thinq")
    server = server_table(THINQ_CODES)
    # 0000 is ThinQ's success: the spec documents it on every 202, the server's
    # catalogue of refusals does not hold it.
    assert spec.pop("0000") == (202, "Accepted; one callback per device follows.")
    assert spec == server


def test_the_thinq_connect_catalogue_is_the_specs_table() -> None:
    assert spec_table(documents.connect_spec(), "connect") == server_table(CONNECT_CODES)


def test_push_types_come_from_the_thinq_spec() -> None:
    document = documents.thinq_spec()
    assert "USER_PUSH_SUBSCRIBED" in tables.push_types(document)
    assert tables.message_push_types(document) == ("DEVICE_STATUS", "DEVICE_PUSH")
