"""Ending a process that imported torch without the interpreter's teardown.

Tearing torch down at exit takes 0.2-0.3 s and frees nothing the OS would not. The
`course` command and the fork server, whose end somebody waits for, leave through
:func:`exit_without_teardown` instead.
"""

from __future__ import annotations

import atexit
import os
import sys


def exit_without_teardown(code: int) -> None:
    """Run the exit handlers, flush standard output and error, and end with ``code``."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a reader that went away (`course list | head`)
            pass
    os._exit(code)
