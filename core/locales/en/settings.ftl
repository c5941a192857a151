# Tenant settings: refusals (core.services.tenant_settings), `salesop settings`, the bot's /settings panel.

## What a setting accepts (used in refusals and in the CLI's help)
settings-accepts-bool = true or false (yes/no, on/off)
settings-accepts-number = a number from { $min } to { $max }
settings-accepts-integer = a whole number from { $min } to { $max }
settings-accepts-choice = one of { $choices }
settings-accepts-intent = intents from: { $choices }
settings-accepts-currency = a 3-letter ISO 4217 currency code such as RUB or USD
settings-accepts-timezone = an IANA time zone such as Europe/Moscow
settings-accepts-time = a time HH:MM (24 hours) or off
settings-accepts-text = a text of at most { $max } characters
settings-accepts-voice = an ElevenLabs voice id (latin letters and digits)
settings-accepts-secret = an API key of 8 to 256 characters without spaces
settings-accepts-chat = a Telegram chat id (a whole number such as -1001234567890)
settings-accepts-hours = days and hours such as "mon-fri 09:00-21:00, sat 10:00-18:00, sun closed"
settings-accepts-pattern = a regular expression with one group, the code, such as «promo[: ]*(\w+)»

## Refusals: one line, naming the key
settings-error-value = { $setting }: expected { $accepts }, not «{ $value }»
settings-error-unknown = unknown setting «{ $setting }»; the settings are: { $known }
settings-error-assignment = «{ $setting }» is not key=value
settings-error-twice = { $setting } is given twice
settings-error-many = { $setting }: at most { $max } items
settings-error-thresholds = { $setting }: 0 ≤ t_escalate < t_auto ≤ 1 is needed, the result would be t_escalate={ $t_escalate }, t_auto={ $t_auto }
settings-error-voice = { $setting }: set elevenlabs_api_key and elevenlabs_voice_id first (or in the same change)
settings-error-nothing = nothing to change: give key=value
settings-error-pattern_syntax = { $setting }: «{ $value }» is not a regular expression ({ $reason })
settings-error-pattern_groups = { $setting }: the pattern needs exactly one group in parentheses, the code — «{ $value }» has { $groups }
settings-error-pattern_nested = { $setting }: «{ $value }» repeats something that itself repeats or branches, such as (a+)+ — on some messages it would never finish; write it without

## Working hours as people read them
settings-day-mon = mon
settings-day-tue = tue
settings-day-wed = wed
settings-day-thu = thu
settings-day-fri = fri
settings-day-sat = sat
settings-day-sun = sun
settings-day-daily = daily
settings-day-closed = closed

## salesop settings
settings-cli-help = show and change a tenant's settings
settings-cli-tenant = tenant slug
settings-cli-show = every setting with its current value
settings-cli-json = print JSON
settings-cli-set = change settings: key=value …, all or nothing
settings-cli-pairs = one or more key=value
settings-cli-keys = Settings and what they accept:
settings-cli-formats =
    Text forms: lists are comma-separated ("intents_autosend=greeting, shipping"; empty or - is an empty list);
    an empty value or - clears a setting that may be empty; thresholds take 0.85, 0,85 or 85%.
    working_hours: entries separated by commas, each "DAYS HOURS": days are mon tue wed thu fri sat sun
    (or пн вт ср чт пт сб вс), a range mon-fri, several days "sat sun", or daily; hours are HH:MM-HH:MM
    (an end before the start runs past midnight: 18:00-02:00) or closed. Days not named are closed and a later
    entry overrides an earlier one; a bare 09:00-21:00 means every day.
    Example: salesop settings set --tenant shop "working_hours=mon-fri 09:00-21:00, sat 10:00-18:00, sun closed" t_auto=0.9
settings-cli-changed = { $setting }: { $old } → { $new }
settings-cli-unchanged = nothing changed: the settings already have these values

## The bot's /settings panel
settings-panel-title = ⚙️ Settings · { $tenant }
settings-panel-autosend = 🤖 AI sends replies on its own: { $state }
settings-panel-thresholds = 🎯 Sends on its own from confidence { $auto }, hands the dialog to a person below { $escalate }
settings-panel-hours = 🕘 Working hours ({ $timezone }): { $hours }
settings-panel-night = 🌙 Outside working hours: { $mode }
settings-panel-escalation_here = 🆘 Escalations come to this chat
settings-panel-escalation_elsewhere = 🆘 Escalations go to another chat
settings-panel-escalation_none = 🆘 No chat receives escalations
settings-panel-reports = 📊 Morning and evening reports in this chat: { $state }
settings-panel-more = Every other setting: salesop settings show --tenant { $slug }
settings-state-on = on
settings-state-off = off
settings-night-auto_reply = the night auto-reply, AI replies as usual
settings-night-delay = AI replies with a longer delay
settings-night-disable = no automatic replies
settings-btn-autosend_on = 🤖 Let AI send on its own
settings-btn-autosend_off = 🤖 Stop AI sending on its own
settings-btn-thresholds = { $auto } / { $escalate }
settings-btn-hours-daily = 09–21 every day
settings-btn-hours-weekdays = Mon–Fri 09–18
settings-btn-hours_text = ✏️ Other hours…
settings-btn-night-auto_reply = 💬 Night reply
settings-btn-night-delay = ⏳ Later
settings-btn-night-disable = ⛔️ Off
settings-btn-escalation_on = 🆘 Escalations here
settings-btn-escalation_off = 🆘 No escalations here
settings-btn-reports_on = 📊 Reports here
settings-btn-reports_off = 📊 No reports here
settings-btn-cancel = ✖️ Cancel
settings-hours-prompt =
    🕘 Send the working hours as your next message, for example:
    mon-fri 09:00-21:00, sat 10:00-18:00, sun closed
    Days: mon … sun, a range such as mon-fri, or daily; "closed" for a day off; days not named are closed. Times are in { $timezone }.
settings-hours-saved = ✅ Working hours: { $hours }
settings-saved = ✅ Saved
settings-choose_tenant = Settings of which business?
settings-refused = Only owners and administrators change the settings.
settings-not_staff = You are not staff of a business here.
