"""Notifications: the notifier (the CSE's EventSink) and its parts, one job each.

    notifier.py     Notifier: publish(events) composes the parts below; start/drain/stop
    matching.py     which subscriptions an event concerns (per-resource cache, enc, chty, atr)
    batching.py     bn num/dur with a timer on the clock; ln within a batch
    bookkeeping.py  exc counting and the deletion it causes, the sud notice, nse/nsi statistics
    pending.py      undelivered notifications kept across a clean shutdown
    commits.py      background commits of the notifier's own writes

Delivery (queues, retries, order) is cse/delivery.py; targets are cse/notification_target.py.
"""
from .notifier import Notifier

__all__ = ["Notifier"]
