"""The dispatcher: executes outbox commands within every destination's rate budget.

The public entry is this package (`Dispatcher`, `running`, `notify`); its parts, one use case each: `loop` (the
Dispatcher and its rounds), `lanes` (claiming lane heads within budgets, coalescing), `leasing` (heartbeat and
recovery of a dead process's commands), `typing_indicator`, `sending` (a batch's call through the far side) and
`outcomes` (recording results, retries and failure states). What it knows of a channel kind it asks the registry
(core.channels.CHANNEL_KINDS: budgets, typing refresh, keyed sends); of a command kind, the Executor's registry
(core.commands).

One loop per process claims commands, any number of processes may run it side by side:

- Lanes. Commands of one dialog to one destination form a lane and run strictly one after another, in id order
  (a topic is created before its first post, the customer's messages appear in the order written). Only a lane's
  head can be claimed: a command with an earlier open one (queued, approved, in flight) in its lane waits.
- Budgets. A lane head is claimed only when its destination has a token (core.ratelimit): ≤20 messages a minute per
  manager group, ≤1/s per private chat, ≤30/s for the bot, a customer's channel its kind's budget (core.channels:
  20/s per VK community token...). Destinations without a token are left alone until their next token is due, so
  nothing waits "in flight" and the budget stays saturated.
  The send itself is paced once more with the same budget at the moment it leaves, so that commands delayed between
  claim and send (a slow render, a busy process) do not arrive bunched up.
- Coalescing. When a lane's head is of a kind flagged `coalescing` (core.commands.CommandKind), the commands behind
  it that its kind admits go out in the same call: a backlog of mirrored text messages as one post, album parts as
  one sendMediaGroup, repeated card or title refreshes as one edit.
- Far sides. The dispatcher knows no command kind by name: it reads their flags from the registry (Executor.kinds)
  and makes each prepared Call through the ManagerSurface or ChannelGateway its providers return at that moment
  (core.commands: a provider returning None — the bot or the channels not started yet, or not run here — fails the
  call as "no_surface" / "no_gateway", a transient error: tried again with backoff while attempts remain).
- Replicas. A channel whose client runs in another process (a Telegram account's session is held by one replica,
  core.leases) refuses a send here as "elsewhere" (ELSEWHERE_CODES): the command goes back to the queue at once, no
  attempt used, and only this process stays away from that destination for a while, so the holder sends it at its
  next look — never lost, never held back by a shared block.
- Failures. A "retry after" answer requeues the command exactly that much later without using up an attempt and
  closes the destination for as long; 5xx and network errors back off; permanent errors fail the command and the
  failure is shown to people (the kind's record_failure, core.commands.CommandKind).
- Typing. While an automatic reply waits out its human-like delay (a send of a kind flagged `typing`, queued by the AI,
  not_before still ahead), the customer sees "typing…" in their own chat when the tenant wants it
  (Tenant.typing_indicator): the dispatcher asks the channel gateway (ChannelGateway.typing) again every few seconds,
  since channels show it only that long (its kind's `typing_refresh`, core.channels), and stops when the send leaves
  or the reply is cancelled (then taking it away where the channel can). Each refresh takes a token of the channel's
  budget like any call to it, and one refresh per dialog and interval is shared by all dispatcher processes (a limiter
  key of its own). Best effort: a typing call that fails or finds no token is skipped, never holds up or fails the
  send, and a send waits for a typing call of its dialog still on the way, so "typing…" never lands after the message.
- Crashes. A claimed command whose process died is taken again after the lease (core.outbox.lease: LEASE divided by
  the time scale). The process executing a command renews its lease (a heartbeat every quarter lease), so only a
  dead process's commands run out; a process takes nobody's commands until its own database connection has been
  healthy for a whole lease (after a PostgreSQL restart every lease looks expired, while their holders are alive and
  about to record). Customer sends carry their idempotency key to the channel (VK random_id), so a retry never
  reaches the customer twice; a correction or take-back of a delivered reply (core.services.sent_replies) is the
  same when repeated.
- Sent once, recorded for sure. The answer of the far side is kept the moment it comes, in one statement
  (result.delivered); the bookkeeping follows in its own transaction, and a command left in flight with a kept answer
  is recorded from it by whoever recovers it — never sent again. The transaction that prepares a call also marks its
  commands "about to send" (OutboxCommand.sending_since) before the call leaves, when a repeat of the call could show
  twice (a post, a new topic, a Bot API send; not an edit, nor a customer send the channel dedups by the command's
  key: kinds flagged `repeatable`, or sends through a kind with `keyed_sends`, core.channels). Once the far side
  answered, recording the outcome is retried through database outages (backoff, up to RECORD_PATIENCE) — the call is
  never made again because its record failed. Only a process that dies between the call and the answer's keeping (or a
  call that got no answer) leaves a command that may have arrived: taken again, it is sent again (nothing lost) and
  counted (unconfirmed_sends, shown by /status), since the Bot API takes no idempotency key and a topic post can then
  show twice.
"""

from __future__ import annotations

from .base import DELIVERED, NOTIFY_CHANNEL, OPEN_STATES, Batch, DispatcherStats, notify
from .lanes import CLAIM_COLUMNS, PER_DESTINATION
from .leasing import LEASE_LOST, LEASE_LOST_SENDING, STUCK_AFTER
from .loop import Dispatcher, running
from .outcomes import ELSEWHERE_CODES, RECORD_PATIENCE
from .sending import sending_key
from .typing_indicator import TYPING_ROUND, typing_key

__all__ = ["CLAIM_COLUMNS", "DELIVERED", "ELSEWHERE_CODES", "LEASE_LOST", "LEASE_LOST_SENDING", "NOTIFY_CHANNEL",
           "OPEN_STATES", "PER_DESTINATION", "RECORD_PATIENCE", "STUCK_AFTER", "TYPING_ROUND", "Batch", "Dispatcher",
           "DispatcherStats", "notify", "running", "sending_key", "typing_key"]
