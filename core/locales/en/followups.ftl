# Follow-up work (core.followups): mirroring, drafts, memory… that failed every attempt, as /status shows it.
followups-status-failed = { $count ->
    [one] { $count } follow-up failed every attempt ({ $kinds }). The latest error: { $error }
   *[other] { $count } follow-ups failed every attempt ({ $kinds }). The latest error: { $error }
}
followups-status-fix = fix the cause the error names (the log has the details), then restart salesop: failed follow-ups are tried again at start
followups-kind-mirror_message = showing a message in its topic
followups-kind-mirror_edit = showing an edit in its topic
followups-kind-refresh_cards = updating reply cards
followups-kind-suggest_reply = drafting a reply
followups-kind-post_suggestion_card = posting a reply card
followups-kind-refresh_customer_memory = refreshing a customer's memory
followups-kind-reembed_stale = re-indexing the knowledge base
followups-kind-transcribe_voice = transcribing a voice message
