"""The AI pipeline: grounded reply suggestions, intents, the decision engine, learning from won dialogs, and exact
spend accounting. Entry points other areas call:

- core.ai.pipeline.SuggestionPipeline.run(message_id) — the "suggest_reply" task (registered by core.ai.component)
- core.ai.pipeline.cancel_pending_autoreplies(session, dialog_id) — a manager answered: stop waiting auto-replies
- core.ai.learning.record_sample(session, suggestion, action, final_text) — on Send / Edit / Reject / Escalate
- core.ai.learning.on_dialog_outcome(session, dialog_id) — after won / lost is set (or cleared)
- core.ai.spend.spend_summary(session, tenant_id, since=, until=, by=("day", "purpose", "dialog"), timezone=)
- core.ai.spend.record_usage(session, price_table, Usage(...), tenant_id=, dialog_id=) — e.g. TTS characters
- core.ai.demo.load_demo_shop(session, tenant_id, embedder)
"""
