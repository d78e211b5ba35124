"""Which code ran: the git commit, whether the tree had uncommitted changes, and the remote URL."""

from __future__ import annotations

import subprocess

from runnable.models.run_log import CodeIdentity


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.rstrip() if done.returncode == 0 else None


def git_code_identity() -> CodeIdentity:
    """Read once per run (three git calls cost milliseconds; per step they would dominate small steps)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return CodeIdentity(code_identifier_type="unknown", code_identifier_message="not a git repository")
    changed = _git("status", "--porcelain", "--untracked-files=no")
    url = _git("config", "--get", "remote.origin.url")
    return CodeIdentity(
        code_identifier=commit,
        code_identifier_type="git",
        code_identifier_dependable=changed == "",
        code_identifier_url=url or None,
        code_identifier_message="changes found in: " + ", ".join(line[3:] for line in changed.splitlines())
        if changed
        else None,
    )
