"""Properties of the subsidy arithmetic (ledger.subsidy.price_claim), in integer fen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.common import COUNTY_TZ
from ledger.policies import DEFAULT_PARAMETERS, PolicyKind
from ledger.subsidy import ClaimableVisit, PricedClaim, price_claim, transport_rate

DEFAULTS = DEFAULT_PARAMETERS[PolicyKind.SUBSIDY]
PROPERTY = settings(deadline=None, max_examples=300)
TOWNSHIPS = ("东城镇", "西河乡", "南山镇")
MONTH_START = datetime(2026, 3, 1, tzinfo=COUNTY_TZ)

parameters_st = st.one_of(
    st.just(dict(DEFAULTS)),
    st.fixed_dictionaries(
        {
            "transport_same_township_fen": st.integers(0, 5000),
            "transport_cross_township_fen": st.integers(0, 5000),
            "transport_monthly_cap_fen": st.integers(0, 50000),
            "communication_monthly_fen": st.integers(0, 10000),
        }
    ),
)
# Moments of one county month, some written in UTC and some in county time: the order of
# visits is the order of instants, however they are written.
moment_st = st.builds(
    lambda minutes, utc: (MONTH_START + timedelta(minutes=minutes)).astimezone(UTC if utc else COUNTY_TZ),
    st.integers(0, 31 * 24 * 60 - 1),
    st.booleans(),
)


@st.composite
def visits_st(draw: st.DrawFn, max_size: int = 40) -> list[ClaimableVisit]:
    """Distinct visits (a visit is claimed once: rule A02), some at the very same moment."""
    ids = draw(st.lists(st.uuids(), unique=True, max_size=max_size))
    moments = draw(st.lists(moment_st, min_size=1, max_size=4))
    return [
        ClaimableVisit(
            visit_id=visit_id,
            is_home_visit=draw(st.booleans()),
            recorded_township=draw(st.sampled_from(TOWNSHIPS)),
            elder_township=draw(st.sampled_from(TOWNSHIPS)),
            started_at=draw(st.one_of(st.sampled_from(moments), moment_st)),
            place_confirmed=draw(st.booleans()),
        )
        for visit_id in ids
    ]


already_st = st.integers(0, 60000)
paid_st = st.booleans()
home_st = st.sampled_from(TOWNSHIPS)


def chronological(visits: list[ClaimableVisit]) -> list[ClaimableVisit]:
    return sorted(visits, key=lambda v: (v.started_at, str(v.visit_id)))


def amounts(claim: PricedClaim) -> list[tuple[object, object]]:
    return [(item["visit_id"], item["transport_fen"]) for item in claim.items]


def fen(item: dict[str, object]) -> int:
    value = item["transport_fen"]
    assert isinstance(value, int)
    return value


def is_fen(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@PROPERTY
@given(visits_st(), home_st, parameters_st, already_st, paid_st)
def test_all_amounts_are_non_negative_integer_fen(
    visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int, paid: bool
) -> None:
    claim = price_claim(visits, home, params, transport_already_fen=already, communication_already_paid=paid)
    assert all(is_fen(item["transport_fen"]) for item in claim.items)
    assert is_fen(claim.communication_fen)
    assert is_fen(claim.transport_fen)
    assert is_fen(claim.total_fen)


@PROPERTY
@given(visits_st(), home_st, parameters_st, already_st)
def test_transport_never_exceeds_what_is_left_of_the_monthly_cap(
    visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int
) -> None:
    claim = price_claim(visits, home, params, transport_already_fen=already)
    room = max(0, params["transport_monthly_cap_fen"] - already)
    assert claim.transport_fen <= room
    assert claim.transport_fen == min(room, sum(transport_rate(v, home, params) for v in visits))


@PROPERTY
@given(visits_st(), home_st, parameters_st, already_st)
def test_phone_calls_earn_no_transport(
    visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int
) -> None:
    claim = price_claim(visits, home, params, transport_already_fen=already)
    by_id = {v.visit_id: v for v in visits}
    for item in claim.items:
        visit_id = item["visit_id"]
        assert isinstance(visit_id, UUID)
        if not by_id[visit_id].is_home_visit:
            assert item["transport_fen"] == 0


@PROPERTY
@given(visits_st(), home_st, parameters_st, already_st)
def test_each_home_visit_earns_its_rate_unless_the_cap_cuts_it(
    visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int
) -> None:
    """One item per visit, in the order the visits happened; each home visit earns the same- or
    cross-township rate in full, until the cap is reached: the visit that reaches it earns what
    is left and every later one earns nothing."""
    claim = price_claim(visits, home, params, transport_already_fen=already)
    ordered = chronological(visits)
    assert [item["visit_id"] for item in claim.items] == [v.visit_id for v in ordered]
    room = max(0, params["transport_monthly_cap_fen"] - already)
    for visit, item in zip(ordered, claim.items, strict=True):
        if not visit.is_home_visit:
            rate = 0
        elif visit.township == home:
            rate = params["transport_same_township_fen"]
        else:
            rate = params["transport_cross_township_fen"]
        assert fen(item) == min(rate, room)
        if fen(item) < rate:  # the cap cut it
            assert fen(item) == room
        room -= fen(item)


@PROPERTY
@given(visits_st(), home_st, parameters_st, already_st, st.sampled_from(TOWNSHIPS))
def test_the_place_typed_on_an_unconfirmed_visit_never_changes_its_price(
    visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int, typed: str
) -> None:
    """Unless a coordinator confirmed it, a visit is priced where its elder is registered: retyping
    the recorded township changes nothing; a confirmed place is priced as recorded."""
    claim = price_claim(visits, home, params, transport_already_fen=already)
    retyped = [v if v.place_confirmed else replace(v, recorded_township=typed) for v in visits]
    assert price_claim(retyped, home, params, transport_already_fen=already) == claim
    for v in visits:
        assert v.township == (v.recorded_township if v.place_confirmed else v.elder_township)


@PROPERTY
@given(visits_st(), home_st, parameters_st, already_st, paid_st)
def test_items_and_communication_add_up_to_the_total(
    visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int, paid: bool
) -> None:
    claim = price_claim(visits, home, params, transport_already_fen=already, communication_already_paid=paid)
    assert sum(fen(item) for item in claim.items) + claim.communication_fen == claim.total_fen


@PROPERTY
@given(visits_st(), home_st, parameters_st, already_st, paid_st)
def test_communication_is_paid_at_most_once_a_month(
    visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int, paid: bool
) -> None:
    """Any confirmed contact, a phone call included, earns the month's communication, unless an
    earlier claim of the month already paid it."""
    claim = price_claim(visits, home, params, transport_already_fen=already, communication_already_paid=paid)
    expected = 0 if paid or not visits else params["communication_monthly_fen"]
    assert claim.communication_fen == expected


@PROPERTY
@given(st.data(), visits_st(), home_st, parameters_st, already_st, paid_st)
def test_the_result_does_not_depend_on_the_order_of_the_visits(
    data: st.DataObject, visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int, paid: bool
) -> None:
    shuffled = data.draw(st.permutations(visits))
    one = price_claim(visits, home, params, transport_already_fen=already, communication_already_paid=paid)
    other = price_claim(shuffled, home, params, transport_already_fen=already, communication_already_paid=paid)
    assert one == other


def split_and_price(
    first: list[ClaimableVisit],
    second: list[ClaimableVisit],
    home: str,
    params: dict[str, int],
    already: int,
    paid: bool,
) -> tuple[PricedClaim, PricedClaim]:
    """Two consecutive claims of one month: the second counts what the first drew."""
    one = price_claim(first, home, params, transport_already_fen=already, communication_already_paid=paid)
    two = price_claim(
        second,
        home,
        params,
        transport_already_fen=already + one.transport_fen,
        communication_already_paid=paid or one.communication_fen > 0 or bool(first),
    )
    return one, two


@PROPERTY
@given(st.data(), visits_st(), home_st, parameters_st, already_st, paid_st)
def test_splitting_a_month_into_two_claims_pays_exactly_the_same(
    data: st.DataObject, visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int, paid: bool
) -> None:
    """Any partition of the visits into a first and a second claim: never more in total than one
    claim of them all, and in fact exactly the same (transport is min(cap, sum of rates) either way)."""
    in_first = data.draw(st.lists(st.booleans(), min_size=len(visits), max_size=len(visits)))
    first = [v for v, chosen in zip(visits, in_first, strict=True) if chosen]
    second = [v for v, chosen in zip(visits, in_first, strict=True) if not chosen]
    whole = price_claim(visits, home, params, transport_already_fen=already, communication_already_paid=paid)
    one, two = split_and_price(first, second, home, params, already, paid)
    assert one.total_fen + two.total_fen <= whole.total_fen
    assert one.total_fen + two.total_fen == whole.total_fen
    assert one.transport_fen + two.transport_fen == whole.transport_fen
    assert one.communication_fen + two.communication_fen == whole.communication_fen


@PROPERTY
@given(st.data(), visits_st(), home_st, parameters_st, already_st, paid_st)
def test_a_chronological_split_pays_every_visit_the_same(
    data: st.DataObject, visits: list[ClaimableVisit], home: str, params: dict[str, int], already: int, paid: bool
) -> None:
    """When the first claim holds the month's earlier visits, each visit earns what it would
    have earned in a single claim."""
    ordered = chronological(visits)
    cut = data.draw(st.integers(0, len(ordered)))
    whole = price_claim(visits, home, params, transport_already_fen=already, communication_already_paid=paid)
    one, two = split_and_price(ordered[:cut], ordered[cut:], home, params, already, paid)
    assert amounts(one) + amounts(two) == amounts(whole)


def at(visit_id: UUID, home: bool, township: str, started_at: datetime) -> ClaimableVisit:
    """A visit recorded in its elder's registered township."""
    return ClaimableVisit(
        visit_id=visit_id, is_home_visit=home, recorded_township=township, elder_township=township,
        started_at=started_at,
    )  # fmt: skip


def test_defaults_by_hand() -> None:
    """Defaults: ¥10 same township, ¥20 across, ¥200 cap, ¥30 communication. Already drawn
    ¥185: a cross-township visit earns the ¥15 left, the next home visit 0, a phone call 0;
    communication ¥30 → 15 + 30 = ¥45 = 4500 fen."""
    ids = [UUID(int=n) for n in range(1, 4)]
    visits = [
        at(ids[2], False, "东城镇", MONTH_START + timedelta(days=3)),
        at(ids[1], True, "东城镇", MONTH_START + timedelta(days=2)),
        at(ids[0], True, "西河乡", MONTH_START + timedelta(days=1)),
    ]
    claim = price_claim(visits, "东城镇", DEFAULTS, transport_already_fen=18500)
    assert amounts(claim) == [(ids[0], 1500), (ids[1], 0), (ids[2], 0)]
    assert (claim.communication_fen, claim.total_fen) == (3000, 4500)
    assert price_claim([], "东城镇", DEFAULTS).total_fen == 0
