"""Answers of the read models, kept while the read model stands still.

A read model changes only when its runner applies events, and its position says when. So the
answer to a query (a page of the roster, a month's scores) computed at position P is the answer
to that same query for as long as the model stays at P, and a rebuilt model that reaches P again
holds the same rows (it replays the same events). Kept here, it is served again without reading
the view or serializing a row; only the part of an answer about *now* (the lag behind the
ledger's head, the model's state) is computed for each request.

Answers are kept per read model, keyed by the query (path, filters, page) and by what the
caller may see (its role and, for a volunteer, its own id). A model holds at most
:data:`MAX_ANSWERS`, the least recently used going first; when its position moves on, all of
them go. An answer computed at an older position than the one held is not kept. A request with
``Cache-Control: no-cache`` is answered from the view and refreshes what is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

MAX_ANSWERS = 512


class AnswerCache:
    """Serialized answers of each read model at its current position (thread-safe)."""

    def __init__(self, max_answers: int = MAX_ANSWERS) -> None:
        self.max_answers = max_answers
        self._models: dict[str, tuple[int, OrderedDict[Hashable, bytes]]] = {}
        self._lock = threading.Lock()

    def get(self, model: str, key: Hashable, position: int) -> bytes | None:
        """The answer kept for ``key`` if it was computed at ``position``."""
        with self._lock:
            held = self._models.get(model)
            if held is None or held[0] != position:
                return None
            found = held[1].get(key)
            if found is not None:
                held[1].move_to_end(key)
            return found

    def put(self, model: str, key: Hashable, position: int, answer: bytes) -> None:
        """Keep ``answer``, computed at ``position`` (a newer position drops the model's older answers)."""
        with self._lock:
            held = self._models.get(model)
            if held is None or held[0] < position:
                held = (position, OrderedDict())
                self._models[model] = held
            elif held[0] > position:
                return
            answers = held[1]
            answers[key] = answer
            answers.move_to_end(key)
            while len(answers) > self.max_answers:
                answers.popitem(last=False)
