"""Leaderboards and reports built from a study's trial records."""
