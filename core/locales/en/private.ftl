# The private chat with the bot (bot/handlers/private.py): /start, /help, /language, /status.

## /start
start-hello = 👋 This is <b>Sales Operator</b>, a sales team's bot. Customers write to the business on Telegram and VK, each dialog becomes a topic in the manager group, the AI drafts replies, and a manager sends, edits or rejects them with buttons.
start-stranger = You are not staff of any business yet. Ask your employer for an invitation link and open it: the bot will recognise you and show what to do.
start-admin = <b>{ $tenant }</b>: you are the { $role }.
start-next-group = Next step, the manager group: create a supergroup, turn on Topics in its settings and add the bot as an administrator (rights: manage topics, pin and delete messages, ban users). The group connects by itself.
start-next-channel = { $can_connect ->
    [yes] Next step, a channel customers write to: connect the business's Telegram account here with /connect_telegram, a VK community on the server: <code>salesop channel add vk --tenant { $slug } …</code>
   *[no] Next step, a channel customers write to: your technical staff can connect one (/connect_telegram), or on the server: <code>salesop channel add vk --tenant { $slug } …</code>
}
start-next-status = The group and channels are connected. /status shows what else is worth setting up.
start-staff-manager = <b>{ $tenant }</b>: you are a { $role }. Customers' dialogs arrive as topics in the manager group: answer right in the topic, and send, edit or reject the AI's drafts with the buttons on their cards. /inbox shows who is waiting for an answer.
start-staff-viewer = <b>{ $tenant }</b>: you are a { $role }: you read the dialogs in the manager group and see the analytics, but do not answer customers.
start-staff-analyst = <b>{ $tenant }</b>: you are a { $role }: traffic-source reports and analytics are in the dashboard (Mini App).
start-staff-finance = <b>{ $tenant }</b>: you are in { $role }: AI spend and analytics are in the dashboard (Mini App).
start-staff-tech = <b>{ $tenant }</b>: you are a { $role }: you connect channels (/connect_telegram) and keep the knowledge base, catalog and media library.
start-staff-other = <b>{ $tenant }</b>: you are a { $role }. /help lists what your role can do.
start-app = The “Dashboard” button next to the message field opens the Mini App.
start-footer = Your commands: /help. The bot's language: /language.
start-role-owner = owner
start-role-admin = administrator
start-role-manager = manager
start-role-analyst = traffic analyst
start-role-finance = finance
start-role-tech = technical specialist
start-role-viewer = viewer

## /help
help-title = <b>Your commands</b>
help-where-private = <b>Here, in your private chat with the bot:</b>
help-where-group = <b>In the manager group:</b>
help-where-topic = <b>In a dialog topic:</b>
help-stranger = More commands open once you accept an invitation from your employer.

## /language
language-choose = Choose the bot's language:
language-set = Done: the bot speaks English.
language-stranger = The bot answers in your Telegram's language; change it in Telegram's settings. Your own choice appears once you are staff of a business.
language-button-ru = Русский
language-button-en = English

