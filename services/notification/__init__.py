"""The notification service: delivers `reminder.triggered` on each of the
user's channels (in-app inbox + live push, email over SMTP, signed webhook)
and publishes `notification.sent` / `notification.failed` per channel."""

__all__: list[str] = []
