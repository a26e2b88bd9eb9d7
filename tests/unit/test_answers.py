"""Answers kept per read model while its position stands still (:mod:`api.answers`)."""

from __future__ import annotations

from api.answers import AnswerCache


def test_an_answer_is_served_only_at_the_position_it_was_computed_at() -> None:
    cache = AnswerCache()
    cache.put("roster", "page-1", 10, b"{a}")
    assert cache.get("roster", "page-1", 10) == b"{a}"
    assert cache.get("roster", "page-1", 11) is None
    assert cache.get("roster", "page-2", 10) is None
    assert cache.get("scores", "page-1", 10) is None


def test_a_newer_position_drops_the_model_s_older_answers_and_an_older_one_is_not_kept() -> None:
    cache = AnswerCache()
    cache.put("roster", "page-1", 10, b"{a}")
    cache.put("roster", "page-2", 12, b"{b}")
    assert cache.get("roster", "page-1", 10) is None
    cache.put("roster", "page-1", 11, b"{stale}")
    assert cache.get("roster", "page-1", 11) is None and cache.get("roster", "page-2", 12) == b"{b}"


def test_each_model_keeps_at_most_its_limit_the_least_recently_used_going_first() -> None:
    cache = AnswerCache(max_answers=2)
    cache.put("roster", 1, 5, b"1")
    cache.put("roster", 2, 5, b"2")
    assert cache.get("roster", 1, 5) == b"1"
    cache.put("roster", 3, 5, b"3")
    assert [cache.get("roster", k, 5) for k in (1, 2, 3)] == [b"1", None, b"3"]
