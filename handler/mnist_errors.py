"""The one error type the serving path raises for a client's bad input."""


class BadInput(ValueError):
    """The request cannot be answered with a prediction; ``status`` is the HTTP status to send."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
