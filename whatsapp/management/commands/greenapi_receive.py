"""`manage.py greenapi_receive`: notifications from Green API's queue, without a public URL."""

import signal
import threading
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from whatsapp.greenapi import GreenAPI, GreenAPIError
from whatsapp.receiving import notifications_drain


class Command(BaseCommand):
    help = (
        "Receive Green API notifications by polling its queue (receiveNotification/deleteNotification), each "
        "processed exactly as the webhook processes it. Needs the instance's webhook URL empty "
        "(manage.py greenapi_configure --polling). Runs until Ctrl-C or SIGTERM; --once stops when the queue is empty."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Stop when the queue is empty.")
        parser.add_argument(
            "--receive-timeout",
            type=int,
            default=5,
            choices=range(5, 61),
            metavar="5..60",
            help="Seconds Green API waits for a notification before answering that there is none (default 5).",
        )
        parser.add_argument(
            "--only-if-polling",
            action="store_true",
            help="Unless GREEN_API_RECEIVE=poll, wait doing nothing until stopped (the Procfile's receive: line).",
        )

    def handle(self, *, once: bool, receive_timeout: int, only_if_polling: bool, **options: object) -> None:
        stop = threading.Event()
        self._stop_on_signals(stop)
        if only_if_polling and settings.GREEN_API_RECEIVE != "poll":
            self.stdout.write(
                "GREEN_API_RECEIVE is not 'poll': the webhook receives notifications, and this process waits "
                "doing nothing."
            )
            stop.wait()
            return
        try:
            api = GreenAPI.from_settings()
        except GreenAPIError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Receiving notifications of instance {api.id_instance} from Green API's queue…")
        drained = notifications_drain(api=api, stop=stop, once=once, receive_timeout=receive_timeout)
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(drained.outcomes.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Received {drained.received} notification(s)"
                + (f": {outcomes}" if outcomes else "")
                + (f"; {drained.duplicates} already here" if drained.duplicates else "")
                + "."
            )
        )

    def _stop_on_signals(self, stop: threading.Event) -> None:
        interrupted = threading.Event()

        def handler(number: int, frame: FrameType | None) -> None:
            # A second Ctrl-C stops at once (what was not deleted comes back). A SIGTERM never does:
            # a platform, or ./scripts/serve, may send it to the whole group as well as to us.
            if number == signal.SIGINT and interrupted.is_set():
                raise KeyboardInterrupt
            if number == signal.SIGINT:
                interrupted.set()
            if not stop.is_set():
                stop.set()
                self.stdout.write("Stopping after the notification in hand (Ctrl-C again to stop at once)…")

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
