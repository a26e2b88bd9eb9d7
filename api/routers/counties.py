"""Counties: establish one with its townships (admin); read them (any key: which counties and townships
exist is public to everyone working in the programme).

A county's id follows from its code, so establishing a code twice is refused (409,
``county.exists``) and writes nothing, however the two requests race. The list is read from the
ledger itself (its ``County.Established`` events, :meth:`ledger.application.Ledger.counties`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import AdminCreate, Read, reader
from api.reads import LIST_ERRORS, Page, Pages, ledger_meta
from api.schemas import READ_ERRORS, WRITE_ERRORS, Text, WrittenOut, examples
from api.service import load
from ledger.counties import CODE, County, county_id

router = APIRouter(prefix="/v1/counties", tags=["counties"])

EXAMPLE = {"code": "huaiyin", "name": "淮阴区", "townships": ["王营镇", "西宋集镇", "渔沟镇"]}


class CountyIn(BaseModel):
    code: Annotated[
        Text,
        Field(
            pattern=f"^{CODE.pattern}$",
            description="the county's code, for good: 1–40 lowercase letters, digits, - and _",
        ),
    ]
    name: Annotated[Text, Field(max_length=200, description="the county's name, e.g. 淮阴区")]
    townships: Annotated[
        list[Annotated[Text, Field(max_length=40)]],
        Field(min_length=1, max_length=500, description="its townships and parks (乡镇/园区), each once"),
    ]

    model_config = examples(EXAMPLE)


class CountyOut(BaseModel):
    code: str
    name: str
    townships: list[str]

    model_config = examples(EXAMPLE)


def county_out(county: County) -> CountyOut:
    return CountyOut(code=county.code, name=county.name, townships=list(county.townships))


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def establish(body: CountyIn, write: AdminCreate) -> JSONResponse:
    """Establish a county and its townships (admin); a code already established is 409 (`county.exists`)."""
    return write.run(
        lambda by: write.ledger.establish_county(body.code, body.name, body.townships, by=by),
        created=True,
        location=f"/v1/counties/{body.code}",
    )


CountyReader = Annotated[Read, Depends(reader("admin", "auditor", "finance", "evaluator", "coordinator", "volunteer"))]


@router.get("", response_model=Page[CountyOut], responses=LIST_ERRORS)
def list_counties(read: CountyReader, response: Response, pages: Pages) -> Page[CountyOut]:
    """Every county established, by code, with its townships (any key)."""
    meta = ledger_meta(read.services, response)
    found = [county_out(c) for c in read.ledger.counties()]
    chosen, cursor = pages.page(found, lambda c: (c.code,))
    return Page[CountyOut](items=chosen, next_cursor=cursor, **meta)


@router.get("/{code}", response_model=CountyOut, responses=READ_ERRORS)
def read_county(code: str, read: CountyReader, response: Response) -> CountyOut:
    """One county and its townships (any key); 404 if no county has this code."""
    ledger_meta(read.services, response)
    return county_out(load(read.ledger, County, county_id(code), "county"))
