"""The one exception type for user mistakes; the CLI turns it into a single line."""


class UserError(Exception):
    """Bad input from a person (a path, a flag, a file): the message names the input and the fix."""


class BadImage(UserError):
    """One source image could not be used (corrupt, truncated, not an image, too large)."""

    def __init__(self, source_id: str, reason: str):
        super().__init__(f"{source_id}: {reason}")
        self.source_id = source_id
        self.reason = reason
