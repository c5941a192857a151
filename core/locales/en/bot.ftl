# The manager bot: topics, cards, notices, buttons (bot/). Keys are written with dots in code: card.tags → card-tags.

## Topic title markers: the status board of dialogs.
marker-new = 🆕
marker-unread = 💬
marker-waiting = ⏳
marker-answered = ✅
marker-escalated = ❗️
marker-won = 🏆
marker-lost = 💔
marker-blocked = 🚫
marker-closed = 💤

## The pinned card of a dialog's topic.
card-channel-telegram_account = Telegram
card-channel-vk_community = VK (community)
card-channel-vk_user = VK (account)
card-tags = 🏷 { $tags }
card-notes = 📝 Notes:
card-status = Status: { $status } · AI: { $ai_mode }
card-assignee = Assignee: { $name }
card-no_assignee = Assignee: none
card-won = 🏆 Deal: won{ $amount }
card-lost = 💔 Deal: lost{ $reason }
card-blocked = 🚫 The customer blocked the conversation
card-traffic = 📈 Source: { $source }
card-summary = Summary: { $summary }
card-history = Latest messages:
card-history_in = 👤 { $text }
card-history_out = ↩️ { $text }
card-open_history = 📜 History in the Mini App

## A dialog's status and AI mode, as the card and its buttons name them.
dialog-status-active = active
dialog-status-waiting = waiting for the customer
dialog-status-escalated = escalated
dialog-status-resolved = closed
dialog-status-inactive = inactive

dialog-ai-off = off
dialog-ai-learning = learning
dialog-ai-semi_auto = semi-auto
dialog-ai-auto = auto

## Inline buttons of the cards.
btn-ai = AI: { $mode }
btn-assign_me = 🙋 Take it
btn-won = 🏆 Won
btn-lost = 💔 Lost
btn-close = 💤 Close
btn-reopen = ↩️ Reopen
btn-send = ✅ Send
btn-edit = ✏️ Edit
btn-reject = ❌ Reject
btn-escalate = 🆘 Escalate
btn-send_anyway = ✅ Send it anyway

## The reply card: an AI draft and what became of it.
reply-title = 💡 <b>Draft reply</b>
reply-title_auto = 🤖 <b>AI reply — goes out automatically</b>
reply-title_escalate = ❗️ <b>The AI suggests handing the dialog to a person</b>
reply-meta = Intent: { $intent } · confidence { $confidence }%
reply-reason = Why: { $reason }
reply-sources = Sources: { $sources }
reply-ai_failed = ⚠️ The AI could not prepare a reply: { $reason }
reply-sent = ✅ Sent · { $who } · { $at }
reply-sent_auto = 🤖 Sent automatically · { $at }
reply-edited = ✏️ Sent with an edit · { $who } · { $at }
reply-delivering = ⏳ Sending…
reply-delivered = delivered
reply-failed = ❌ Not delivered: { $reason }
reply-rejected = ❌ Rejected · { $who } · { $at }
reply-rejected_reason = Reason: { $reason }
reply-ask_reason = Why rejected? (optional)
reply-escalated = 🆘 Handed to a senior · { $who } · { $at }
reply-outdated = ⌛ Outdated: the customer wrote again
reply-auto_cancelled = ⌛ Automatic reply cancelled: a manager answered
reply-final = Final text:
# A person answered while the draft waited: who ($who: a name, or reply-own_account) and when; their text follows.
reply-outdated_answered = ⌛ Not sent: the customer was answered · { $who } · { $at }
reply-auto_cancelled_answered = ⏹ Automatic reply cancelled: the customer was answered · { $who } · { $at }
reply-own_account = the shop's account, { $channel }
reply-answer_media = 📎 with an attachment
# Send pressed on such a draft: a prompt under the card, and a second tap.
reply-confirm = ⚠️ The customer has already been answered · { $who } · { $at }:
reply-confirm_ask = Send the AI draft as well, on top of that answer?
reply-confirmed = ✅ The draft was sent as well · { $who } · { $at }
reply-confirm_closed = The draft was not sent.

## Why a manager rejected a draft.
reject-wrong = Wrong in substance
reject-tone = Wrong tone
reject-offtopic = Off topic
reject-other = Other

## What a customer's message is about (the card's "intent").

## Customer messages mirrored into the topic.
mirror-out = ↗️ Reply from the app: { $text }
mirror-deleted = 🗑 (message deleted)
mirror-attachment_missing = 📎 { $kind }{ $name } — file unavailable{ $error }
mirror-edit =
    ✏️ The customer edited a message:
    <s>{ $old }</s>
    { $new }
mirror-delete = 🗑 The customer deleted a message{ $old }

## Attachment kinds.
kind-photo = Photo
kind-document = Document
kind-voice = Voice message
kind-audio = Audio
kind-video = Video
kind-video_note = Video message
kind-sticker = Sticker
kind-other = Attachment

