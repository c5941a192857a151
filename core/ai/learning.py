"""Learning from what people did: every Send / Edit / Reject / Escalate is a training sample, and so is a manager's
own reply in a dialog in learning mode, paired with the draft the AI kept silently; a dialog that ends in
a sale turns its approved and edited replies (and the managers' own replies) into few-shot examples; a learning
queue ranks the dialogs worth a review; samples export as JSONL in the chat fine-tuning format.

Few-shot similarity uses the local embedder on both sides (sample and query), so it costs nothing, needs no key
and never goes stale when the tenant switches providers.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TextIO

from sqlalchemy import and_, bindparam, case, exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..models import (
    AIMode,
    AuthorKind,
    Dialog,
    Direction,
    Escalation,
    Message,
    Outcome,
    Suggestion,
    SuggestionState,
    Tenant,
    TrainingAction,
    TrainingSample,
)
from .embedding import embed_one
from .intents import classify_local
from .prompting import render
from .retrieval import statement_connection
from .textutil import words

FEW_SHOT_LIMIT = 3
APPROVED_ACTIONS = (TrainingAction.SENT, TrainingAction.EDITED)


def similarity(draft: str | None, final: str | None) -> float | None:
    if not draft or not final:
        return None
    return round(difflib.SequenceMatcher(None, draft.strip(), final.strip()).ratio(), 4)


async def _customer_text(session: AsyncSession, suggestion: Suggestion) -> str:
    burst = (suggestion.inputs or {}).get("customer_text")
    if burst:
        return burst
    message = await session.get(Message, suggestion.message_id)
    return message.text if message is not None else ""


async def record_sample(session: AsyncSession, suggestion: Suggestion, action: TrainingAction | str,
                        final_text: str | None) -> TrainingSample:
    """Call on every Send (final = draft), Edit (final = what was sent), Reject (final None) and Escalate.

    One sample per suggestion: a later action on the same suggestion updates it. If the dialog is already won,
    an approved reply becomes a few-shot example at once."""
    action = TrainingAction(action)
    dialog = await session.get(Dialog, suggestion.dialog_id)
    tenant = await session.get(Tenant, suggestion.tenant_id)
    customer_text = await _customer_text(session, suggestion)
    sample = (await session.execute(
        select(TrainingSample).where(TrainingSample.suggestion_id == suggestion.id)
    )).scalar_one_or_none()
    if sample is None:
        sample = TrainingSample(tenant_id=suggestion.tenant_id, dialog_id=suggestion.dialog_id,
                                suggestion_id=suggestion.id)
        session.add(sample)
    sample.customer_message = customer_text
    sample.draft = suggestion.text or None
    sample.final = final_text if action in APPROVED_ACTIONS else None
    sample.intent = suggestion.intent
    sample.action = action
    sample.outcome = dialog.outcome if dialog is not None else None
    sample.similarity = similarity(suggestion.text, final_text) if action in APPROVED_ACTIONS else None
    sample.embedding = embed_one(customer_text)
    sample.few_shot = bool(
        action in APPROVED_ACTIONS and sample.final and dialog is not None and dialog.outcome == Outcome.WON
        and suggestion.intent not in (tenant.intents_no_learning or [])
    )
    await session.flush()
    return sample


async def compare_with_manager_reply(session: AsyncSession, dialog_id: int, text: str, *,
                                     staff_id: int | None = None, now: datetime | None = None) -> TrainingSample | None:
    """Learning mode: the AI's drafts are kept silently (no card, never sent). When a manager answers the dialog with
    their own reply, the latest silent draft still pending is compared with it: the draft/reply pair and its
    similarity become a training sample (EDITED, or SENT when the manager wrote the draft word for word), which
    the learning queue counts (edits, low similarity) and a won dialog turns into a few-shot example. Returns the
    sample, or None when there was no silent draft to compare (or the reply has no text)."""
    if not (text or "").strip():
        return None
    suggestion = (await session.execute(
        select(Suggestion)
        .where(Suggestion.dialog_id == dialog_id, Suggestion.state == SuggestionState.PENDING,
               Suggestion.inputs["dialog_mode"].astext == AIMode.LEARNING.value)
        .order_by(Suggestion.id.desc()).limit(1)
        .with_for_update()
    )).scalar_one_or_none()
    if suggestion is None:
        return None
    text = text.strip()
    same = words(suggestion.text or "") == words(text)
    action = TrainingAction.SENT if same else TrainingAction.EDITED
    suggestion.state = SuggestionState.SENT if same else SuggestionState.EDITED
    suggestion.final_text = text
    suggestion.decided_by_id = staff_id
    suggestion.decided_at = now or datetime.now(UTC)
    sample = await record_sample(session, suggestion, action, text)
    events.record(session, "learning_compared", tenant_id=suggestion.tenant_id, dialog_id=dialog_id,
                  actor_staff_id=staff_id, suggestion_id=suggestion.id, sample_id=sample.id,
                  similarity=sample.similarity, action=action.value)
    return sample


async def _manual_reply_samples(session: AsyncSession, dialog: Dialog, tenant: Tenant) -> int:
    """Managers' own replies in a won dialog (typed, not from a suggestion) are examples too: each outgoing
    manager message answers the customer messages right before it."""
    messages = list((await session.execute(
        select(Message).where(Message.dialog_id == dialog.id, Message.deleted_at.is_(None))
        .order_by(Message.sent_at, Message.id)
    )).scalars())
    existing_finals = set((await session.execute(
        select(TrainingSample.final).where(TrainingSample.dialog_id == dialog.id, TrainingSample.final.is_not(None))
    )).scalars())
    created = 0
    pending_customer: list[str] = []
    for message in messages:
        if message.direction == Direction.IN:
            if message.text.strip():
                pending_customer.append(message.text.strip())
            continue
        if message.author_kind != AuthorKind.MANAGER or not message.text.strip() or not pending_customer:
            pending_customer = []
            continue
        if message.text in existing_finals:
            pending_customer = []
            continue
        customer_text = "\n".join(pending_customer[-3:])
        intent = classify_local(customer_text).intent
        session.add(TrainingSample(
            tenant_id=dialog.tenant_id, dialog_id=dialog.id, customer_message=customer_text, draft=None,
            final=message.text, intent=intent, action=TrainingAction.SENT, outcome=Outcome.WON,
            few_shot=intent not in (tenant.intents_no_learning or []), embedding=embed_one(customer_text),
        ))
        existing_finals.add(message.text)
        created += 1
        pending_customer = []
    return created


async def on_dialog_outcome(session: AsyncSession, dialog_id: int) -> int:
    """Call after a dialog is marked won or lost (or the mark is removed). Won: its approved and edited replies,
    and the managers' own replies, become few-shot candidates. Lost: samples keep the outcome for analysis and
    are never examples. Returns the number of few-shot candidates the dialog now has."""
    dialog = await session.get(Dialog, dialog_id)
    if dialog is None:
        return 0
    tenant = await session.get(Tenant, dialog.tenant_id)
    excluded = list(tenant.intents_no_learning or [])
    await session.execute(
        update(TrainingSample).where(TrainingSample.dialog_id == dialog_id)
        .values(outcome=dialog.outcome, few_shot=False)
    )
    if dialog.outcome != Outcome.WON:
        return 0
    await _manual_reply_samples(session, dialog, tenant)
    await session.flush()
    condition = and_(
        TrainingSample.dialog_id == dialog_id,
        TrainingSample.action.in_(APPROVED_ACTIONS),
        TrainingSample.final.is_not(None),
        TrainingSample.final != "",
    )
    if excluded:
        condition = and_(condition, TrainingSample.intent.not_in(excluded))
    result = await session.execute(
        update(TrainingSample).where(condition).values(few_shot=True).returning(TrainingSample.id)
    )
    return len(result.all())


BACKFILL_BATCH = 200


async def _backfill_embeddings(session: AsyncSession, tenant_id: int, intent: str) -> None:
    """Few-shot candidates written without a vector (samples stored by other code paths) get one here, so
    similarity can rank them; the local embedder makes it in microseconds."""
    missing = list((await session.execute(
        select(TrainingSample)
        .where(TrainingSample.tenant_id == tenant_id, TrainingSample.few_shot, TrainingSample.intent == intent,
               TrainingSample.embedding.is_(None))
        .limit(BACKFILL_BATCH)
    )).scalars())
    for sample in missing:
        sample.embedding = embed_one(sample.customer_message or "")
    if missing:
        await session.flush()


@dataclass(frozen=True)
class FewShot:
    sample_id: int
    customer: str
    reply: str
    intent: str
    distance: float


@lru_cache(maxsize=1)
def _few_shot_statement():
    """few_shot_examples' statement, built once (bind parameters tenant_id, intent, vector, limit): building it for
    every customer message cost more than PostgreSQL's work on it."""
    distance = TrainingSample.embedding.cosine_distance(bindparam("vector", type_=TrainingSample.embedding.type))
    candidates = (TrainingSample.tenant_id == bindparam("tenant_id"), TrainingSample.few_shot,
                  TrainingSample.intent == bindparam("intent"))
    ranked = (
        select(TrainingSample.id, TrainingSample.customer_message, TrainingSample.final, TrainingSample.intent,
               distance.label("distance"))
        .where(*candidates, TrainingSample.embedding.is_not(None))
        .order_by(distance, TrainingSample.id.desc())
        .limit(bindparam("limit"))
    ).subquery("ranked")
    # Always one row at least: the flag, with the ranked candidates (if any) joined to it.
    flag = select(exists().where(*candidates, TrainingSample.embedding.is_(None)).label("unembedded")) \
        .subquery("flag")
    return (
        select(flag.c.unembedded, ranked).select_from(flag).outerjoin(ranked, true())
        .order_by(ranked.c.distance, ranked.c.id.desc())
    )


