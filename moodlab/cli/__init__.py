"""The `moodlab` command: one module per area, each command beside its arguments."""
