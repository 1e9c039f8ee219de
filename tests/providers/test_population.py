"""The population register over the GovStack Data API, called with signed requests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.providers.conftest import FAMILY, GATEWAY_KID, KK
from tests.providers.support import GatewayKeys, Server, send, signed_request


def call(server: Server, keys: GatewayKeys, method: str, path: str, body: Any = None):
    request = signed_request(
        method, f"{server.url}{path}", key=keys.keys[GATEWAY_KID], kid=GATEWAY_KID, json=body
    )
    return send(request)


def q(**content: Any) -> dict[str, Any]:
    return {"query": {"content": content}}


def test_read_a_resident_by_nik(population: Server, gateway_keys: GatewayKeys) -> None:
    answer = call(population, gateway_keys, "POST", "/data/penduduk/1.0/read", q(nik=FAMILY[1][0]))
    assert answer.status_code == 200
    person = answer.json()["content"]
    assert person["fullName"] == "Dewi Lestari"
    assert person["birthDate"] == "1990-08-17"
    assert person["kkNumber"] == KK
    assert person["address"]["regency"]["code"] == "32.73"
    assert person["address"]["regency"]["name"]
    assert "phone" not in person and "email" not in person


def test_read_answers_the_templates_404(population: Server, gateway_keys) -> None:
    answer = call(
        population, gateway_keys, "POST", "/data/penduduk/1.0/read", q(nik="3273011708859999")
    )
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no record found"}
    # Every other field given must match too.
    wrong = q(nik=FAMILY[0][0], fullName="Someone Else")
    assert (
        call(population, gateway_keys, "POST", "/data/penduduk/1.0/read", wrong).status_code == 404
    )


def test_exists_verifies_attributes_without_disclosing(population, gateway_keys) -> None:
    nik = FAMILY[0][0]
    same = q(nik=nik, fullName="  agus   PRASETYO ", birthDate="1985-08-17")
    answer = call(population, gateway_keys, "POST", "/data/penduduk/1.0/exists", same)
    assert answer.json() == {"answer": {"status": True, "message": "Resident found"}}
    other = q(nik=nik, birthDate="1985-08-18")
    answer = call(population, gateway_keys, "POST", "/data/penduduk/1.0/exists", other)
    assert answer.json()["answer"]["status"] is False


def test_list_a_family_card_page_by_page(population: Server, gateway_keys) -> None:
    answer = call(
        population, gateway_keys, "GET", f"/data/penduduk/1.0?query.kkNumber={KK}&pageSize=2"
    )
    assert answer.status_code == 200
    page = answer.json()
    assert page["count"] == 3
    assert [p["familyRelation"] for p in page["results"]] == ["head", "spouse"]
    assert page["previous"] is None
    assert page["next"].startswith("?") and "page=2" in page["next"]
    second = call(population, gateway_keys, "GET", f"/data/penduduk/1.0{page['next']}").json()
    assert [p["familyRelation"] for p in second["results"]] == ["child"]
    assert second["next"] is None and second["previous"]


def test_the_register_is_never_listed_or_searched_in_bulk(population, gateway_keys) -> None:
    for path in ("/data/penduduk/1.0", "/data/penduduk/1.0?search=Agus", "/data/keluarga/1.0"):
        answer = call(population, gateway_keys, "GET", path)
        assert answer.status_code == 400, path
        assert "bulk" in answer.json()["detail"]
    unknown = call(population, gateway_keys, "GET", "/data/penduduk/1.0?query.fullName=Agus")
    assert unknown.status_code == 400
    assert "unknown query parameter" in unknown.json()["detail"]


def test_a_nik_is_never_taken_from_a_url(population: Server, gateway_keys) -> None:
    """NIK lookups are POST-only (read/exists bodies); `list` refuses `query.nik` and says why."""
    nik = FAMILY[0][0]
    for path in (
        f"/data/penduduk/1.0?query.nik={nik}",
        f"/data/penduduk/1.0?query.kkNumber={KK}&query.nik={nik}",
    ):
        answer = call(population, gateway_keys, "GET", path)
        assert answer.status_code == 400, path
        detail = answer.json()["detail"]
        assert "URL" in detail and "/data/penduduk/1.0/read" in detail
        assert nik not in detail
    answer = call(population, gateway_keys, "POST", "/data/penduduk/1.0/exists", q(nik=nik))
    assert answer.json()["answer"]["status"] is True


def test_family_cards(population: Server, gateway_keys: GatewayKeys) -> None:
    answer = call(population, gateway_keys, "POST", "/data/keluarga/1.0/read", q(kkNumber=KK))
    card = answer.json()["content"]
    assert [m["nik"] for m in card["members"]] == [nik for nik, *_ in FAMILY]
    assert card["address"]["village"]["code"] == "32.73.01.1001"
    listed = call(population, gateway_keys, "GET", f"/data/keluarga/1.0?query.kkNumber={KK}")
    assert listed.json()["count"] == 1
    missing = q(kkNumber="3273010101129999")
    answer = call(population, gateway_keys, "POST", "/data/keluarga/1.0/exists", missing)
    assert answer.json()["answer"]["status"] is False


def test_writes_are_refused_with_the_reason(population: Server, gateway_keys) -> None:
    create = {"write": {"content": {"nik": "3273011708859902", "fullName": "X"}}}
    answer = call(population, gateway_keys, "POST", "/data/penduduk/1.0/create", create)
    assert answer.status_code == 403
    assert "Dukcapil" in answer.json()["detail"] and "UU 24/2013" in answer.json()["detail"]
    update = {"query": {"content": {"nik": FAMILY[0][0]}}, "write": {"content": {"fullName": "Y"}}}
    answer = call(population, gateway_keys, "PUT", "/data/penduduk/1.0/update", update)
    assert answer.status_code == 403


def test_bad_requests_are_400_with_every_field(population: Server, gateway_keys) -> None:
    bad = q(nik="12345", sex="X", shoeSize=44)
    answer = call(population, gateway_keys, "POST", "/data/penduduk/1.0/read", bad)
    assert answer.status_code == 400
    where = {tuple(e["location"]) for e in answer.json()["errors"]}
    assert ("query", "content", "nik") in where
    assert ("query", "content", "sex") in where
    assert ("query", "content", "shoeSize") in where
    for body in ({"query": {}}, {"nothing": 1}, [1, 2]):
        answer = call(population, gateway_keys, "POST", "/data/penduduk/1.0/read", body)
        assert answer.status_code == 400, body
    request = signed_request(
        "POST",
        f"{population.url}/data/penduduk/1.0/read",
        key=gateway_keys.keys[GATEWAY_KID],
        kid=GATEWAY_KID,
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert send(request).status_code == 400
    assert (
        call(
            population, gateway_keys, "GET", "/data/penduduk/1.0?pageSize=1000&query.kkNumber=" + KK
        ).status_code
        == 400
    )


def test_the_openapi_document_describes_the_data_api(population: Server) -> None:
    document = httpx.get(f"{population.url}/openapi.json").json()
    assert document["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert ("POST", "/data/penduduk/1.0/read") in ops
    assert ("GET", "/data/keluarga/1.0") in ops
    assert ("PUT", "/data/penduduk/1.0/update") in ops
    # NIKs go in POST bodies only: no operation takes one in its path or query string.
    listing = document["paths"]["/data/penduduk/1.0"]["get"]
    assert "query.kkNumber" in listing["description"]
    assert "query.nik" not in listing["description"]
    assert not [p for p in document["paths"] if "nik" in p.lower()]
