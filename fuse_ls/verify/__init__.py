"""Verified fixes: try a fused fix in an isolated copy of the workspace and run the
project's checks there (`verify.commands`) before anything touches the real files."""
