"""The error every projects module raises for something the user can fix."""

from __future__ import annotations

from notebook_tracker.errors import InvalidParameter


class ProjectError(InvalidParameter):
    """A project, its parameters, environment or source is unusable; the message says why."""
