"""Region lookup and search: service, JSON API and the /wilayah page, on the real data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.satudata import service

PROBLEM = "application/problem+json"


def test_get_region_with_population_and_kind(db: Session) -> None:
    city = service.get_region(session=db, code="32.73")
    assert (city.name, city.level, city.kind, city.parent_code) == ("Kota Bandung", 2, "city", "32")
    assert city.population is not None
    assert city.population.total == city.population.male + city.population.female > 2_000_000
    regency = service.get_region(session=db, code="32.04")
    assert (regency.name, regency.kind) == ("Kabupaten Bandung", "regency")
    assert service.get_region(session=db, code="32").kind == "province"
    assert service.get_region(session=db, code="32.73.01").population is None


def test_village_kinds(db: Session) -> None:
    assert service.get_region(session=db, code="32.73.01.1001").kind == "kelurahan"
    assert service.get_region(session=db, code="11.01.01.2001").kind == "desa"
    assert service.get_region(session=db, code="91.03.01.3007").kind == "desa"


def test_names_are_trimmed(db: Session) -> None:
    assert service.get_region(session=db, code="31.72").name == "Kota Administrasi Jakarta Utara"


def test_unknown_and_malformed_codes(db: Session) -> None:
    with pytest.raises(Problem) as unknown:
        service.get_region(session=db, code="99.99")
    assert unknown.value.status == 404
    with pytest.raises(Problem) as malformed:
        service.get_region(session=db, code="32-73")
    assert malformed.value.status == 422
    assert not service.is_region(session=db, code="99")
    assert not service.is_region(session=db, code="not a code")
    assert service.is_region(session=db, code="32.73.01.1001")


def test_region_path_goes_from_province_down(db: Session) -> None:
    path = service.region_path(session=db, code="32.73.01.1001")
    assert [r.code for r in path] == ["32", "32.73", "32.73.01", "32.73.01.1001"]
    assert [r.level for r in path] == [1, 2, 3, 4]


def test_regency_populations(db: Session) -> None:
    rows = service.regency_populations(session=db)
    assert len(rows) == 514
    assert ("32.73", 1298551, 1293212) in rows
    assert all(code.count(".") == 1 and male > 0 and female > 0 for code, male, female in rows)


def test_all_levels_counted(db: Session) -> None:
    totals = {
        level: service.search_regions(session=db, level=level).total for level in (1, 2, 3, 4)
    }
    assert totals == {1: 38, 2: 514, 3: 7285, 4: 83762}
    assert service.search_regions(session=db).total == 91599


def test_children_of_a_parent_in_code_order(db: Session) -> None:
    page = service.search_regions(session=db, parent="34.04", limit=100)
    assert page.total == 17
    codes = [r.code for r in page.items]
    assert codes == sorted(codes)
    assert all(r.parent_code == "34.04" and r.level == 3 for r in page.items)


@pytest.mark.parametrize("q", ["32.73", "3273", "32.73."])
def test_code_prefix_search(db: Session, q: str) -> None:
    page = service.search_regions(session=db, q=q, limit=100)
    assert page.items[0].code.startswith("32.73")
    assert all(r.code.startswith("32.73") for r in page.items)
    expected = 182 if q != "32.73." else 181
    assert page.total == expected


def test_digits_only_code_is_dotted(db: Session) -> None:
    page = service.search_regions(session=db, q="327301")
    assert page.items[0].code == "32.73.01"


def test_name_search_puts_word_matches_and_bigger_regions_first(db: Session) -> None:
    page = service.search_regions(session=db, q="Bandung", limit=5)
    assert [r.name for r in page.items[:3]] == [
        "Kabupaten Bandung",
        "Kabupaten Bandung Barat",
        "Kota Bandung",
    ]
    assert page.total > 50


def test_name_search_is_case_and_space_insensitive(db: Session) -> None:
    one = service.search_regions(session=db, q="  SLEMAN ")
    two = service.search_regions(session=db, q="sleman")
    assert one == two
    assert one.items[0].name == "Kabupaten Sleman"


def test_substring_matches_come_after_word_matches(db: Session) -> None:
    page = service.search_regions(session=db, q="sari", limit=100, level=3)
    assert page.total <= 100
    names = [r.name.lower() for r in page.items]
    word = [n for n in names if n.startswith("sari") or " sari" in n]
    assert word and names[: len(word)] == word
    assert "sukasari" in names[len(word) :]
    assert all("sari" in n for n in names)


def test_short_query_is_a_prefix_search(db: Session) -> None:
    page = service.search_regions(session=db, q="ba", limit=100)
    assert all(r.name.lower().startswith("ba") for r in page.items)
    assert page.items[0].level == 1


def test_level_and_parent_filters_combine_with_q(db: Session) -> None:
    page = service.search_regions(session=db, q="sari", parent="32.73")
    assert [r.name for r in page.items] == ["Rancasari", "Sukasari"]
    page = service.search_regions(session=db, q="sari", level=3, limit=100)
    assert all(r.level == 3 for r in page.items)


def test_like_wildcards_are_literal(db: Session) -> None:
    assert service.search_regions(session=db, q="%%%").total == 0
    assert service.search_regions(session=db, q="a_b").total == 0
    assert service.search_regions(session=db, q="\\").total == 0


def test_apostrophes_are_normalised(db: Session) -> None:
    page = service.search_regions(session=db, q="regapu'u")
    assert [r.name for r in page.items] == ["Regapu’u"]


def test_pages_do_not_overlap(db: Session) -> None:
    first = service.search_regions(session=db, q="sari", limit=10)
    second = service.search_regions(session=db, q="sari", limit=10, offset=10)
    assert not {r.code for r in first.items} & {r.code for r in second.items}
    beyond = service.search_regions(session=db, q="sari", offset=100_000)
    assert beyond.items == [] and beyond.total == first.total


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"offset": 100_001},
        {"level": 5},
        {"q": "x" * 101},
        {"parent": "abc"},
    ],
)
def test_bad_search_arguments_are_422(db: Session, kwargs: dict[str, object]) -> None:
    with pytest.raises(Problem) as caught:
        service.search_regions(session=db, **kwargs)  # type: ignore[arg-type]
    assert caught.value.status == 422


def test_unknown_parent_is_404(db: Session) -> None:
    with pytest.raises(Problem) as caught:
        service.search_regions(session=db, parent="99.99")
    assert caught.value.status == 404


# --- HTTP ------------------------------------------------------------------------------------


def test_api_search_page_shape(client: TestClient) -> None:
    response = client.get("/api/v1/regions", params={"q": "bandung", "limit": 2})
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public")
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset", "next"}
    assert (body["limit"], body["offset"]) == (2, 0)
    assert body["next"] == "/api/v1/regions?q=bandung&limit=2&offset=2"
    item = body["items"][0]
    assert item == {
        "code": "32.04",
        "name": "Kabupaten Bandung",
        "level": 2,
        "kind": "regency",
        "parent_code": "32",
        "population": item["population"],
        "links": {
            "self": "/api/v1/regions/32.04",
            "children": "/api/v1/regions?parent=32.04",
            "parent": "/api/v1/regions/32",
        },
    }
    assert set(item["population"]) == {"male", "female", "total"}


def test_api_follow_next_to_the_end(client: TestClient) -> None:
    url: str | None = "/api/v1/regions?parent=34.04.13&limit=2"
    seen: list[str] = []
    while url:
        body = client.get(url).json()
        seen.extend(item["code"] for item in body["items"])
        url = body["next"]
    assert len(seen) == len(set(seen)) == body["total"]


def test_api_village_has_no_children_link(client: TestClient) -> None:
    body = client.get("/api/v1/regions", params={"q": "32.73.01.1001"}).json()
    assert body["items"][0]["links"]["children"] is None
    assert body["items"][0]["population"] is None
    assert body["next"] is None


def test_api_region_detail(client: TestClient) -> None:
    response = client.get("/api/v1/regions/32.73.01")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Sukasari"
    assert [a["code"] for a in body["ancestors"]] == ["32", "32.73"]
    assert body["children_count"] == 4
    assert body["links"]["parent"] == "/api/v1/regions/32.73"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/regions/99.99", 404),
        ("/api/v1/regions/3x", 422),
        ("/api/v1/regions?limit=0", 422),
        ("/api/v1/regions?limit=1000000", 422),
        ("/api/v1/regions?limit=99999999999999999999999", 422),
        ("/api/v1/regions?limit=ten", 422),
        ("/api/v1/regions?offset=-5", 422),
        ("/api/v1/regions?offset=100001", 422),
        ("/api/v1/regions?level=0", 422),
        ("/api/v1/regions?parent=99", 404),
        ("/api/v1/regions?parent=a.b", 422),
        ("/api/v1/regions?q=" + "x" * 101, 422),
    ],
)
def test_api_bad_requests_are_problems(client: TestClient, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status


def test_page_lists_provinces_by_default(client: TestClient) -> None:
    response = client.get("/wilayah", params={"lang": "id"})
    assert response.status_code == 200
    assert "Aceh" in response.text and "Papua" in response.text
    assert "Menampilkan 1-38 dari 38" in response.text


def test_page_drills_down_with_breadcrumbs(client: TestClient) -> None:
    response = client.get("/wilayah", params={"parent": "34.04.13", "lang": "en"})
    assert response.status_code == 200
    text = response.text
    assert 'aria-label="Breadcrumb"' in text
    for name in ("Daerah Istimewa Yogyakarta", "Kabupaten Sleman", "Sleman"):
        assert name in text
    assert "Regions in Sleman" in text


def test_page_search_results_and_paging(client: TestClient) -> None:
    response = client.get("/wilayah", params={"q": "sari", "lang": "en"})
    assert response.status_code == 200
    assert "Results for “sari”" in response.text
    assert 'rel="next"' in response.text
    second = client.get("/wilayah", params={"q": "sari", "offset": "50"})
    assert 'rel="prev"' in second.text


def test_page_no_match_and_bad_input(client: TestClient) -> None:
    none = client.get("/wilayah", params={"q": "zzzzqqq", "lang": "en"})
    assert none.status_code == 200
    assert "No region matches your search" in none.text
    long = client.get("/wilayah", params={"q": "x" * 500, "lang": "en"})
    assert long.status_code == 422
    assert "at most 100 characters" in long.text
    odd = client.get("/wilayah", params={"offset": "-3"})
    assert odd.status_code == 200


def test_page_unknown_parent_is_a_friendly_404(client: TestClient) -> None:
    response = client.get("/wilayah", params={"parent": "x"}, headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "<html" in response.text
