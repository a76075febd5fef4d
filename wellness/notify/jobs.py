from wellness.notify import services


def deliver_outbox() -> dict[str, int]:
    return services.deliver_due()
