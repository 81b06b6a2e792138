"""Load benchmarks: scripts that print figures measured against a baseline in the same run."""
