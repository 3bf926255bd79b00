"""Frozen dataset snapshots: planning the tiers, freezing, exporting."""
