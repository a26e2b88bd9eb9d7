"""tiexin's composition root: settings from the environment, the command line and the demo county.

The three packages below it each take what they need as explicit parameters: :mod:`ledger` (the
write side), :mod:`projections` (the read models) and :mod:`api` (HTTP). This package is the
only one that reads the environment (:mod:`tiexin.settings`) and the only one that wires the
three together (:mod:`tiexin.cli`, :mod:`tiexin.server`).
"""
