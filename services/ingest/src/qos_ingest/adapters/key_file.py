"""The local pseudonymisation key: a file beside the event log, made on first run (mode 0600)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path


def local_key(path: Path) -> bytes:
    """The key in `path`, created with 32 random bytes (hex) if absent. Created under another
    name and linked into place, so a concurrent first run reads a whole key or makes none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(
            f"{path} is readable by others (mode {mode:o}); make it 0600 (chmod 600 {path})"
        )
    return path.read_text().strip().encode()
