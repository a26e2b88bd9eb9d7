"""``GET /v1/roster`` is serialized straight from the view's rows (no model per row): byte for byte
what ``AsOfPage[PairingItem]`` serializes from the decoded rows, on both stores, page after page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from api.asof import AsOfPage
from api.reads import Paging
from api.routers.roster import PairingItem, pairing_cursor, pairings_json
from tests.conftest import Clock
from tests.harness import Harness, harness


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock, projections=True) as made:
        yield made


def modelled(rows: Any, pages: Paging) -> bytes:
    """The page as the route serialized it before: a model per row, then the page model."""
    chosen, cursor = pages.window(rows, pairing_cursor)
    items = [PairingItem.model_validate(r, from_attributes=True) for r in chosen]
    page = AsOfPage[PairingItem](items=items, next_cursor=cursor, position=0, lag=0, projection_state="caught_up")
    return page.__pydantic_serializer__.to_json(
        page, exclude={"position", "lag", "projection_state", "projection_reason"}
    )


def test_pages_serialized_from_the_rows_are_those_the_models_serialize(api: Harness) -> None:
    paired = [api.staff.pair(date(2026, 1, day)) for day in range(1, 6)]
    other = api.staff.elder("涟城镇")
    api.staff.pairing(paired[0][0], other, date(2026, 1, 9))
    departed = paired[1][1]
    api.staff.post(f"/v1/elders/{departed}/departure", {"kind": "moved_away", "date": "2026-02-20"}, "coordinator")
    head = api.events()
    assert api.client.get(f"/v1/roster?after={head}", headers=api.staff.auth("auditor")).status_code == 200
    reads = api.services.reads
    assert reads is not None
    view = reads.view("roster")
    for limit in (1, 2, 3, 50):
        pages = Paging(limit, None, "0123456789abcdef")
        seen = 0
        while True:
            after = pages.after_key()
            key = None if after is None else (after[0], after[1], after[2], UUID(after[3]), UUID(after[4]))
            rows = view.pairings(after=key, limit=limit + 1)
            values = view.pairings(after=key, limit=limit + 1, as_values=True)
            assert rows.position == values.position
            fast = pairings_json(values.rows, pages)
            assert fast == modelled(rows.rows, pages)
            seen += min(limit, len(rows.rows))
            cursor = (
                AsOfPage[PairingItem]
                .model_validate_json(b'{"position":0,"lag":0,"projection_state":"x",' + fast[1:])
                .next_cursor
            )
            if cursor is None:
                break
            pages = Paging(limit, cursor, pages.scope)
        assert seen == 6


def test_the_route_answers_departed_elders_and_pages(api: Harness) -> None:
    for day in range(1, 4):
        api.staff.pair(date(2026, 1, day))
    departing = api.staff.pair(date(2026, 1, 5))[1]
    api.staff.post(f"/v1/elders/{departing}/departure", {"kind": "moved_away", "date": "2026-02-20"}, "coordinator")
    head = api.events()
    auth = api.staff.auth("auditor")
    whole = api.client.get(f"/v1/roster?after={head}", headers=auth).json()
    assert len(whole["items"]) == 4 and whole["next_cursor"] is None and whole["position"] == head
    assert [i["elder_departed_on"] for i in whole["items"] if i["elder_id"] == departing] == ["2026-02-20"]
    items, cursor = [], None
    while True:
        path = "/v1/roster?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = api.client.get(path, headers={**auth, "Cache-Control": "no-cache"}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert items == whole["items"]
