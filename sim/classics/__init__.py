"""Validation of orgsim against classic simulation results (issue 6).

Each module docks one classic model on orgsim's shared landscape and search primitives (or, for
March 1991, a standalone vectorised implementation) and returns check records; ``validate``
runs them all and writes ``docs/validation.md``.
"""
