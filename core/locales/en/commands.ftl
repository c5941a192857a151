# One line per bot command (bot/commands.py): /help and the command menus Telegram shows.
cmd-start = what this bot is and what to do next
cmd-help = your commands
cmd-language = the bot's language
cmd-status = is the business ready: what is set up and what is left
cmd-settings = business settings; in a group: reports and escalations to this chat
cmd-invite = invite an employee
cmd-staff = employees and their roles
cmd-connect_telegram = connect the business's Telegram account
cmd-cancel = stop connecting an account
cmd-connect = connect this group as a manager group
cmd-inbox = which customers are waiting for an answer
cmd-note = a note on the dialog (the customer does not see it)
cmd-assign = assign the dialog: to yourself or to @employee
cmd-ai = the AI's mode in this dialog: off, learning, semi, auto
cmd-won = deal won (an amount may follow)
cmd-lost = deal lost (a reason may follow)
cmd-close = close the dialog
cmd-reopen = reopen the dialog
cmd-delete = as a reply to your message: delete it for the customer

# The menu button of a staff member's private chat: opens the Mini App.
menu-app = Dashboard
