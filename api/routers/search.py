"""Finding a person by name or phone: elders (coordinator) and volunteers (coordinator, auditor, evaluator).

Names and phones are sealed per person in the ledger (``docs/design.md``, "Personal data"), and
no read model copies them, so there is no index to search: the search reads the people of one
county from the roster (their ids and townships) and opens each from the ledger, which decrypts
the name and phone, and keeps those that match. Its cost is therefore one county's people, not the
log's length: about 0.4 s for the demo county's 429 elders and 60 volunteers on SQLite (measured;
later searches of the same people come from the ledger's cache). With more than one county in the
store ``county`` is required, so a search never walks a province. A forgotten person is never found.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.problems import BadRequest, Forbidden
from api.reads import ReadMeta, ViewRead, view_reader
from api.schemas import Text, errors, examples
from api.service import load
from ledger.elders import Elder
from ledger.personal import FORGOTTEN
from ledger.volunteers import Volunteer

router = APIRouter(prefix="/v1/search", tags=["search"])

SearchRead = Annotated[ViewRead, Depends(view_reader("roster", "coordinator", "auditor", "evaluator"))]
ELDER_NAME_READERS = ("coordinator",)
MAX_FOUND = 50


class PersonFound(BaseModel):
    kind: Literal["elder", "volunteer"]
    id: UUID
    name: str
    phone: str
    county: str
    township: str

    model_config = examples(
        {
            "kind": "elder", "id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11", "name": "王德明", "phone": "13805170000",
            "county": "lianshui", "township": "高沟镇",
        }
    )  # fmt: skip


class SearchOut(ReadMeta):
    items: Annotated[list[PersonFound], Field(description=f"at most {MAX_FOUND}, elders first")]
    truncated: Annotated[bool, Field(description="more matched than were returned: narrow the search")]

    model_config = examples(
        {
            "position": 42578, "lag": 0, "projection_state": "caught_up", "truncated": False,
            "items": [
                {
                    "kind": "elder", "id": "0b0e6f0a-7a43-4b9e-9a53-3f1b0d2c1e11", "name": "王德明",
                    "phone": "13805170000", "county": "lianshui", "township": "高沟镇",
                }
            ],
        }
    )  # fmt: skip


def matches(query: str, name: str, phone: str) -> bool:
    """A part of the name, or of the phone's digits (``5170`` finds 13805170000)."""
    if name == FORGOTTEN:
        return False
    digits = "".join(c for c in query if c.isdigit())
    return query in name or (len(digits) >= 3 and digits == query.replace(" ", "") and digits in phone)


@router.get("", response_model=SearchOut, responses=errors(400))
async def search(
    read: SearchRead,
    q: Annotated[Text, Query(min_length=1, max_length=40, description="part of a name, or 3+ digits of a phone")],
    county: Annotated[
        Text | None, Query(description="one county's code (required when the store holds several)")
    ] = None,
    kind: Annotated[Literal["elder", "volunteer"] | None, Query(description="only elders or only volunteers")] = None,
) -> SearchOut:
    """Elders (coordinator) and volunteers (coordinator, auditor, evaluator) whose name or phone matches."""
    query = q.strip()
    if not query:
        raise BadRequest("say what to search for: part of a name or of a phone", field="query.q")
    role = read.principal.role
    if kind == "elder" and role not in ELDER_NAME_READERS:
        raise Forbidden("only a coordinator's key reads elders' names", role=role)
    return await run_in_threadpool(find, read, query, county, kind)


def find(read: ViewRead, query: str, county: str | None, kind: str | None) -> SearchOut:
    roster = read.view()
    elders = roster.elders(county=county)
    volunteers = roster.loads(county=county)
    counties = {e.county for e in elders.rows} | {v.county for v in volunteers.rows}
    if county is None and len(counties) > 1:
        raise BadRequest(f"the store holds {len(counties)} counties: name one with ?county=", field="query.county")
    found: list[PersonFound] = []
    truncated = False
    if kind != "volunteer" and read.principal.role in ELDER_NAME_READERS:
        for e in elders.rows:
            elder = load(read.services.ledger, Elder, e.elder_id, "elder")
            if matches(query, elder.name, elder.phone):
                found.append(PersonFound(kind="elder", id=e.elder_id, name=elder.name, phone=elder.phone,
                                         county=e.county, township=e.township))  # fmt: skip
    if kind != "elder":
        for v in volunteers.rows:
            volunteer = load(read.services.ledger, Volunteer, v.volunteer_id, "volunteer")
            if matches(query, volunteer.name, volunteer.phone):
                found.append(PersonFound(kind="volunteer", id=v.volunteer_id, name=volunteer.name,
                                         phone=volunteer.phone, county=v.county, township=v.township))  # fmt: skip
    if len(found) > MAX_FOUND:
        found, truncated = found[:MAX_FOUND], True
    return SearchOut(items=found, truncated=truncated, **read.meta(min(elders.position, volunteers.position)))
