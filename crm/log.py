import logging
import sys


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time of the record, not at start-up.

    The guide's operators read these lines on stdout (journalctl, pm2, gunicorn's output); tests
    read them through pytest's capture, which swaps sys.stdout after logging is configured.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # noqa: ANN201
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass
