"""What the inbox's test modules share."""

from inbox.tests.test_inbox import two_managers  # noqa: F401 - the fixture, for every module here
