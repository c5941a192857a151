"""The manager workspace in Telegram as domain operations, one module per use case:

- base: the shared vocabulary — command kinds, status markers, limits, WorkspaceError, the Actor (a staff member);
- groups: registering a manager group (the bot added or removed, /connect) and what it lacks;
- parking: groups that cannot work — their work moved to a healthy group or parked, people told, resumed when fixed;
- routing: which group a dialog lives in (round robin or by channel), and moving it;
- topics: a topic per dialog, its status marker and pinned card, notices in a group;
- mirror: customer messages (and their edits) shown in the dialog's topic;
- cards: the AI's reply cards, and what made one outdated;
- decisions: what managers do with a card (send, edit, reject, escalate);
- replies: answers to customers (the topic, the shop's own account), notes and reactions;
- controls: per-dialog controls (AI mode, assignee, won/lost, close/reopen) and /inbox;
- views: what the workspace shows, as plain data for the bot to render;
- group_commands, customer_commands: the outbox command kinds above, one typed definition each (core.commands:
  payload, destination, lane, coalescing, prepare / record / record_failure), listed by kinds for the composition
  root to register; calls: the steps they share; commands: WorkspaceCommands, the executor the dispatcher drives
  through core.commands.Executor.

Nothing here talks to Telegram. Every visible effect is an outbox command (core.outbox) that the dispatcher
executes through the ManagerSurface (bot/) or a ChannelGateway (userbots/). Functions take the caller's session
(one unit of work per update or task) and never commit. Importers name the module of the use case they need.
"""
