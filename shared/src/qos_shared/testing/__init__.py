"""Test support shared by every package: the hand-written oracle (`oracle`) and the one seeded
session generator (`sessions`)."""
