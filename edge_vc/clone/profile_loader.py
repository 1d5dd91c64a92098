"""Hook from the pipeline to voice profiles: returns a Speaker for a profile name, or None.

Until profiles exist this finds nothing, and names resolve to plain voices.
"""

from __future__ import annotations


def load_speaker(name: str | None, threads: int | None = None):
    """A Speaker for the enrolled profile ``name``, or None if no such profile exists."""
    return None
