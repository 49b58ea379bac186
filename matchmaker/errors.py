"""The one error type users see.

Anything a user can type or upload that we refuse becomes a UserError with a Chinese message;
the CLI prints it on one line and exits non-zero, the web maps it to a page or JSON answer.
"""


class UserError(Exception):
    """A refusal to show to the user as is (message in Chinese)."""

    status_code = 400

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(UserError):
    status_code = 404


class Forbidden(UserError):
    status_code = 403
