"""The demo county: a deterministic year of the programme, written through the ledger's commands.

:mod:`tiexin.demo.generator` builds it (``run_demo``); :mod:`tiexin.demo.people` draws its
people and what they say. It lives beside the command line, not in :mod:`ledger`: the write side
does not need to know how a demo is made.
"""
