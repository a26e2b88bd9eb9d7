"""The language an answer's labels are in: ``?lang=zh|en``, else the ``Accept-Language`` header, else Chinese.

Codes are always served as codes; a label (:mod:`ledger.labels`) is served beside its code in the
language asked for, so a page or an export reads in Chinese by default and in English on request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from ledger.labels import LANGS, Lang

DEFAULT: Lang = "zh"


def from_header(header: str) -> Lang | None:
    """The first of our languages in an ``Accept-Language`` header, by its weight (``en-GB;q=0.8``)."""
    ranked: list[tuple[float, int, Lang]] = []
    for order, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and weight > 0:
            ranked.append((-weight, order, primary))
    return min(ranked)[2] if ranked else None


def negotiated(
    request: Request,
    lang: Annotated[Lang | None, Query(description="labels in Chinese (zh, the default) or English (en)")] = None,
) -> Lang:
    if lang is not None:
        return lang
    return from_header(request.headers.get("accept-language", "")) or DEFAULT


Language = Annotated[Lang, Depends(negotiated)]
"""A route's language for the labels it serves."""
