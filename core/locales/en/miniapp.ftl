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

## Periods and filters of the report pages

miniapp-period-today = Today
miniapp-period-days7 = 7 days
miniapp-period-days30 = 30 days
miniapp-period-custom = Custom
miniapp-period-from = From
miniapp-period-to = To
miniapp-period-note = “7 days” and “30 days” are the last 7 or 30 × 24 hours up to now (as salesop spend --days); “Custom” is whole days in the shop's time zone.
miniapp-period-bad_dates = A custom period needs both dates.
miniapp-period-bad_range = The period must end after it starts and span at most a year.
miniapp-period-unknown = No such period: today, 7 days, 30 days or custom.
miniapp-filter-unknown = No such channel, person or group in this business.

## Dashboard

miniapp-dashboard-title = Dashboard
miniapp-dashboard-filter-channel = Channel
miniapp-dashboard-filter-manager = Manager
miniapp-dashboard-filter-group = Group
miniapp-dashboard-filter-all = All
miniapp-dashboard-tile-new = New dialogs
miniapp-dashboard-tile-active = Active
miniapp-dashboard-tile-waiting = Waiting for an answer now
miniapp-dashboard-tile-escalated = Escalated
miniapp-dashboard-tile-resolved = Closed
miniapp-dashboard-tile-inactive = Blocked us
miniapp-dashboard-tile-frt = First response, median (min)
miniapp-dashboard-tile-won = Won
miniapp-dashboard-tile-lost = Lost
miniapp-dashboard-tile-conversion = Conversion, %
miniapp-dashboard-tile-revenue = Revenue, { $currency }
miniapp-dashboard-tile-csat = Customer rating (CSAT)
miniapp-dashboard-tile-spend = AI spend, $
miniapp-dashboard-metric-answered = Answered
miniapp-dashboard-col-metric = Figure
miniapp-dashboard-col-count = Count
miniapp-dashboard-col-day = Day
miniapp-dashboard-col-who = Who answered
miniapp-dashboard-col-answered = Answers
miniapp-dashboard-col-median = Median, min
miniapp-dashboard-col-p90 = 90th percentile, min
miniapp-dashboard-col-name = Who
miniapp-dashboard-col-conversion = Conversion, %
miniapp-dashboard-col-intent = Topic
miniapp-dashboard-col-reason = Reason
miniapp-dashboard-col-score = Score
miniapp-dashboard-chart-dialogs = Dialogs in the period
miniapp-dashboard-chart-new_by_day = New dialogs per day
miniapp-dashboard-chart-status = Where dialogs stand now
miniapp-dashboard-chart-first_response = First response time
miniapp-dashboard-chart-outcomes_channel = Won and lost by channel
miniapp-dashboard-chart-outcomes_manager = Won and lost by manager
miniapp-dashboard-chart-ai_share = What became of the AI's drafts (total: { $drafts })
miniapp-dashboard-chart-intents = What customers write about
miniapp-dashboard-chart-lost_reasons = Why deals were lost
miniapp-dashboard-chart-csat = Customer ratings (total: { $rated })
miniapp-dashboard-who-ai = AI
miniapp-dashboard-who-managers = Managers together
miniapp-dashboard-who-outside = Answered from the channel's app
miniapp-dashboard-who-nobody = Not recorded
miniapp-dashboard-ai-auto_sent = Sent on its own
miniapp-dashboard-ai-approved = Approved as drafted
miniapp-dashboard-ai-edited = Edited
miniapp-dashboard-ai-rejected = Rejected
miniapp-dashboard-ai-escalated = Escalated
miniapp-dashboard-ai-pending = Awaiting a decision
miniapp-dashboard-ai-outdated = Outdated
miniapp-dashboard-ai-failed = AI error
miniapp-dashboard-no_reason = No reason

## AI spend

miniapp-spend-title = AI spend
miniapp-spend-hidden = The role “{ $role }” does not show AI costs.
miniapp-spend-total = Total, to the cent
miniapp-spend-exact = Exact
miniapp-spend-calls = Calls
miniapp-spend-col-cost = Cost, $
miniapp-spend-col-calls = Calls
miniapp-spend-col-day = Day
miniapp-spend-col-model = Model
miniapp-spend-col-purpose = Purpose
miniapp-spend-col-dialog = Dialog
miniapp-spend-col-characters = Characters spoken
miniapp-spend-col-seconds = Seconds transcribed
miniapp-spend-purpose-suggest = Reply drafts
miniapp-spend-purpose-intent = Topic detection
miniapp-spend-purpose-embed = Knowledge base search
miniapp-spend-purpose-summary = Summaries
miniapp-spend-purpose-tts = Voice
miniapp-spend-purpose-other = Other
miniapp-spend-chart-by_day = By day
miniapp-spend-chart-by_model = By model
miniapp-spend-chart-by_purpose = By purpose
miniapp-spend-chart-by_dialog = The dearest dialogs
miniapp-spend-no_dialog = Outside dialogs (knowledge base, reports)

## Traffic

miniapp-traffic-title = Traffic
miniapp-traffic-touch = Touch
miniapp-traffic-touch_first = First
miniapp-traffic-touch_last = Last
miniapp-traffic-by = Group by
miniapp-traffic-by_source_campaign = Source and campaign
miniapp-traffic-by_utm = UTM: source, medium, campaign
miniapp-traffic-by_channel = Channel and source
miniapp-traffic-by_ref = Link code (ref)
miniapp-traffic-col-touch = From
miniapp-traffic-col-source = Source
miniapp-traffic-col-medium = Medium
miniapp-traffic-col-campaign = Campaign
miniapp-traffic-col-content = Ad
miniapp-traffic-col-term = Keyword
miniapp-traffic-col-ref = Link code
miniapp-traffic-col-channel = Channel
miniapp-traffic-col-dialogs = Dialogs
miniapp-traffic-col-won = Won
miniapp-traffic-col-lost = Lost
miniapp-traffic-col-conversion = Conversion, %
miniapp-traffic-col-revenue = Revenue, { $currency }
miniapp-traffic-revenue = Revenue
miniapp-traffic-unknown = Unknown (came on their own)
miniapp-traffic-chart-first = The period's dialogs by first touch
miniapp-traffic-chart-last = The period's dialogs by last touch
miniapp-traffic-campaigns = Campaign links
miniapp-traffic-campaigns_help = A bot link t.me/…?start=code records the touch for a Telegram customer; a vk.me/…?ref=code link for a VK one. Customers who came through a link appear in the report under the campaign's name.
miniapp-traffic-campaign_name = Name
miniapp-traffic-campaign_source = Source
miniapp-traffic-campaign_medium = Medium
miniapp-traffic-create = Create link
miniapp-traffic-no_campaigns = No campaign links yet.
miniapp-traffic-campaign_figures = customers: { $customers } · dialogs: { $dialogs } · won: { $won }
miniapp-traffic-copy = Copy
miniapp-traffic-bad_touch = The touch is first or last.
miniapp-traffic-bad_grouping = No such grouping.
miniapp-traffic-bad_name = Give the campaign a name (up to 100 characters).
miniapp-traffic-too_long = Source and medium are up to 100 characters.
miniapp-traffic-duplicate = A campaign “{ $name }” exists already.
miniapp-traffic-welcome = Hello! This is { $shop }. Write to us: { $link } — we answer right here in Telegram.
