"""crm/log.py's StdoutHandler: in production, lines written a few at a time, none lost or cut."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from crm.log import StdoutHandler

ROOT = Path(__file__).resolve().parents[2]


def logger_with(handler: StdoutHandler, name: str) -> logging.Logger:
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_without_batching_every_line_is_written_at_once(capsys) -> None:
    log = logger_with(StdoutHandler(), "test.log.unbatched")
    log.info("📨 one")
    assert capsys.readouterr().out == "📨 one\n"


def test_info_lines_wait_and_a_warning_writes_them_all_in_order(capsys) -> None:
    log = logger_with(StdoutHandler(batch_seconds=60), "test.log.warning")
    log.info("first")
    log.info("second")
    assert capsys.readouterr().out == ""
    log.warning("third")
    assert capsys.readouterr().out == "first\nsecond\nthird\n"


def test_a_batch_is_written_before_it_could_cut_a_line_on_a_pipe(capsys) -> None:
    handler = StdoutHandler(batch_seconds=60)
    log = logger_with(handler, "test.log.size")
    line = "Я" * 99  # 100 characters with the newline, 199 bytes
    for _ in range(StdoutHandler.BATCH_CHARS // 100):
        log.info(line)
    written = capsys.readouterr().out
    assert written == (line + "\n") * (StdoutHandler.BATCH_CHARS // 100)
    assert len(written.encode()) < 4096


def test_a_waiting_line_is_written_within_batch_seconds_without_more_traffic(capsys) -> None:
    log = logger_with(StdoutHandler(batch_seconds=0.05), "test.log.timer")
    log.info("alone")
    deadline = time.monotonic() + 5
    out = ""
    while time.monotonic() < deadline and not out:
        time.sleep(0.02)
        out = capsys.readouterr().out
    assert out == "alone\n"


def test_lines_still_waiting_are_written_at_exit() -> None:
    program = (
        "import logging\n"
        "from crm.log import StdoutHandler\n"
        "h = StdoutHandler(batch_seconds=60)\n"
        "h.setFormatter(logging.Formatter('%(message)s'))\n"
        "log = logging.getLogger('exit'); log.handlers = [h]; log.setLevel(logging.INFO)\n"
        "for i in range(3): log.info('line %d', i)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True).stdout
    assert out == "line 0\nline 1\nline 2\n"


def test_control_characters_in_a_lines_values_are_escaped_and_numbers_after_them_still_masked(capsys, settings) -> None:
    from crm.log import Masked

    settings.LOG_MODE = "production"
    log = logger_with(StdoutHandler(), "test.log.controls")
    log.info("id %s from %s, %d times", "A1\n📨 forged\r\x1b[2K", Masked("x\u202879991234567\x85+79161234567"), 3)
    assert (
        capsys.readouterr().out == "id A1\\n📨 forged\\r\\x1b[2K from x\\u20287999*****67\\x85+7916*****67, 3 times\n"
    )


def test_a_line_of_several_lines_of_our_own_is_left_as_written(capsys) -> None:
    log = logger_with(StdoutHandler(), "test.log.banner")
    log.info("═══\n📨 Received webhook from Green API\n═══")
    assert capsys.readouterr().out == "═══\n📨 Received webhook from Green API\n═══\n"
