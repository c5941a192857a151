# Telegram Business: the shop's account connected to the manager bot (bot/handlers/business.py,
# core/services/business.py, userbots/gateway.py).

business-connected = ✅ Telegram Business: the account { $account } is connected to “{ $tenant }” (channel { $channel }). Customers' messages to it now reach the manager group, and managers' replies leave from this account. Telegram gives a bot no earlier history: only new messages arrive.
business-updated = Telegram Business: the connection of { $account } to “{ $tenant }” is updated (channel { $channel }).
business-rights-no_reply = ⚠️ The bot may not reply: allow “Reply to messages” in Settings → Telegram Business → Chatbots, or managers' replies cannot be sent.
business-rights-no_read = ℹ️ Allow “Read messages” as well, so customers see their messages read when a manager answers.
business-disconnected = Telegram Business: the account { $account } disconnected the bot. Nothing is sent through it until you connect the bot again (Settings → Telegram Business → Chatbots).
business-not_staff = Telegram Business: { $account } connected the bot, but you are not an owner or admin of any business here, so nothing was connected. Accept an invitation from the business's owner, then connect the bot again.
business-choose = Telegram Business: which business is the account { $account } for?
business-error-pending_unknown = This question is out of date: connect the bot again.
business-error-not_yours = Only the business account that connected the bot can choose.
business-error-already = This account is already connected to another business.
business-error-done = This account is already connected to that business.
business-error-not_admin = You are not an owner or admin of that business.
business-channel-detail_no_history = Telegram Business: the bot gets no history, only messages from the moment it was connected (a Telegram-account channel can import the history).
business-channel-detail_disabled = Telegram Business: the owner disconnected the bot; nothing is sent until it is connected again (Settings → Telegram Business → Chatbots).
business-channel-detail_no_reply = Telegram Business: the connection does not allow replies (“Reply to messages” in Telegram Business → Chatbots); the bot gets no history either.
business-channel-detail_history_userbot = Telegram Business: the bot gets no history, but the same account is also connected as a userbot (channel { $channel }), whose history import fills the dialogs both share; replies go through the bot while the customer wrote in the last 24 hours, else through the userbot.
business-channel-detail_no_reply_userbot = Telegram Business: the connection does not allow replies (“Reply to messages” in Telegram Business → Chatbots), so replies go through the userbot of the same account (channel { $channel }), whose history import fills the dialogs both share.
business-attachment-animation = a GIF animation: open it in the Telegram app

# Texts of families other areas spell out by channel kind or failure code (status.kind.*, card.channel.*,
# reason.*), for the telegram_business kind.
status-kind-telegram_business = Telegram Business
card-channel-telegram_business = Telegram Business
reason-business_window = Telegram lets the business bot answer only within 24 hours of the customer's last message; answer from the Telegram app
reason-business_window_userbot = Telegram lets the business bot answer only within 24 hours of the customer's last message; answer from the Telegram app or through the connected Telegram account channel
reason-business_no_reply = the Telegram Business connection does not allow replies (Settings → Telegram Business → Chatbots)
reason-business_disconnected = the Telegram Business connection is off: the owner disconnected the bot
# the reply card of an account connected both ways: which way the reply went
reply-via-telegram_business = delivered through Telegram Business
reply-via-telegram_account = delivered through the Telegram account (userbot)
# /status: where a Telegram Business channel's history comes from (core.services.readiness.History)
status-channel-history-none = no history: Telegram gives the business bot only new messages
status-channel-history-userbot = history from the userbot of the same account (channel { $channel })
