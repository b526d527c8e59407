"""The device side of management actions: a device AE answers a reboot, a firmware update,
a software install, ... that an application asks of its node's mgmtObjs.

The CSE delivers each action as a NOTIFY to the AEs hosted on the node (the AE registered
with `nl` naming its node): an m2m:sgn whose `nev.rep` is the mgmtObj ({"m2m:fwr": {...}})
with only the executable attributes started now, and whose `sur` is the mgmtObj's ID
(docs/device-management.md).  `ManagementAgent` is the callback of a notification receiver
that recognises them and calls the handler registered for the action:

    agent = ManagementAgent(client)

    @agent.handles("m2m:fwr", "ud")
    async def update_firmware(action):
        if not action.resource["url"].startswith("https://"):
            raise ActionRefused("firmware only over https")
        return install(action.resource["url"])     # a coroutine: the work, run after accepting

    receiver = NotificationReceiver(on_notification=agent)

A handler that returns normally accepts the action (the CSE then answers the application's
UPDATE with 2004 and shows the status "in process"); one that raises `ActionRefused`
refuses it (the application's UPDATE fails with 4127 quoting the message).  A handler may
return a coroutine: the agent runs it after answering and reports the outcome by updating
the mgmtObj: the status attribute (uds, ins, acts, cas) at 1 (successful) with the
attributes the coroutine returns (e.g. {"vr": "2.0"}), or 2 (failure) if it raises.  At most
`max_running` such coroutines run at once; a further action is refused ("busy").

Other notifications (from subscriptions) go to `others`, if given.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .receiver import Notification, NotificationRefused

log = logging.getLogger(__name__)

# The status attribute that reports each action's outcome (TS-0004 Annex D); reboot has none.
STATUS = {("m2m:fwr", "ud"): "uds", ("m2m:swr", "in"): "ins", ("m2m:swr", "un"): "ins",
          ("m2m:swr", "act"): "acts", ("m2m:swr", "dea"): "acts", ("m2m:dvc", "ena"): "cas",
          ("m2m:dvc", "dis"): "cas", ("m2m:rbo", "rbo"): None, ("m2m:rbo", "far"): None,
          ("m2m:evl", "lga"): None, ("m2m:evl", "lgo"): None}
SUCCESSFUL, FAILURE = 1, 2


class ActionRefused(Exception):
    """Raised by a handler: the device will not do it (the CSE's answer quotes `message`)."""

    def __init__(self, message: str, rsc: int = 4000):
        super().__init__(message)
        self.rsc = rsc


@dataclass(frozen=True)
class ManagementAction:
    """One action asked of this device."""

    root: str               # "m2m:fwr"
    name: str               # "ud"
    mgmt_obj: str           # the mgmtObj's ID ("/id-in/mgo...") to report the outcome to
    resource: dict          # its attributes (url, vr, ...)
    originator: str | None  # who asked (cr of the notification)

    @property
    def status(self) -> str | None:
        return STATUS.get((self.root, self.name))


Handler = Callable[[ManagementAction], Any]


class ManagementAgent:
    def __init__(self, client: Any, *, max_running: int = 4,
                 others: Callable[[Notification], Any] | None = None):
        self.client = client
        self.max_running = max_running
        self.others = others
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._running: set[asyncio.Task] = set()
        # Outcomes reported, for applications and tests to look at: (action, sus).
        self.reported: list[tuple[ManagementAction, int]] = []

    def handles(self, root: str, name: str) -> Callable[[Handler], Handler]:
        """Decorator: `handler(action)` performs `name` ("ud") of mgmtObjs under `root` ("m2m:fwr")."""
        if (root, name) not in STATUS:
            raise ValueError(f"{name!r} of {root!r} is not a management action")

        def register(handler: Handler) -> Handler:
            self._handlers[(root, name)] = handler
            return handler
        return register

    @staticmethod
    def actions_in(notification: Notification) -> list[ManagementAction]:
        """The management actions a notification asks for (none for an ordinary one)."""
        rep = notification.representation
        if not isinstance(rep, dict) or len(rep) != 1 or not isinstance(notification.subscription, str):
            return []
        (root, resource), = rep.items()
        if not isinstance(resource, dict) or resource.get("ty") != 13:
            return []
        cr = notification.raw.get("m2m:sgn", {}).get("cr")
        return [ManagementAction(root, name, notification.subscription, resource, cr)
                for (kind, name) in STATUS if kind == root and resource.get(name) is True]

    async def __call__(self, notification: Notification) -> None:
        actions = self.actions_in(notification)
        if not actions:
            if self.others is not None:
                result = self.others(notification)
                if inspect.isawaitable(result):
                    await result
            return
        for action in actions:
            handler = self._handlers.get((action.root, action.name))
            if handler is None:
                raise NotificationRefused(5001, f"this device does not perform {action.name!r} of {action.root}")
            if len(self._running) >= self.max_running:
                raise NotificationRefused(4000, f"busy: {len(self._running)} management actions are running")
            try:
                work = handler(action)
                if inspect.iscoroutinefunction(handler):
                    work = await work      # an async handler decides; what it returns may be the work
            except ActionRefused as refused:
                raise NotificationRefused(refused.rsc, str(refused)) from None
            if inspect.iscoroutine(work):
                task = asyncio.get_running_loop().create_task(self._complete(action, work))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _complete(self, action: ManagementAction, work: Awaitable[Any]) -> None:
        try:
            changed = await work
            sus = SUCCESSFUL
        except Exception as exc:        # the device's work failed: report it, never lose it
            log.warning("management action %s of %s failed: %r", action.name, action.mgmt_obj, exc)
            changed, sus = None, FAILURE
        await self.report(action, sus, **(changed if isinstance(changed, dict) else {}))

    async def report(self, action: ManagementAction, sus: int, **attributes: Any) -> None:
        """Update the mgmtObj with the outcome (`sus` 1 successful, 2 failure) and `attributes`."""
        content = dict(attributes)
        if action.status is not None:
            content[action.status] = {"acn": action.name, "sus": sus}
        if content:
            await self.client.update(action.mgmt_obj, {action.root: content})
        self.reported.append((action, sus))

    async def drain(self) -> None:
        """Wait until every accepted action has reported its outcome."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)


__all__ = ["ActionRefused", "ManagementAction", "ManagementAgent", "STATUS"]
