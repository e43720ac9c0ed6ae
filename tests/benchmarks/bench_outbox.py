"""Outbox sender speed against a local aiosmtpd server: prints figures, asserts nothing.

    .venv/bin/python tests/benchmarks/bench_outbox.py [--messages 2000] [--senders 2]

Messages are queued with raw SQL, then send_due delivers them over one SMTP
connection per sender (threads, each with its own database connection, as the
outbox screen's worker does). What is measured is the sender's own cost: the
claim and mark transactions per message plus the SMTP conversation on loopback.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiosmtpd.controller import Controller  # noqa: E402

from tui.domain.config import load_config  # noqa: E402
from tui.domain.context import Actor, Context  # noqa: E402
from tui.domain.database import open_database  # noqa: E402
from tui.domain.mail import smtp_settings  # noqa: E402
from tui.domain.models import utcnow  # noqa: E402
from tui.domain.services.outbox import send_due  # noqa: E402


class Counter:
    def __init__(self):
        self.ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.original_content.splitlines():
            if line.lower().startswith(b"message-id:"):
                self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"


def queue(db, count: int) -> None:
    now = utcnow()
    rows = [("event", f"contact{n}@example.com", f"Contact {n}", "en", f"Alarm: SN-{n}",
             "Hello,\n\nAn alarm.\n", "pending", 0, now, "", f"<bench-{n}@example.com>", now,
             "bench") for n in range(count)]
    with db.atomic():
        db.connection().executemany(
            "INSERT INTO notification (kind, recipient_email, recipient_name, language, subject,"
            " body, status, attempts, next_attempt_at, last_error, message_id, created_at,"
            " created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=2)
    args = parser.parse_args()
    config = load_config()
    counter = Counter()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    settings = smtp_settings(config, {"CLIENTBOOK_SMTP_HOST": "127.0.0.1",
                                      "CLIENTBOOK_SMTP_PORT": str(port),
                                      "CLIENTBOOK_SMTP_SECURITY": "none",
                                      "CLIENTBOOK_MAIL_FROM": "bench@example.com"})
    try:
        for senders in sorted({1, args.senders}):
            with tempfile.TemporaryDirectory() as folder:
                db = open_database(Path(folder) / "bench.db", create=True)
                ctx = Context(db, config, Actor("bench", "administrator",
                                                config.roles["administrator"].permissions))
                queue(db, args.messages)
                counter.ids.clear()
                reports = []
                started = time.perf_counter()
                threads = [threading.Thread(target=lambda: reports.append(
                    send_due(ctx, settings))) for _ in range(senders)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - started
                sent = sum(report.sent for report in reports)
                print(f"{senders} sender(s): {sent} messages in {elapsed:.2f} s = "
                      f"{sent / elapsed:.0f}/s; per sender {[r.sent for r in reports]}; "
                      f"arrived {len(counter.ids)}, distinct {len(set(counter.ids))}")
                db.close()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
