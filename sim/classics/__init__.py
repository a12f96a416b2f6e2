"""Validation of orgsim against classic simulation results (issue 6) and of the full model
against its patterns (issue 14).

Each classic module docks one classic model on orgsim's shared landscape and search primitives
(or, for March 1991, a standalone vectorised implementation) and returns check records;
``full_model`` checks ``InnovationModel`` itself (limiting cases, stylised facts, a mechanism
audit); ``validate`` runs them all and writes ``docs/validation.md``.
"""
