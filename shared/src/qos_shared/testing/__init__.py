"""Test support shared by every engine that computes the catalogue: the hand-written oracle."""