## /status
status-denied = The readiness check is for the business's owner and administrators.
status-title = <b>Readiness: { $tenant }</b> (<code>{ $slug }</code>)
status-summary-ready = Everything required is set up: customers will get answers.
status-summary-todo = { $count ->
    [one] { $count } required thing is left (❌).
   *[other] { $count } required things are left (❌).
}
status-section-groups = <b>Manager groups</b>
status-group-none = There is no manager group.
status-group-ok = “{ $title }”: topics on, all rights granted
status-group-removed = “{ $title }”: the bot was removed from the group
status-group-no_topics = “{ $title }”: topics are not turned on
status-group-rights = “{ $title }”: the bot lacks rights: { $rights }
status-group-rotated = (full: new dialogs go to a newer group)
status-right-can_manage_topics = manage topics
status-right-can_pin_messages = pin messages
status-right-can_delete_messages = delete messages
status-right-can_restrict_members = ban users
status-section-channels = <b>Channels</b>
status-channel-none = No channel is connected.
status-channel-line = { $kind } “{ $title }”: { $state }
status-channel-state-new = connecting
status-channel-state-connecting = connecting
status-channel-state-active = working
status-channel-state-flood_wait = paused by the platform until { $until }
status-channel-state-captcha = the platform asks for a captcha
status-channel-state-error = error: { $detail }
status-channel-state-revoked = access revoked
status-channel-state-disabled = disabled
status-kind-telegram_account = Telegram account
status-kind-vk_community = VK community
status-kind-vk_user = VK account
status-import-progress = { $percent }% ({ $done } of { $total })
status-import-count = { $done ->
    [one] { $done } dialog
   *[other] { $done } dialogs
}
status-import-idle = history import waiting to start
status-import-running = importing history: { $progress }
status-import-paused = history import paused: { $progress }
status-import-done = history imported ({ $messages } messages)
status-import-failed = history import stopped: { $progress }
status-section-setup = <b>Setup</b>
status-knowledge = { $count ->
    [one] Knowledge base: { $count } document
   *[other] Knowledge base: { $count } documents
}
status-catalog = { $count ->
    [one] Catalog: { $count } product
   *[other] Catalog: { $count } products
}
status-staff = Staff: { $roles }
status-staff-count = { $role }: { $count }
status-ai-openai = AI: an OpenAI-compatible model ({ $model })
status-ai-offline = AI: no key, the local responder answers from the knowledge base
status-autosend-on = Automatic replies are on
status-autosend-off = Automatic replies are off (business: { $tenant ->
    [yes] on
   *[no] off
}, platform: { $platform ->
    [yes] on
   *[no] off
})
status-failures-none = No failed sends in the last day
status-failures = { $count ->
    [one] { $count } command failed in the last day. The latest error: { $error }
   *[other] { $count } commands failed in the last day. The latest error: { $error }
}
status-unconfirmed = { $count ->
    [one] { $count } message was sent again in the last day without knowing whether the first try arrived (a process stopped mid-send): it may show twice
   *[other] { $count } messages were sent again in the last day without knowing whether the first try arrived (a process stopped mid-send): they may show twice
}
status-miniapp-ok = The Mini App is set up: staff have the “Dashboard” button
status-miniapp-missing = The Mini App's address is not set: no “Dashboard” button

## What to do next (core.services.readiness.Fix)
status-fix-add_group = create a supergroup, turn on Topics and add the bot as an administrator: the group connects by itself
status-fix-readd_bot = add the bot to “{ $title }” again as an administrator
status-fix-enable_topics = turn on Topics in the settings of “{ $title }”, then send /connect there
status-fix-grant_rights = give the bot these rights in the administrators of “{ $title }”: the bot notices by itself
status-fix-add_channel = a Telegram account: /connect_telegram here; a VK community: <code>salesop channel add vk --tenant { $slug } …</code>
status-fix-channel_wait = wait: the channel connects by itself; if the state does not change, check that the server is running
status-fix-channel_captcha = sign in to the account in a browser, pass the check and connect the channel again
status-fix-channel_reconnect = connect the channel again: /connect_telegram or <code>salesop channel add … --tenant { $slug }</code>
status-fix-channel_enable = connect the channel again to enable it
status-fix-import_resume = resume the import where it stopped: <code>salesop import { $channel }</code>
status-fix-load_knowledge = load delivery, payment, returns and frequent questions: <code>salesop kb import --tenant { $slug } folder</code>
status-fix-load_catalog = load the products: <code>salesop products import --tenant { $slug } products.csv</code>
status-fix-invite_staff = invite managers: /invite
status-fix-set_openai_key = for smarter answers set SALESOP_OPENAI_API_KEY (and SALESOP_OPENAI_BASE_URL for another provider) and restart
status-fix-enable_autosend = turn automatic replies on in /settings
status-fix-global_autosend = automatic replies are off for the whole platform (SALESOP_GLOBAL_AUTOSEND=false)
status-fix-offline_autosend = without an OpenAI key, automatic replies go out only if you allow them for the local responder in /settings
status-fix-check_failures = the topics show “Not delivered” notices with the reason; check the channels above
status-fix-set_webapp_url = set SALESOP_WEBAPP_URL (the Mini App's HTTPS address) and restart
