"""The one task supervisor: every background task of a gateway process starts here.

Three kinds of task, so shutdown knows what to wait for and what to stop:

- :func:`spawn`: a *job* that ends on its own (settle a request's limits, store a cached answer).
  Its failure is logged; shutdown (and :func:`drain`, "drain then return" for tests) waits for it.
- :func:`spawn_service`: a *service* that runs until stopped (the spend writer, a subscriber, a
  refresh loop). Its failure is logged; its owner stops it, and whatever still runs when the
  process shuts down is cancelled.
- :func:`spawn_awaited`: a *child* its creator awaits (a hang-up watch reading ``receive``, a
  single-flight load); its failure is the awaiter's to handle, so it is not logged again.

:class:`TaskSet` is the pending-set bookkeeping owners used to copy: the jobs of one owner, which
it can wait for on its own. Bare ``asyncio.create_task``/``ensure_future`` are banned elsewhere
(ruff TID251); there is one supervisor per event loop (:func:`current`).
"""

from bastion.tasks.supervisor import (
    TaskSet,
    TaskSupervisor,
    current,
    drain,
    spawn,
    spawn_awaited,
    spawn_service,
)

__all__ = ["TaskSet", "TaskSupervisor", "current", "drain", "spawn", "spawn_awaited", "spawn_service"]
