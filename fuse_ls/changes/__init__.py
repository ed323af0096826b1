"""Reviewing a change (a diff, the staged or uncommitted work, or several files):
git reading, review units, the unit cache, noise control and report formats."""
