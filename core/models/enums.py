"""Every status and kind the product stores. Values are what SQL sees."""

from __future__ import annotations

import enum


class Tone(str, enum.Enum):
    FRIENDLY = "friendly"
    FORMAL = "formal"


class AddressForm(str, enum.Enum):
    VY = "vy"  # «вы»
    TY = "ty"  # «ты»


class DelayProfile(str, enum.Enum):
    OFF = "off"
    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"


class NightMode(str, enum.Enum):
    AUTO_REPLY = "auto_reply"
    DELAY = "delay"
    DISABLE = "disable"


class ChannelKind(str, enum.Enum):
    TELEGRAM_ACCOUNT = "telegram_account"
    VK_COMMUNITY = "vk_community"
    VK_USER = "vk_user"
    TELEGRAM_BUSINESS = "telegram_business"  # the shop's account connected to the bot (Telegram Business, Bot API 7.2+)


class ChannelStatus(str, enum.Enum):
    NEW = "new"
    CONNECTING = "connecting"
    ACTIVE = "active"
    FLOOD_WAIT = "flood_wait"
    CAPTCHA = "captcha"
    ERROR = "error"
    REVOKED = "revoked"
    DISABLED = "disabled"


class ImportStatus(str, enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"


class DialogStatus(str, enum.Enum):
    ACTIVE = "active"
    WAITING = "waiting"  # waiting for the customer
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    INACTIVE = "inactive"  # the customer blocked the business


class AIMode(str, enum.Enum):
    OFF = "off"
    LEARNING = "learning"  # suggestions are drafted and recorded, never shown as sendable automatically
    SEMI_AUTO = "semi_auto"  # suggestions need a manager's approval
    AUTO = "auto"  # safe suggestions are sent automatically


class Outcome(str, enum.Enum):
    WON = "won"
    LOST = "lost"


class Direction(str, enum.Enum):
    IN = "in"
    OUT = "out"


class AuthorKind(str, enum.Enum):
    CUSTOMER = "customer"
    MANAGER = "manager"
    AI = "ai"
    SYSTEM = "system"


class AttachmentKind(str, enum.Enum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    VIDEO_NOTE = "video_note"
    STICKER = "sticker"
    OTHER = "other"


class TopicMessageKind(str, enum.Enum):
    MIRROR = "mirror"  # a customer message copied into the topic
    PINNED_CARD = "pinned_card"
    REPLY_CARD = "reply_card"  # suggestion card with buttons
    MANAGER = "manager"  # a manager wrote in the topic
    NOTE = "note"
    SYSTEM = "system"


class DocType(str, enum.Enum):
    POLICY = "policy"
    FAQ = "faq"
    DELIVERY = "delivery"
    RETURNS = "returns"
    PAYMENT = "payment"
    SCRIPT = "script"
    OBJECTION = "objection"
    PRODUCT = "product"  # chunks generated from the catalog
    OTHER = "other"


class Intent(str, enum.Enum):
    """What a customer's message is about. Stored as plain strings (String(24)), so a tenant's own intents
    (Tenant.extra["intents"], see core.ai.intents) live beside these without a schema change."""

    PRICE = "price"
    AVAILABILITY = "availability"
    SHIPPING = "shipping"
    DELIVERY_TIME = "delivery_time"
    WARRANTY = "warranty"
    RETURN = "return"
    PAYMENT = "payment"
    DISCOUNT = "discount"
    ORDER_STATUS = "order_status"
    COMPLAINT = "complaint"
    PURCHASE = "purchase"  # ready to buy / placing an order
    HUMAN_REQUEST = "human_request"
    GREETING = "greeting"
    OTHER = "other"


class Decision(str, enum.Enum):
    AUTO_SEND = "auto_send"
    NEED_APPROVAL = "need_approval"
    ESCALATE = "escalate"


class SuggestionState(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"  # approved as is, or auto-sent
    EDITED = "edited"  # sent after a manager's edit
    REJECTED = "rejected"
    ESCALATED = "escalated"
    OUTDATED = "outdated"  # a newer customer message arrived
    FAILED = "failed"  # the AI was unavailable


class CommandState(str, enum.Enum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CommandOrigin(str, enum.Enum):
    AI = "ai"
    MANAGER = "manager"
    SYSTEM = "system"


class EscalationStatus(str, enum.Enum):
    PENDING = "pending"
    HANDLED = "handled"
    DISMISSED = "dismissed"


class TrainingAction(str, enum.Enum):
    SENT = "sent"
    EDITED = "edited"
    REJECTED = "rejected"
    ESCALATED = "escalated"


class ReportKind(str, enum.Enum):
    MORNING = "morning"
    EVENING = "evening"


class ReportStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class UsagePurpose(str, enum.Enum):
    SUGGEST = "suggest"
    INTENT = "intent"
    EMBED = "embed"
    SUMMARY = "summary"
    TTS = "tts"
    OTHER = "other"
