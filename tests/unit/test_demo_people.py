"""The demo's volunteer teams: every township served, no volunteer over the policy's cap."""

from __future__ import annotations

from collections import Counter

from ledger.policies import DEFAULT_PARAMETERS, SCORING
from tiexin.demo.generator import CountyBuild
from tiexin.demo.people import SOFT_CAP, VOLUNTEER_COUNT, balanced_teams

SCATTERED = [11, 11, 13, 13, 13, 13, 15, 15, 15, 16, 16, 16, 16, 17, 17, 18, 19, 19, 19, 19, 19, 20, 20, 20, 39]
"""Elders per township of the 17th county of seed 1: 61 volunteers would be needed at 9 each."""


def test_teams_that_cannot_stay_under_the_soft_cap_are_refused_at_that_cap() -> None:
    townships = [f"t{i}" for i in range(len(SCATTERED))]
    assert balanced_teams(dict(zip(townships, SCATTERED, strict=True)), townships, SOFT_CAP) is None


def test_every_county_of_a_province_pairs_each_volunteer_within_the_policy_cap() -> None:
    cap = DEFAULT_PARAMETERS[SCORING]["max_active_pairings"]
    for index in range(30):
        build = CountyBuild(index, 1)
        assert len(build.volunteers) == VOLUNTEER_COUNT
        assert max(Counter(build.serving).values()) <= cap
