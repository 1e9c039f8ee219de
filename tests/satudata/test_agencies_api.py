"""`/api/v1/agencies`: shapes, filters, pagination and problems."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PROBLEM_JSON = "application/problem+json"


def test_list_shape_and_pagination(client: TestClient) -> None:
    response = client.get("/api/v1/agencies", params={"kind": "ministry", "limit": 5})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    page = response.json()
    assert set(page) == {"items", "total", "limit", "offset", "next"}
    assert (page["limit"], page["offset"]) == (5, 0)
    assert len(page["items"]) == 5 and page["total"] > 5
    first = page["items"][0]
    assert first["id"] == "kemendagri"
    assert first["links"] == {
        "self": "/api/v1/agencies/kemendagri",
        "parent": None,
        "children": "/api/v1/agencies?parent=kemendagri",
        "region": None,
    }
    assert (first["member_class"], first["member_code"]) == ("GOV", "kemendagri")

    following = client.get(page["next"])
    assert following.status_code == 200
    second = following.json()
    assert second["offset"] == 5 and second["limit"] == 5
    assert all(item["kind"] == "ministry" for item in second["items"])
    assert not {i["id"] for i in page["items"]} & {i["id"] for i in second["items"]}


def test_last_page_has_no_next(client: TestClient) -> None:
    page = client.get("/api/v1/agencies", params={"parent": "kemenkeu", "limit": 100}).json()
    assert page["next"] is None
    assert {item["id"] for item in page["items"]} >= {"kemenkeu.pajak", "kemenkeu.bea-cukai"}


def test_list_by_region_and_text(client: TestClient) -> None:
    page = client.get("/api/v1/agencies", params={"region": "11.01", "limit": 10}).json()
    assert [item["id"] for item in page["items"]] == [
        "kab-11.01",
        "kab-11.01.dinsos",
        "kab-11.01.disdukcapil",
    ]
    found = client.get("/api/v1/agencies", params={"q": "Ditjen Dukcapil"}).json()
    assert [item["id"] for item in found["items"]] == ["kemendagri.dukcapil"]
    found = client.get("/api/v1/agencies", params={"q": "Badan Pusat Statistik"}).json()
    assert [item["id"] for item in found["items"]] == ["bps"]


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "kementerian"},
        {"parent": "Bukan Id!"},
        {"region": "11.1"},
        {"region": "110101"},
        {"q": "x" * 101},
        {"limit": 0},
        {"limit": 101},
        {"limit": "dua puluh"},
        {"offset": -1},
        {"offset": 100_001},
    ],
)
def test_bad_list_parameters_are_problems(client: TestClient, params: dict[str, object]) -> None:
    response = client.get("/api/v1/agencies", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"].endswith("/problems/validation-error")
    assert body["errors"][0]["location"][0] == "query"


def test_detail_of_a_local_office(client: TestClient) -> None:
    response = client.get("/api/v1/agencies/kab-11.01.disdukcapil")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    body = response.json()
    assert body["name"] == "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Aceh Selatan"
    assert body["kind"] == "unit"
    assert body["parent"] == {
        "id": "kab-11.01",
        "name": "Pemerintah Kabupaten Aceh Selatan",
        "short_name": "Pemkab Aceh Selatan",
        "kind": "regency",
    }
    assert [a["id"] for a in body["ancestors"]] == ["prov-11", "kab-11.01"]
    assert body["children_count"] == 0
    assert body["region"] == {
        "code": "11.01",
        "name": "Kabupaten Aceh Selatan",
        "level": 2,
        "kind": "regency",
    }
    assert body["links"]["region"] == "/api/v1/regions/11.01"
    assert body["links"]["parent"] == "/api/v1/agencies/kab-11.01"


def test_detail_of_a_ministry_and_a_province(client: TestClient) -> None:
    ministry = client.get("/api/v1/agencies/kemendagri").json()
    assert ministry["parent"] is None and ministry["ancestors"] == []
    assert ministry["region"] is None and ministry["children_count"] >= 1
    assert ministry["website"] == "https://www.kemendagri.go.id"
    unit = client.get("/api/v1/agencies/kemendagri.dukcapil").json()
    assert unit["short_name"] == "Ditjen Dukcapil"
    assert unit["parent"]["id"] == "kemendagri"
    province = client.get("/api/v1/agencies/prov-32").json()
    assert province["children_count"] == 27  # 18 kabupaten, 9 kota in Jawa Barat
    assert province["region"]["kind"] == "province"
    children = client.get(province["links"]["children"] + "&limit=100").json()
    assert children["total"] == 27


@pytest.mark.parametrize("agency_id", ["tidak-ada", "KEMENSOS", "kab-99.99", "a" * 65])
def test_unknown_agency_is_a_404_problem(client: TestClient, agency_id: str) -> None:
    response = client.get(f"/api/v1/agencies/{agency_id}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"].endswith("/problems/not-found")
    assert body["agency_id"] == agency_id
    assert "cache-control" not in {key.lower() for key in response.headers} or (
        response.headers["cache-control"] != "public, max-age=3600"
    )


def test_agency_for_region(client: TestClient) -> None:
    response = client.get("/api/v1/agencies/for-region/11.01.01.2001")
    assert response.status_code == 200
    assert response.json()["id"] == "kab-11.01"
    assert client.get("/api/v1/agencies/for-region/32").json()["id"] == "prov-32"


def test_agency_for_region_problems(client: TestClient) -> None:
    malformed = client.get("/api/v1/agencies/for-region/11.1")
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == PROBLEM_JSON
    unknown = client.get("/api/v1/agencies/for-region/11.99")
    assert unknown.status_code == 404
    assert unknown.json()["region_code"] == "11.99"


def test_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {
        "/api/v1/agencies",
        "/api/v1/agencies/{agency_id}",
        "/api/v1/agencies/for-region/{code}",
    } <= set(paths)
