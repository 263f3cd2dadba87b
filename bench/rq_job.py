"""The job RQ runs in bench/spool.py: it does nothing, so only the queue is measured."""


def handle(doc: dict) -> None:
    return None