## Notices the bot posts in a topic or group.
notice-group_ready = ✅ The group is connected. Each customer dialog will be a topic of its own here.
notice-group_missing = ⚠️ The group is connected, but it lacks: { $missing }. Topics will not work without it.
notice-delivery_failed = ❌ Not delivered to the customer: { $reason_text }
notice-refusal = ⛔️ { $text }
notice-not_staff = ⛔️ You are not staff of this business — messages from here do not reach the customer.
notice-edit_failed = ❌ The edit did not reach the customer, who still sees the old text: { $reason_text }
notice-edit_parts_more = ⚠️ The new text did not fit: the reply went out as { $existing ->
        [one] { $existing } message
       *[other] { $existing } messages
    } and needs { $needed }. Those were corrected, the end did not arrive — send it separately.
notice-edit_parts_fewer = ⚠️ The new text is shorter: it fills { $needed } of the { $existing ->
        [one] { $existing } message
       *[other] { $existing } messages
    } sent, the customer sees the others unchanged.
notice-edit_text_missing = ⚠️ Only the file went to the customer, without a text, and a text cannot be added to it. Send the text as a message of its own.
notice-reply_deleted = 🗑 Deleted for the customer.
notice-reply_cancelled = 🗑 Cancelled: it had not reached the customer yet.
notice-delete_failed = ❌ Could not delete it for the customer: { $reason_text }

## What a manager group lacks (notice-group_missing).
missing-topics = turn on topics (forum) in the group settings
missing-can_manage_topics = the “Manage topics” right
missing-can_pin_messages = the “Pin messages” right
missing-can_delete_messages = the “Delete messages” right
missing-can_restrict_members = the “Ban users” right
missing-rights = administrator rights
missing-not_forum = topics mode

## Why a delivery, edit or deletion failed.
reason-blocked = the customer blocked the conversation
reason-forbidden = no access to the customer's chat
reason-error = channel error
reason-bad_request = the channel refused the message
reason-no_gateway = the customer's channel is not connected
reason-transient = the channel is unavailable
reason-too_old = too late (VK allows edits and deletions for 24 hours)
reason-gone = the customer no longer has this message
reason-unknown_peer = the channel does not know this customer
reason-revoked = access to the channel was revoked — connect it again
reason-unsupported = this channel cannot edit or delete messages

## /inbox: dialogs waiting for a reply.
inbox-title = 📥 <b>Waiting for a reply: { $count ->
        [one] { $count } customer
       *[other] { $count } customers
    }</b>
inbox-item = { $n }. { $name } · { $unread } unread · since { $since }
inbox-empty = 📥 Every customer has an answer 🎉

## A dialog handed to a senior (the escalation chat).
escalation-title = 🆘 <b>Escalation: { $customer }</b>
escalation-reason = Reason: { $reason }
escalation-summary = Summary: { $summary }
escalation-proposed = Proposed reply: { $text }
escalation-clarify = To clarify: { $text }
escalation-by = Handed over by: { $who }
escalation-by_ai = Handed over by: AI
escalation-open = Open the dialog
escalation-reason-manager = a manager's decision

## Callback toasts.
ok-sending = Sending to the customer…
ok-confirm_below = The customer has already been answered: see the answer under the card and confirm there if the draft should go as well.
ok-rejected = Rejected
ok-reason = Reason saved
ok-escalated = Handed to a senior
ok-edit_hint = Reply to this card with the corrected text — it goes to the customer.
ok-ai_mode = AI mode: { $mode }
ok-assigned = Assignee: { $name }
ok-won = Marked as won
ok-lost = Marked as lost
ok-closed = Dialog closed
ok-reopened = Dialog reopened

## Refusals: core.services.workspace.WorkspaceError codes, and core errors without a text of their own.
error-not_staff = You are not staff of this business — not allowed.
error-no_permission = Your role does not allow this.
error-card_unknown = Card not found.
error-card_outdated = This draft is outdated: the customer wrote again. Wait for the new one.
error-card_done = This card has been handled already.
error-card_answered = The customer was answered meanwhile: press Send on the card to see that answer and confirm.
error-empty_text = The text is empty — nothing to send.
error-note_empty = Write the note's text: /note text
error-not_a_dialog_topic = This works only in a dialog's topic.
error-dialog_unknown = Dialog not found.
error-bad_ai_mode = AI modes: /ai off | learning | semi | auto
error-staff_unknown = Staff member { $who } not found.
error-bad_amount = The amount must be a number: /won 15000
error-bad_reason = Unknown reason.
error-connect_not_owner = Only an owner or an admin of the business can connect a group.
error-connect_choose_tenant = You manage several businesses: /connect <code> ({ $slugs })
error-connect_taken = This group is connected to another business already.
error-remove_self = You cannot remove yourself.
error-edit_empty = An edit cannot leave the reply empty. To take it back, reply /delete to it.
error-reply_taken_back = This reply was deleted for the customer — write a new one.
error-reply_not_delivered = This message did not reach the customer — nothing to correct or delete there.
error-delete_needs_reply = Reply /delete to your message that went to the customer.
error-delete_not_a_reply = This message never went to a customer — nothing to delete there.
error-delete_not_yours = Only its author can take a reply back.
error-reply_already_deleted = This message has been deleted for the customer already.
error-unknown_group = This group is not connected. Owner: /connect
error-generic = That did not work: { $message }
