# Traffic page: campaign invite links of Telegram channels and groups (webapp/api/traffic.py, pages/traffic.js).
miniapp-traffic-invite_links = Invite links to a channel or group
miniapp-traffic-invite_help = A link named after the campaign, made by the bot: whoever joins through it is counted, and when they write to the shop their dialog counts for the campaign. Add the bot to the channel or group as an administrator with the right to invite users; you must be its administrator too.
miniapp-traffic-invite_chat = Channel or group (@name or id)
miniapp-traffic-invite_requests = Join by request (the bot approves)
miniapp-traffic-invite_create = Make an invite link
miniapp-traffic-invite_figures = joined: { $joins } · waiting: { $requests }
miniapp-traffic-invite_revoke = Revoke
miniapp-traffic-invite_revoked = revoked
miniapp-traffic-invite_confirm_revoke = Revoke this link? Nobody will be able to join through it; the joins stay counted.
miniapp-traffic-no_campaign = No such campaign.
miniapp-traffic-no_link = No such invite link.
miniapp-traffic-no_bot = The bot is not configured.
miniapp-traffic-telegram_down = Telegram did not answer; try again.
miniapp-traffic-bad_chat = “{ $chat }” is not a chat: give @name, a t.me link or a numeric id.
miniapp-traffic-chat_unknown = The bot does not see { $chat }: add it to the channel or group as an administrator.
miniapp-traffic-not_a_channel = Invite links are made for channels and groups.
miniapp-traffic-not_chat_admin = Only an administrator of “{ $chat }” can make its links.
miniapp-traffic-bot_rights = The bot may not make links in “{ $chat }”: make it an administrator with the right to invite users.
miniapp-traffic-telegram_refused = Telegram refused: { $error }
# CSV exports handed to Telegram's download (webapp/api/downloads.py).
miniapp-downloads-too_big = The file is too big to download this way.
miniapp-downloads-kind = Only CSV files are downloaded this way.
