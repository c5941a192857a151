# Channels (userbots/): Telegram accounts and VK — status details, files that did not arrive, the Telegram login.

## A channel's status detail (salesop channel list, the Mini App): what happened and what to do.
channel-vk_token_revoked = VK rejected the token ({ $error }). Connect the channel again: salesop channel add …
channel-vk_captcha = VK asks for a captcha for this token. Messages keep arriving; retrying in { $seconds } s.
channel-vk_flood = VK rate-limited the token (code { $code }). Waiting { $seconds } s, then continuing.
channel-vk_error = VK API error: { $error }. Retrying in { $seconds } s.
channel-tg_flood_wait = Telegram asked to wait { $seconds } s (FloodWait), until { $until }. Work resumes by itself.
channel-tg_session_revoked = The Telegram session is no longer valid. Connect the account again: /connect_telegram
channel-tg_connected = Connected: { $title }

## Why a customer's file or conversation did not arrive.
channel-attachment_unknown = unknown attachment type: { $kind } — open the message in VK
channel-attachment_too_large = file of { $size_mb } MB is over Telegram's { $limit_mb } MB limit — open it in VK
channel-attachment_unknown_tg = unknown attachment type: { $kind } — open the message in the Telegram account
channel-attachment_too_large_tg = file of { $size_mb } MB is over the bot's { $limit_mb } MB limit — open it in the Telegram account
channel-attachment_unreadable = attachment { $kind } could not be read: { $error }
channel-attachment_over_limit = the file is over Telegram's { $limit_mb } MB limit — open it in VK
channel-attachment_over_limit_tg = the file is over the bot's { $limit_mb } MB limit — open it in the Telegram account
channel-attachment_download_failed = the file could not be downloaded ({ $reason }) — open it in VK
channel-attachment_download_failed_tg = the file could not be downloaded ({ $reason }) — open it in the Telegram account
channel-download_timeout = no answer in { $seconds } s
channel-download_http_status = the server answered { $status }
channel-download_network = network error
channel-download_web_page = a web page came instead of the file
channel-download_empty = empty file
channel-download_unavailable = the file is unavailable
channel-download_store_failed = the file could not be saved
channel-download_error = error { $error }
channel-import_conversation_failed = conversation { $peer } was not imported: { $error }

## Connecting a Telegram account through the bot (/connect_telegram): the login flow's answers.
channel-login_ask_phone = Send the Telegram account's phone number in international format, e.g. +79991234567.
channel-login_code_sent = A login code was sent to { $phone } in Telegram. Send it here (spaces are fine: 1 2 3 4 5).
channel-login_ask_password = Two-step verification is on. Send the cloud password.{ $hint }
channel-login_password_hint = { " " }Hint: { $hint }
channel-login_qr = Open Telegram → Settings → Devices → Link Desktop Device and scan the QR code. Valid until { $expires }.
channel-login_done = Account { $title } connected. Dialogs start arriving now.
channel-login_phone_invalid = Invalid phone number. Check it and send again.
channel-login_phone_banned = This number is banned by Telegram.
channel-login_code_invalid = Wrong code. Try again ({ $left ->
        [one] { $left } attempt left
       *[other] { $left } attempts left
    }).
channel-login_code_expired = The code expired. A new one was sent — send it here.
channel-login_password_invalid = Wrong password. Try again ({ $left ->
        [one] { $left } attempt left
       *[other] { $left } attempts left
    }).
channel-login_flood = Telegram asks to wait { $seconds } s before the next attempt.
channel-login_too_many_attempts = Too many failed attempts. Start again: /connect_telegram
channel-login_qr_expired = The QR code expired — here is a new one.
channel-login_not_expected = Something else is expected now: { $expected }.
channel-login_cancelled = Connection cancelled.
channel-connect_no_rights = Only an owner, an admin or technical staff can connect Telegram accounts.
channel-connect_choose_tenant = You work for several companies. Say which one: /connect_telegram <code> ({ $slugs }). Add qr for a QR login.
channel-connect_unknown_tenant = No company '{ $slug }' among yours: { $slugs }.
channel-login_no_api_credentials = SALESOP_TELEGRAM_API_ID and SALESOP_TELEGRAM_API_HASH are not set (my.telegram.org).
# What the login flow waits for (channel-login_not_expected).
channel-login_expected-phone = the phone number
channel-login_expected-code = the code
channel-login_expected-password = the password
channel-login_expected-qr = scanning the QR code
