"""The cost model (`qos cost`): the monthly AWS bill per service at an audience size, from the
measured rates (`measure.py`, `rates.json`), the stacks' scaling settings and the dated price
table (`prices.py`); docs/cost.md explains it."""

from qos_infra.cost.cli import main

__all__ = ["main"]
