# Status reports in chats (core/services/reports.py, core/reports/templates), /report and `salesop report preview`.

report-morning-title = ☀️ Morning report · { $tenant } · { $date }
report-evening-title = 🌙 Evening report · { $tenant } · { $date }
report-late = ⏰ Late: the { $scheduled } report went out at { $posted } — the service was down.
report-section-yesterday = Yesterday, { $date }
report-section-today = Today until { $time }
report-dialogs = New dialogs: { $new } · active: { $active } · answered: { $answered }
report-first_response = First response: median { $median }, 90% within { $p90 }
report-first_response-split = AI: { $ai } · managers: { $managers }
report-first_response-none = First response: no new dialog was answered
report-first_response-unanswered = New without an answer: { $count }
report-outcomes = Deals: { $won } won, { $lost } lost
report-revenue = Revenue: { $amount } { $currency }
report-lost_reasons = Why deals were lost: { $list }
report-no_reason = no reason given
report-spend = AI spend: ${ $cost } ({ $calls ->
    [one] { $calls } call
   *[other] { $calls } calls
})
report-ai_share = AI drafts: { $drafts } · sent to customers { $sent } (alone { $auto }, as drafted { $approved }, edited { $edited }) · rejected { $rejected }
report-intents = Top topics: { $list }
report-waiting-title = ⏳ Waiting for an answer: { $count }
report-unanswered-title = ⏳ Left unanswered: { $count }
report-waiting-none = ✅ Every customer has an answer
report-waiting-since = waiting since { $since }, { $count ->
    [one] { $count } message
   *[other] { $count } messages
}
report-more = …and { $count } more
report-escalations-title = ❗ Escalations waiting for a decision: { $count }
report-escalation-since = since { $since }
report-problems-title = ⚠️ Channel and group problems
report-problem-channel = { $channel }: { $fix }
report-problem-group = Group “{ $title }”: { $fix }
report-fix-channel_wait = connecting or waiting out the platform's pause
report-fix-channel_captcha = the platform asks for a captcha — reconnect it
report-fix-channel_reconnect = token revoked or session no longer valid — reconnect it
report-fix-channel_enable = the channel is switched off
report-fix-import_resume = the history import stopped — resume it
report-fix-readd_bot = the bot was removed from the group — add it again
report-fix-enable_topics = topics are off in the group
report-fix-grant_rights = the bot lacks administrator rights: { $rights }
report-fix-other = needs attention
report-duration-seconds = { $count } s
report-duration-minutes = { $count } min
report-duration-hours = { $hours } h { $minutes } min
report-chart-day = 📊 New and answered dialogs by day
report-chart-hour = 📊 New and answered dialogs by hour
report-chart-new = New dialogs
report-chart-answered = Answered
report-cmd = a report in this chat: /report morning or /report evening
report-refused = Reports are for the staff of this business.
report-bad_slot = Which report? /report morning (yesterday) or /report evening (today).
report-cli-bad_date = the date must be YYYY-MM-DD: { $value }
report-cli-chart = Chart: { $path }
report-cli-help = status reports
report-cli-help_preview = print a morning or evening report without posting it
report-cli-help_slot = which report: morning (yesterday) or evening (today)
report-cli-help_date = the report's date in the business's time zone (default: today)
report-cli-help_json = print the figures the report is made from (JSON)
report-cli-help_chart = write the report's chart to this PNG file
