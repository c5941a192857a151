## Mini App: the shell, errors, dialogs. Each Mini App area keeps its texts in miniapp_<area>.ftl with keys
## under miniapp-<area>-; every key starting with "miniapp" reaches the pages' scripts (webapp/pages.py).

miniapp-common-loading = Loading…
miniapp-common-no_telegram = Open the app from Telegram: the “App” button in the chat with the bot, or the link on a dialog's card.
miniapp-common-table = Table
miniapp-common-hide_table = Hide table
miniapp-common-no_data = No data for this period

miniapp-error-not_staff = You are not a staff member of any business here. Ask the owner for an invitation.
miniapp-error-other_tenant = You are not a staff member of this business.
miniapp-error-forbidden = Your role “{ $role }” has no access to this page.

miniapp-nothing-title = Sales Operator
miniapp-nothing-text = The role “{ $role }” opens no page of the app yet.

miniapp-dialogs-title = Dialogs
miniapp-dialogs-all = All
miniapp-dialogs-filter-active = Active
miniapp-dialogs-filter-escalated = Escalated
miniapp-dialogs-filter-waiting = Waiting
miniapp-dialogs-filter-resolved = Closed
miniapp-dialogs-none = No dialogs
miniapp-dialogs-messages = { $count } msg.
miniapp-dialogs-status-active = active
miniapp-dialogs-status-waiting = waiting for the customer
miniapp-dialogs-status-escalated = escalated
miniapp-dialogs-status-resolved = closed
miniapp-dialogs-status-inactive = blocked us

miniapp-dialog-title = Dialog
miniapp-dialog-field-status = Status
miniapp-dialog-field-phone = Phone
miniapp-dialog-field-username = Username
miniapp-dialog-field-tags = Tags
miniapp-dialog-field-profile_link = Profile
miniapp-dialog-field-traffic_source = Source
miniapp-dialog-field-notes = Notes
miniapp-dialog-deleted = (deleted)
miniapp-dialog-edited = edited
