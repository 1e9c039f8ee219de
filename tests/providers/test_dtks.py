"""The DTKS register: its own database, full Data API with validation, seeded from residents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from satu.core.db import utcnow
from satu.providers import service as providers
from tests.providers.conftest import FAMILY, GATEWAY_KID, KK
from tests.providers.support import GatewayKeys, Server, send, signed_request

BASE = "/data/rumah-tangga/1.0"
TODAY = utcnow().date()
CHILD = "3273010503129901"  # born 2012-03-05


def call(server: Server, keys: GatewayKeys, method: str, path: str, body: Any = None):
    request = signed_request(
        method, f"{server.url}{path}", key=keys.keys[GATEWAY_KID], kid=GATEWAY_KID, json=body
    )
    return send(request)


def household(kk: str = "3273020101150001", **extra: Any) -> dict:
    return {
        "kkNumber": kk,
        "regionCode": "32.73.02.1001",
        "address": "Jl. Cibaduyut No. 7",
        "welfareDecile": 2,
        "members": [
            {"nik": "3273021708800002", "fullName": "Ujang Suryana", "relation": "head"},
        ],
        "enrolments": [{"programme": "PKH", "startDate": str(TODAY - timedelta(days=30))}],
        **extra,
    }


def family_household(**extra: Any) -> dict:
    return {
        "kkNumber": KK,
        "regionCode": "32.73.01.1001",
        "address": "Jl. Dago No. 5",
        "welfareDecile": 3,
        "members": [
            {"nik": nik, "fullName": name, "relation": rel} for nik, name, _s, _b, rel in FAMILY
        ],
        "enrolments": [
            {"programme": "BPNT", "startDate": "2024-01-15"},
            {"programme": "PIP", "beneficiaryNik": CHILD, "startDate": "2024-07-15"},
            {"programme": "PBI-JK", "beneficiaryNik": FAMILY[0][0], "startDate": "2024-01-15"},
        ],
        **extra,
    }


def create(server, keys, content):  # type: ignore[no-untyped-def]
    return call(server, keys, "POST", f"{BASE}/create", {"write": {"content": content}})


def test_create_read_exists_update(dtks: Server, gateway_keys: GatewayKeys) -> None:
    made = create(dtks, gateway_keys, family_household())
    assert made.status_code == 200, made.text
    record = made.json()["content"]
    assert record["welfareDecile"] == 3
    names = {e["programme"]: e["programmeName"] for e in record["enrolments"]}
    assert names["PIP"] == "Program Indonesia Pintar"
    assert names["BPNT"].startswith("Bantuan Pangan Non-Tunai")
    by_member = {"query": {"content": {"memberNik": CHILD}}}
    read = call(dtks, gateway_keys, "POST", f"{BASE}/read", by_member)
    assert read.json()["content"]["kkNumber"] == KK
    exists = {"query": {"content": {"memberNik": CHILD, "programme": "BPNT"}}}
    answer = call(dtks, gateway_keys, "POST", f"{BASE}/exists", exists).json()
    assert answer == {"answer": {"status": True, "message": "Household found in DTKS"}}
    not_pkh = {"query": {"content": {"kkNumber": KK, "programme": "PKH"}}}
    assert (
        call(dtks, gateway_keys, "POST", f"{BASE}/exists", not_pkh).json()["answer"]["status"]
        is False
    )
    # Update: the decile rises; the BPNT enrolment must end in the same write.
    change = {
        "query": {"content": {"kkNumber": KK}},
        "write": {"content": {"welfareDecile": 7}},
    }
    refused = call(dtks, gateway_keys, "PUT", f"{BASE}/update", change)
    assert refused.status_code == 400
    assert "decile 4 or lower" in str(refused.json())
    enrolments = [
        {"programme": "BPNT", "startDate": "2024-01-15", "status": "ended", "endDate": str(TODAY)},
    ]
    change["write"]["content"]["enrolments"] = enrolments
    updated = call(dtks, gateway_keys, "PUT", f"{BASE}/update", change)
    assert updated.status_code == 200, updated.text
    assert updated.json()["content"]["welfareDecile"] == 7
    again = call(
        dtks, gateway_keys, "POST", f"{BASE}/read", {"query": {"content": {"kkNumber": KK}}}
    )
    assert again.json()["content"]["enrolments"][0]["status"] == "ended"
    assert len(again.json()["content"]["members"]) == 3


def test_validation_refuses_and_stores_nothing(dtks: Server, gateway_keys) -> None:
    cases = {
        "two heads": {
            "members": [
                {"nik": FAMILY[0][0], "fullName": "A A", "relation": "head"},
                {"nik": FAMILY[1][0], "fullName": "B B", "relation": "head"},
            ],
            "enrolments": [],
        },
        "decile": {"welfareDecile": 9},
        "PIP age": {
            "enrolments": [
                {"programme": "PIP", "beneficiaryNik": FAMILY[0][0], "startDate": "2024-01-15"}
            ]
        },
        "not a member": {
            "enrolments": [
                {
                    "programme": "PBI-JK",
                    "beneficiaryNik": "3273011708859902",
                    "startDate": "2024-01-15",
                }
            ]
        },
        "household programme with beneficiary": {
            "enrolments": [
                {"programme": "PKH", "beneficiaryNik": FAMILY[0][0], "startDate": "2024-01-15"}
            ]
        },
        "dates": {
            "enrolments": [
                {
                    "programme": "PKH",
                    "startDate": "2024-01-15",
                    "endDate": "2023-01-01",
                    "status": "ended",
                }
            ]
        },
        "future start": {
            "enrolments": [{"programme": "PKH", "startDate": str(TODAY + timedelta(days=9))}]
        },
        "unknown programme": {"enrolments": [{"programme": "BLT", "startDate": "2024-01-15"}]},
        "bad region": {"regionCode": "32.73"},
        "bad nik": {"members": [{"nik": "1234", "fullName": "A A", "relation": "head"}]},
        "unknown field": {"income": 100},
        "decile range": {"welfareDecile": 11},
    }
    for label, change in cases.items():
        content = {**family_household(kkNumber="3273010101139901"), **change}
        answer = create(dtks, gateway_keys, content)
        assert answer.status_code == 400, (label, answer.text)
        assert answer.json()["errors"], label
    missing = call(
        dtks,
        gateway_keys,
        "POST",
        f"{BASE}/read",
        {"query": {"content": {"kkNumber": "3273010101139901"}}},
    )
    assert missing.status_code == 404 and missing.json() == {"detail": "no record found"}
    assert (
        call(dtks, gateway_keys, "POST", f"{BASE}/read", {"query": {"content": {}}}).status_code
        == 400
    )


def test_conflicts(dtks: Server, gateway_keys: GatewayKeys) -> None:
    first = household(kk="3273020101150002")
    first["members"] = [
        {"nik": "3273021708800001", "fullName": "Asep Saepudin", "relation": "head"}
    ]
    assert create(dtks, gateway_keys, first).status_code == 200
    assert create(dtks, gateway_keys, first).status_code == 409
    second = {**first, "kkNumber": "3273020101150003"}
    answer = create(dtks, gateway_keys, second)
    assert answer.status_code == 409 and "another household" in answer.json()["detail"]
    update = {"query": {"content": {"kkNumber": "3273020101159999"}}, "write": {"content": {}}}
    assert call(dtks, gateway_keys, "PUT", f"{BASE}/update", update).status_code == 404
    rekey = {
        "query": {"content": {"kkNumber": "3273020101150002"}},
        "write": {"content": {"kkNumber": "3273020101150009"}},
    }
    assert call(dtks, gateway_keys, "PUT", f"{BASE}/update", rekey).status_code == 400
    no_query = {"write": {"content": {"welfareDecile": 3}}}
    assert call(dtks, gateway_keys, "PUT", f"{BASE}/update", no_query).status_code == 400


def test_list_filters_search_and_pages(dtks: Server, gateway_keys: GatewayKeys) -> None:
    for n in range(4):
        content = household(kk=f"32730301011600{n:02d}")
        content["regionCode"] = "32.73.03.1001"
        content["welfareDecile"] = n + 1
        content["address"] = f"Gang Mawar {n}"
        content["members"] = [
            {"nik": f"32730317088000{n + 10:02d}", "fullName": "Dadang Sunarya", "relation": "head"}
        ]
        content["enrolments"] = [{"programme": "PKH", "startDate": "2024-02-01"}] if n < 2 else []
        assert create(dtks, gateway_keys, content).status_code == 200
    page = call(dtks, gateway_keys, "GET", f"{BASE}?query.regionCode=32.73.03&pageSize=3").json()
    assert page["count"] == 4 and len(page["results"]) == 3 and "page=2" in page["next"]
    assert [r["kkNumber"] for r in page["results"]] == sorted(
        r["kkNumber"] for r in page["results"]
    )
    desc = call(
        dtks, gateway_keys, "GET", f"{BASE}?query.regionCode=32.73.03&ordering=descending"
    ).json()
    assert desc["results"][0]["kkNumber"] == "3273030101160003"
    poor = call(
        dtks, gateway_keys, "GET", f"{BASE}?query.regionCode=32.73.03&query.welfareDecile=1-2"
    ).json()
    assert poor["count"] == 2
    pkh = call(
        dtks, gateway_keys, "GET", f"{BASE}?query.regionCode=32.73.03&query.programme=PKH"
    ).json()
    assert pkh["count"] == 2
    found = call(dtks, gateway_keys, "GET", f"{BASE}?search=mawar%202&filter=address").json()
    assert [r["kkNumber"] for r in found["results"]] == ["3273030101160002"]
    wild = call(dtks, gateway_keys, "GET", f"{BASE}?search=%25").json()
    assert wild["count"] == 0  # '%' is a character, not a wildcard
    for bad in (
        "query.welfareDecile=0-3",
        "query.programme=BLT",
        "filter=address",
        "search=x&filter=members",
        "query.regionCode=abc",
        "page=0",
        "ordering=up",
        "query.secret=1",
    ):
        assert call(dtks, gateway_keys, "GET", f"{BASE}?{bad}").status_code == 400, bad


def test_seeded_from_the_population_register(db, family, tmp_dtks: str) -> None:
    from satu.core.db import make_sessionmaker
    from satu.providers.dtks.tables import dtks_engine

    factory = make_sessionmaker(dtks_engine(tmp_dtks))
    result = providers.seed_dtks(session=db, kk_numbers=[KK, "3273019999999999"], factory=factory)
    assert result["households added"] == 1 and result["households"] == 1
    again = providers.seed_dtks(session=db, kk_numbers=[KK], factory=factory)
    assert again["households added"] == 0 and again["households"] == 1
    from satu.providers.dtks import registry

    with factory() as session:
        found = registry.find(session=session, match=registry.HouseholdMatch(kkNumber=KK))
        assert found is not None
        assert sorted(m.nik for m in found.members) == sorted(nik for nik, *_ in FAMILY)
        assert found.region_code == "32.73.01.1001"
        for enrolment in found.enrolments:
            assert found.welfare_decile <= 5
            if enrolment.programme == "PIP":
                assert enrolment.beneficiary_nik == CHILD