async def few_shot_examples(session: AsyncSession, tenant_id: int, intent: str, customer_text: str,
                            *, limit: int = FEW_SHOT_LIMIT) -> list[FewShot]:
    """Approved or edited replies from won dialogs with the same intent, most similar customer message first.
    One round trip as a rule: the same statement tells whether a candidate still lacks a vector, and only then are
    the missing vectors made and the ranking read again."""
    params = {"tenant_id": tenant_id, "intent": intent, "vector": embed_one(customer_text), "limit": limit}
    for attempt in range(2):
        rows = (await (await statement_connection(session)).execute(_few_shot_statement(), params)).all()
        if attempt or not rows[0].unembedded:
            break
        await _backfill_embeddings(session, tenant_id, intent)
    return [FewShot(r.id, r.customer_message, r.final, r.intent, float(r.distance)) for r in rows
            if r.id is not None]


# -------------------------------------------------------------------------------------------- learning queue

@dataclass(frozen=True)
class ReviewItem:
    dialog_id: int
    score: float
    edits: int
    rejections: int
    escalations: int
    low_similarity: int
    messages: int
    outcome: str | None

    def as_dict(self) -> dict:
        return {"dialog_id": self.dialog_id, "score": self.score, "edits": self.edits,
                "rejections": self.rejections, "escalations": self.escalations,
                "low_similarity": self.low_similarity, "messages": self.messages, "outcome": self.outcome}


