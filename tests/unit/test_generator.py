"""`lgmock scenario generate`'s module: valid fleets, the same for the same seed."""

from __future__ import annotations

import re

import pytest
import yaml

from mockserver import generator, scenario


def text(document: dict) -> str:
    return "".join(generator.write(document))


def test_the_same_seed_writes_the_same_file_and_another_seed_another() -> None:
    first = text(generator.generate(300, users=7, partners=2, countries=("KR", "US"), seed=5))
    again = text(generator.generate(300, users=7, partners=2, countries=("KR", "US"), seed=5))
    other = text(generator.generate(300, users=7, partners=2, countries=("KR", "US"), seed=6))
    assert first == again
    assert first != other


def test_a_generated_fleet_loads_with_every_device_owner_and_dr_enrolment() -> None:
    document = generator.generate(400, users=9, partners=3, countries=("KR", "US"), seed=2)
    written = text(document)
    assert yaml.safe_load(written) == document  # JSON syntax is YAML
    sandbox = scenario.load(scenario.parse(written, "fleet.yaml"), "fleet.yaml")
    assert sandbox.devices.count() == 400
    assert len(sandbox.accounts.users) == 9 and len(sandbox.accounts.partners) == 3
    assert set(sandbox.dr.users) == set(sandbox.accounts.users)
    for entry in document["devices"]:
        assert re.fullmatch(r"[0-9a-f]{64}", entry["deviceId"])  # the ThinQ form
        user = sandbox.accounts.users[entry["owner"]]
        # A device is registered to the partner its owner is enrolled with in DR.
        assert entry["registeredTo"] == [sandbox.dr.users[user.user_number].partner_id]
    # Every user reaches its devices through ThinQ Connect too, with a PAT of its own.
    pats = [user.pat for user in sandbox.accounts.users.values()]
    assert len(set(pats)) == 9 and all(p and p.startswith("thinqpat_") for p in pats)
    first = next(iter(sandbox.accounts.users.values()))
    assert sandbox.accounts.find_user_by_pat(first.pat) is first


def test_aliases_follow_the_owner_s_country_and_models_are_lg_s() -> None:
    document = generator.generate(40, users=2, countries=("KR", "US"), seed=3)
    for entry in document["devices"]:
        korean = re.search(r"[\uac00-\ud7a3]", entry["alias"]) is not None
        assert korean == entry["owner"].startswith("KR"), entry["alias"]
        assert entry["modelName"] in generator.KINDS[entry["deviceType"]].models


def test_types_are_chosen_by_device_type_or_fixture_folder() -> None:
    types = generator.resolve_types(["washer,DEVICE_AIR_CONDITIONER", "dryer"])
    assert types == ("DEVICE_WASHER", "DEVICE_AIR_CONDITIONER", "DEVICE_DRYER")
    document = generator.generate(6, types=types, seed=1)
    assert [d["deviceType"] for d in document["devices"]] == list(types) * 2
    with pytest.raises(generator.GeneratorError, match="unknown device type 'toaster'"):
        generator.resolve_types(["toaster"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"devices": -1}, "--devices"),
        ({"devices": 5, "partners": 0}, "--partners"),
        ({"devices": 5, "users": 0}, "--users"),
        ({"devices": 5, "countries": ("Korea",)}, "--country"),
    ],
)
def test_options_that_cannot_make_a_fleet_are_refused(options: dict, message: str) -> None:
    count = options.pop("devices")
    with pytest.raises(generator.GeneratorError, match=message):
        generator.generate(count, **options)


def test_block_yaml_is_the_same_document() -> None:
    document = generator.generate(12, users=2, seed=4)
    assert yaml.safe_load("".join(generator.write(document, "yaml"))) == document
