"""The whole data model. Import from here: `from core.models import Dialog, Message`."""

from .ai import AIUsage, Escalation, Suggestion, TrainingSample
from .base import Base
from .campaigns import CampaignInviteLink, CampaignJoin
from .channels import ChannelAccount, ImportRun
from .dashboard import (  # noqa: F401 (migration 0015's rollup)
    DashboardActivity,
    DashboardDialogCounts,
    DashboardFirstResponse,
    DashboardSpend,
    DashboardSpendRolled,
)
from .dialogs import (
    Attachment,
    Customer,
    CustomerIdentity,
    Dialog,
    DialogTopic,
    MediaItem,
    Message,
    MessageEdit,
    TopicMessage,
    TrafficTouch,
)
from .enums import *  # noqa: F401,F403
from .knowledge import EMBEDDING_DIM, KnowledgeChunk, KnowledgeDocument, Product
from .media import MediaChannelRef, QuickReply  # noqa: F401 (the media library's quick replies)
from .outbox import Event, OutboxCommand, ProcessedUpdate, ReportRun
from .reliability import ChannelLease, FollowUp, FollowUpState
from .tenants import Invitation, ManagerGroup, Role, StaffMember, Tenant

__all__ = [
    "AIUsage", "Attachment", "Base", "CampaignInviteLink", "CampaignJoin", "ChannelAccount", "Customer",
    "CustomerIdentity", "Dialog", "DialogTopic",
    "EMBEDDING_DIM", "Escalation", "Event", "ImportRun", "Invitation", "KnowledgeChunk", "KnowledgeDocument",
    "ManagerGroup", "MediaItem", "Message", "MessageEdit", "OutboxCommand", "ProcessedUpdate", "Product",
    "ReportRun", "Role", "StaffMember", "Suggestion", "TopicMessage", "TrafficTouch", "TrainingSample", "Tenant",
    "ChannelLease", "FollowUp", "FollowUpState",
]