LOW_SIMILARITY = 0.6
LONG_DIALOG = 40


async def learning_queue(session: AsyncSession, tenant_id: int, *, limit: int = 20) -> list[ReviewItem]:
    """Dialogs worth a human review, most instructive first: many edits, rejections, escalations, drafts that
    managers rewrote heavily (low draft/final similarity), long dialogs."""
    samples = (
        select(
            TrainingSample.dialog_id.label("dialog_id"),
            func.count().filter(TrainingSample.action == TrainingAction.EDITED).label("edits"),
            func.count().filter(TrainingSample.action == TrainingAction.REJECTED).label("rejections"),
            func.count().filter(TrainingSample.similarity < LOW_SIMILARITY).label("low_similarity"),
        )
        .where(TrainingSample.tenant_id == tenant_id)
        .group_by(TrainingSample.dialog_id)
        .subquery()
    )
    escalations = (
        select(Escalation.dialog_id.label("dialog_id"), func.count().label("escalations"))
        .where(Escalation.tenant_id == tenant_id)
        .group_by(Escalation.dialog_id)
        .subquery()
    )
    edits = func.coalesce(samples.c.edits, 0)
    rejections = func.coalesce(samples.c.rejections, 0)
    low = func.coalesce(samples.c.low_similarity, 0)
    escalated = func.coalesce(escalations.c.escalations, 0)
    long_bonus = case((Dialog.message_count >= LONG_DIALOG, 1.0), else_=0.0)
    score = (edits * 1.0 + rejections * 2.0 + escalated * 3.0 + low * 1.5 + long_bonus).label("score")
    rows = (await session.execute(
        select(Dialog.id, score, edits, rejections, escalated, low, Dialog.message_count, Dialog.outcome)
        .outerjoin(samples, samples.c.dialog_id == Dialog.id)
        .outerjoin(escalations, escalations.c.dialog_id == Dialog.id)
        .where(Dialog.tenant_id == tenant_id)
        .where((samples.c.dialog_id.is_not(None)) | (escalations.c.dialog_id.is_not(None))
               | (Dialog.message_count >= LONG_DIALOG))
        .order_by(score.desc(), Dialog.id)
        .limit(limit)
    )).all()
    return [
        ReviewItem(dialog_id=r[0], score=float(r[1]), edits=r[2], rejections=r[3], escalations=r[4],
                   low_similarity=r[5], messages=r[6], outcome=r[7].value if r[7] else None)
        for r in rows
        if float(r[1]) > 0
    ]


# ------------------------------------------------------------------------------------------------- export

async def export_jsonl(session: AsyncSession, tenant: Tenant, out: TextIO, *, only_won: bool = False) -> int:
    """Approved and edited replies as chat fine-tuning lines:
    {"messages": [{"role": "system", ...}, {"role": "user", ...}, {"role": "assistant", ...}]}."""
    system = render("finetune_system.j2", tenant=tenant)
    query = (
        select(TrainingSample)
        .where(TrainingSample.tenant_id == tenant.id, TrainingSample.action.in_(APPROVED_ACTIONS),
               TrainingSample.final.is_not(None), TrainingSample.final != "")
        .order_by(TrainingSample.id)
    )
    excluded = list(tenant.intents_no_learning or [])
    if excluded:
        query = query.where(TrainingSample.intent.not_in(excluded))
    if only_won:
        query = query.where(TrainingSample.outcome == Outcome.WON)
    count = 0
    for sample in (await session.execute(query)).scalars():
        if not sample.customer_message.strip():
            continue
        line = {"messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": sample.customer_message},
            {"role": "assistant", "content": sample.final},
        ]}
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count
